// `cpipe receipt verify` checks an AIR v1 receipt (draft-02, Cyntrisec, CC-BY-4.0) offline and
// reports every check under the spec's names and codes; the key comes from --public-key or
// from verified Nitro / SimNsm evidence whose user_data binds it (docs/receipts.md). `cpipe
// receipt issue` signs claims with a DEVELOPMENT-ONLY key given as a seed, for tests and demos.
// Exit 0 when the receipt verifies, 1 when it does not (or an input is unusable), 2 on usage.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "apps/cpipe/cli_args.h"
#include "apps/cpipe/command_registry.h"
#include "core/attest/nitro/nitro_document.h"
#include "core/attest/nitro/nitro_root.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/crypto/hash.h"
#include "core/receipt/air_issue.h"
#include "core/receipt/air_verify.h"
#include "core/receipt/key_binding.h"

namespace cpipe::cli {
namespace {

using nlohmann::ordered_json;
using receipt::AirClaims;
using receipt::VerifyReport;

// A receipt file: raw COSE bytes, hex text, or a golden-vector JSON (its receipt_hex).
Result<Bytes> receipt_bytes(const Bytes& file, nlohmann::json* vector) {
  std::string text = to_string(file);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.contains("receipt_hex") || !j["receipt_hex"].is_string()) {
      return make_error(ErrorCode::PARSE_ERROR, "JSON receipt file has no \"receipt_hex\" string");
    }
    *vector = j;
    return hex_arg(j["receipt_hex"].get<std::string>(), "receipt_hex");
  }
  size_t last = text.find_last_not_of(" \t\r\n");
  if (first != std::string::npos && text.find_first_not_of("0123456789abcdefABCDEF", first) > last) {
    return hex_arg(text.substr(first, last - first + 1), "receipt file");
  }
  return file;
}

struct VerifyOptions {
  std::string file;
  bool vector = false;
  std::string public_key, evidence, at, root;
  bool allow_debug = false;
  std::string expect_model_hash, expect_model_id, expect_nonce, expect_platform, now;
  std::optional<uint64_t> max_age;
  uint64_t clock_skew = 0;
  bool require_nonce = false, require_production = false, json = false;
};

ordered_json claims_json(const AirClaims& c) {
  ordered_json m = {{"measurement_type", c.enclave_measurements.measurement_type},
                    {"pcr0", hex_encode(c.enclave_measurements.pcr0)},
                    {"pcr1", hex_encode(c.enclave_measurements.pcr1)},
                    {"pcr2", hex_encode(c.enclave_measurements.pcr2)}};
  for (auto [name, v] : {std::pair{"pcr3", &c.enclave_measurements.pcr3}, std::pair{"pcr4", &c.enclave_measurements.pcr4},
                         std::pair{"pcr8", &c.enclave_measurements.pcr8}}) {
    if (*v) m[name] = hex_encode(**v);
  }
  ordered_json j = {{"iss", c.iss},
                    {"iat", c.iat},
                    {"cti", hex_encode(c.cti)},
                    {"eat_nonce", c.eat_nonce ? ordered_json(hex_encode(*c.eat_nonce)) : ordered_json(nullptr)},
                    {"model_id", c.model_id},
                    {"model_version", c.model_version},
                    {"model_hash", hex_encode(c.model_hash)},
                    {"model_hash_scheme", c.model_hash_scheme ? ordered_json(*c.model_hash_scheme) : ordered_json(nullptr)},
                    {"request_hash", hex_encode(c.request_hash)},
                    {"response_hash", hex_encode(c.response_hash)},
                    {"attestation_doc_hash", hex_encode(c.attestation_doc_hash)},
                    {"enclave_measurements", m},
                    {"policy_version", c.policy_version},
                    {"sequence_number", c.sequence_number},
                    {"execution_time_ms", c.execution_time_ms},
                    {"memory_peak_mb", c.memory_peak_mb},
                    {"security_mode", c.security_mode}};
  return j;
}

int print_report(const VerifyReport& r, const ordered_json& key_info, bool json) {
  const Status st = r.status();
  const receipt::Check* f = r.first_failure();
  if (json) {
    ordered_json j;
    j["ok"] = st.ok();
    j["verified"] = st.ok();
    if (!st.ok()) {
      j["error"] = {{"code", std::string(st.code_name())}, {"number", int(st.code())}, {"message", st.message()}};
      j["failure"] = {{"layer", int(f->layer)}, {"check", f->name}, {"code", std::string(receipt::check_code_name(f->code))}};
    }
    j["key"] = key_info;
    ordered_json checks = ordered_json::array();
    for (const receipt::Check& c : r.checks) {
      ordered_json e = {{"layer", int(c.layer)},
                        {"layer_name", std::string(receipt::layer_name(c.layer))},
                        {"check", c.name},
                        {"status", std::string(receipt::check_status_name(c.status))}};
      if (c.code != receipt::CheckCode::kNone) e["code"] = std::string(receipt::check_code_name(c.code));
      if (!c.detail.empty()) e["detail"] = c.detail;
      checks.push_back(e);
    }
    j["checks"] = checks;
    j["claims"] = r.claims ? claims_json(*r.claims) : ordered_json(nullptr);
    std::cout << j.dump(2) << std::endl;
  } else {
    for (const receipt::Check& c : r.checks) {
      char line[160];
      std::snprintf(line, sizeof line, "  L%d %-7s %-17s %-7s", int(c.layer), std::string(receipt::layer_name(c.layer)).c_str(),
                    c.name.c_str(), std::string(receipt::check_status_name(c.status)).c_str());
      std::cout << line;
      if (c.code != receipt::CheckCode::kNone) std::cout << " " << receipt::check_code_name(c.code);
      if (!c.detail.empty()) std::cout << "  " << c.detail;
      std::cout << "\n";
    }
    if (st.ok()) {
      std::cout << "OK: AIR v1 receipt verifies (key from " << key_info.value("source", std::string("?")) << ")\n";
    } else {
      std::cout << "FAIL: " << receipt::check_code_name(f->code) << " (layer " << int(f->layer) << " " << f->name
                << "; cpipe " << st.code_name() << "): " << f->detail << "\n";
    }
  }
  return st.ok() ? kExitOk : kExitFailure;
}

Result<VerifyReport> verify_with_evidence(const VerifyOptions& o, ByteSpan receipt_bytes, const receipt::VerifyPolicy& policy,
                                          ordered_json* key_info) {
  if (o.at.empty()) return make_error(ErrorCode::ATTEST_NO_TIME, "--evidence needs --at TIME (the evidence verification time)");
  CPIPE_ASSIGN_OR_RETURN(int64_t at, parse_time_ms(o.at, "--at"));
  CPIPE_ASSIGN_OR_RETURN(Bytes doc, read_file(o.evidence, "--evidence"));
  attest::nitro::NitroPolicy np;
  np.allow_debug = o.allow_debug;
  np.max_age_ms = std::nullopt;  // offline: the receipt's own FRESH check bounds age
  if (!o.root.empty()) {
    CPIPE_ASSIGN_OR_RETURN(Bytes pem, read_file(o.root, "--root"));
    CPIPE_ASSIGN_OR_RETURN(np.root_der, attest::nitro::pem_certificate_to_der(to_string(pem)));
  }
  CPIPE_ASSIGN_OR_RETURN(auto verifier, attest::nitro::NitroVerifier::create(np));
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = at;
  CPIPE_ASSIGN_OR_RETURN(auto v, verifier.verify_document(doc, ctx));
  *key_info = {{"source", "evidence"},
               {"evidence_sha256", hex_encode(crypto::sha256(doc))},
               {"evidence_root", o.root.empty() ? "aws-nitro-root-g1" : o.root},
               {"evidence_debug", v.debug},
               {"public_key", nullptr}};
  if (auto k = receipt::receipt_key_from_user_data(v.evidence.user_data); k.ok()) (*key_info)["public_key"] = hex_encode(*k);
  return receipt::verify_receipt_with_evidence(receipt_bytes, receipt::BoundEvidence{doc, v.evidence}, policy);
}

int run_verify(const VerifyOptions& o) {
  if (o.public_key.empty() == o.evidence.empty() && !o.vector) {
    report_error(make_error(ErrorCode::INVALID_ARGUMENT, "give exactly one of --public-key HEX or --evidence DOC"), o.json);
    return kExitUsage;
  }
  if (!o.public_key.empty() && !o.evidence.empty()) {
    report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--public-key and --evidence exclude each other"), o.json);
    return kExitUsage;
  }
  auto run = [&]() -> Result<int> {
    CPIPE_ASSIGN_OR_RETURN(Bytes file, read_file(o.file, "receipt"));
    nlohmann::json vec;
    CPIPE_ASSIGN_OR_RETURN(Bytes bytes, receipt_bytes(file, &vec));
    if (o.vector && vec.is_null()) return make_error(ErrorCode::INVALID_ARGUMENT, "--vector wants a golden-vector JSON file");

    receipt::VerifyPolicy p;
    // --vector: the vector's own policy overrides and date, unless the command line says otherwise.
    const nlohmann::json vp = o.vector && vec.contains("verify_policy") ? vec["verify_policy"] : nlohmann::json::object();
    std::string model_hash = o.expect_model_hash.empty() ? vp.value("expected_model_hash_hex", "") : o.expect_model_hash;
    std::string nonce = o.expect_nonce.empty() ? vp.value("expected_nonce_hex", "") : o.expect_nonce;
    std::string platform = o.expect_platform.empty() ? vp.value("expected_platform", "") : o.expect_platform;
    if (!model_hash.empty()) {
      CPIPE_ASSIGN_OR_RETURN(p.expected_model_hash, hex_arg(model_hash, "--expect-model-hash"));
    }
    if (!nonce.empty()) {
      CPIPE_ASSIGN_OR_RETURN(p.expected_nonce, hex_arg(nonce, "--expect-nonce"));
    }
    if (!platform.empty()) p.expected_platform = platform;
    if (!o.expect_model_id.empty()) p.expected_model_id = o.expect_model_id;
    p.max_age_s = o.max_age;
    if (!p.max_age_s && vp.contains("max_age_secs")) p.max_age_s = vp["max_age_secs"].get<uint64_t>();
    p.clock_skew_s = o.clock_skew;
    p.require_nonce = o.require_nonce;
    p.require_production = o.require_production;
    std::string now = o.now;
    if (now.empty() && o.vector && vec.contains("date")) now = vec["date"].get<std::string>() + "T00:00:00Z";
    if (!now.empty()) {
      CPIPE_ASSIGN_OR_RETURN(int64_t ms, parse_time_ms(now, "--now"));
      p.now_unix_s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    }
    if (p.max_age_s && !p.now_unix_s) {
      return make_error(ErrorCode::INVALID_ARGUMENT, "--max-age needs --now TIME (receipt verification never reads a clock)");
    }

    ordered_json key_info;
    Result<VerifyReport> report = make_error(ErrorCode::INTERNAL, "unset");
    if (!o.evidence.empty()) {
      report = verify_with_evidence(o, bytes, p, &key_info);
    } else {
      std::string key_hex = o.public_key;
      std::string source = "--public-key";
      if (key_hex.empty()) {
        key_hex = vec.value("wrong_public_key_hex", vec.value("public_key_hex", ""));
        source = vec.contains("wrong_public_key_hex") ? "vector wrong_public_key_hex" : "vector public_key_hex";
      }
      CPIPE_ASSIGN_OR_RETURN(Bytes key, hex_arg(key_hex, "--public-key"));
      key_info = {{"source", source}, {"public_key", hex_encode(key)}};
      report = receipt::verify_receipt(bytes, key, p);
    }
    if (!report.ok()) return report.status();
    return print_report(*report, key_info, o.json);
  };
  auto rc = run();
  if (!rc.ok()) return report_error(rc.status(), o.json);
  return *rc;
}

// ---- issue (development only) --------------------------------------------------------------

struct IssueOptions {
  std::string dev_seed, claims, out, attestation_doc, nonce;
  std::optional<uint64_t> iat;
  bool json = false;
};

Result<AirClaims> claims_from_json(const nlohmann::json& file) {
  const nlohmann::json& c = file.contains("claims") ? file["claims"] : file;
  auto hex = [&c](const nlohmann::json& obj, const char* k) -> Result<Bytes> {
    if (!obj.contains(k) || !obj[k].is_string()) return make_error(ErrorCode::PARSE_ERROR, std::string("claims: ") + k + " missing");
    return hex_arg(obj[k].get<std::string>(), k);
  };
  try {
    AirClaims a;
    a.iss = c.at("iss");
    a.iat = c.at("iat");
    CPIPE_ASSIGN_OR_RETURN(a.cti, hex(c, "cti_hex"));
    if (c.contains("eat_nonce_hex") && c["eat_nonce_hex"].is_string()) {
      CPIPE_ASSIGN_OR_RETURN(a.eat_nonce, hex(c, "eat_nonce_hex"));
    }
    a.model_id = c.at("model_id");
    a.model_version = c.at("model_version");
    CPIPE_ASSIGN_OR_RETURN(a.model_hash, hex(c, "model_hash_hex"));
    CPIPE_ASSIGN_OR_RETURN(a.request_hash, hex(c, "request_hash_hex"));
    CPIPE_ASSIGN_OR_RETURN(a.response_hash, hex(c, "response_hash_hex"));
    CPIPE_ASSIGN_OR_RETURN(a.attestation_doc_hash, hex(c, "attestation_doc_hash_hex"));
    const auto& m = c.at("enclave_measurements");
    a.enclave_measurements.measurement_type = m.at("measurement_type");
    CPIPE_ASSIGN_OR_RETURN(a.enclave_measurements.pcr0, hex(m, "pcr0_hex"));
    CPIPE_ASSIGN_OR_RETURN(a.enclave_measurements.pcr1, hex(m, "pcr1_hex"));
    CPIPE_ASSIGN_OR_RETURN(a.enclave_measurements.pcr2, hex(m, "pcr2_hex"));
    for (auto [k, slot] : {std::pair{"pcr3_hex", &a.enclave_measurements.pcr3}, std::pair{"pcr4_hex", &a.enclave_measurements.pcr4},
                           std::pair{"pcr8_hex", &a.enclave_measurements.pcr8}}) {
      if (m.contains(k) && m[k].is_string()) {
        CPIPE_ASSIGN_OR_RETURN(*slot, hex(m, k));
      }
    }
    a.policy_version = c.at("policy_version");
    a.sequence_number = c.at("sequence_number");
    a.execution_time_ms = c.at("execution_time_ms");
    a.memory_peak_mb = c.at("memory_peak_mb");
    a.security_mode = c.at("security_mode");
    if (c.contains("model_hash_scheme") && c["model_hash_scheme"].is_string()) a.model_hash_scheme = c["model_hash_scheme"];
    return a;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::PARSE_ERROR, std::string("claims JSON: ") + e.what());
  }
}

int run_issue(const IssueOptions& o) {
  auto run = [&]() -> Result<int> {
    CPIPE_ASSIGN_OR_RETURN(Bytes seed, hex_arg(o.dev_seed, "--dev-seed"));
    CPIPE_ASSIGN_OR_RETURN(auto key, crypto::Ed25519KeyPair::from_seed(seed));
    CPIPE_ASSIGN_OR_RETURN(Bytes text, read_file(o.claims, "--claims"));
    auto j = nlohmann::json::parse(to_string(text), nullptr, false);
    if (j.is_discarded()) return make_error(ErrorCode::PARSE_ERROR, "--claims is not JSON");
    CPIPE_ASSIGN_OR_RETURN(AirClaims claims, claims_from_json(j));
    if (o.iat) claims.iat = *o.iat;
    if (!o.nonce.empty()) {
      CPIPE_ASSIGN_OR_RETURN(claims.eat_nonce, hex_arg(o.nonce, "--nonce"));
    }
    if (!o.attestation_doc.empty()) {
      // Point the receipt at this document: its hash and its PCRs (Nitro layout).
      CPIPE_ASSIGN_OR_RETURN(Bytes doc, read_file(o.attestation_doc, "--attestation-doc"));
      CPIPE_ASSIGN_OR_RETURN(auto msg, codec::cose_sign1_decode(doc));
      CPIPE_ASSIGN_OR_RETURN(auto nd, attest::nitro::parse_nitro_document(msg.payload));
      claims.attestation_doc_hash = crypto::sha256(doc);
      auto& m = claims.enclave_measurements;
      m = receipt::Measurements{};
      m.pcr0 = nd.pcrs.at(0);
      m.pcr1 = nd.pcrs.at(1);
      m.pcr2 = nd.pcrs.at(2);
    }
    CPIPE_ASSIGN_OR_RETURN(Bytes receipt, receipt::issue_receipt(claims, key));
    CPIPE_ASSIGN_OR_RETURN(Bytes user_data, receipt::receipt_key_user_data(key.public_key()));
    if (!o.out.empty()) {
      std::ofstream f(o.out, std::ios::binary);
      f.write(reinterpret_cast<const char*>(receipt.data()), std::streamsize(receipt.size()));
      if (!f) return make_error(ErrorCode::IO_ERROR, "cannot write " + o.out);
    }
    ordered_json out = {{"ok", true},
                        {"development_only", true},
                        {"warning", "DEVELOPMENT-ONLY signing key from --dev-seed; never for production receipts"},
                        {"public_key", hex_encode(key.public_key())},
                        {"user_data", hex_encode(user_data)},
                        {"receipt_hex", hex_encode(receipt)},
                        {"receipt_length", receipt.size()}};
    if (!o.out.empty()) out["out"] = o.out;
    std::cout << (o.json ? out.dump() : out.dump(2)) << std::endl;
    return kExitOk;
  };
  auto rc = run();
  if (!rc.ok()) return report_error(rc.status(), o.json);
  return *rc;
}

struct DevKeyOptions {
  std::string dev_seed;
  bool json = false;
};

int run_dev_key(const DevKeyOptions& o) {
  auto seed = hex_arg(o.dev_seed, "--dev-seed");
  if (!seed.ok()) return report_error(seed.status(), o.json);
  auto key = crypto::Ed25519KeyPair::from_seed(*seed);
  if (!key.ok()) return report_error(key.status(), o.json);
  ordered_json out = {{"ok", true},
                      {"development_only", true},
                      {"public_key", hex_encode(key->public_key())},
                      {"user_data", hex_encode(receipt::receipt_key_user_data(key->public_key()).value())}};
  std::cout << (o.json ? out.dump() : out.dump(2)) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* grp = group(root, "receipt", "AIR v1 inference receipts: verify (and issue for development)");
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* v = grp->add_subcommand("verify", "Verify an AIR v1 receipt offline; every check with the spec's names");
  v->add_option("FILE", o->file, "Receipt: COSE_Sign1 bytes, hex text, or a golden-vector JSON")->required();
  v->add_flag("--vector", o->vector, "FILE is a golden vector: use its key, policy overrides and date unless given here");
  v->add_option("--public-key", o->public_key, "Ed25519 public key (hex) the receipt must verify with");
  v->add_option("--evidence", o->evidence, "Nitro / SimNsm attestation document whose user_data binds the receipt key");
  v->add_option("--at", o->at, "Evidence verification time: RFC 3339, ms since the epoch, or \"now\"");
  v->add_option("--root", o->root, "PEM root to pin for --evidence (e.g. a SimNsm root); default AWS Nitro G1");
  v->add_flag("--allow-debug", o->allow_debug, "Accept debug-mode evidence (never in production)");
  v->add_option("--expect-model-hash", o->expect_model_hash, "MHASH: expected model_hash (hex)");
  v->add_option("--expect-model-id", o->expect_model_id, "MODEL: expected model_id");
  v->add_option("--expect-nonce", o->expect_nonce, "NONCE: expected eat_nonce (hex)");
  v->add_flag("--require-nonce", o->require_nonce, "NONCE: require an eat_nonce");
  v->add_option("--expect-platform", o->expect_platform, "PLATFORM: nitro-pcr (nitro) or tdx-mrtd-rtmr (tdx)");
  v->add_option("--max-age", o->max_age, "FRESH: maximum receipt age in seconds (needs --now)");
  v->add_option("--clock-skew", o->clock_skew, "FRESH: seconds iat may be ahead of --now (default 0)");
  v->add_option("--now", o->now, "Verification time for FRESH: RFC 3339, ms since the epoch, or \"now\"");
  v->add_flag("--require-production", o->require_production, "Refuse security_mode \"evaluation\"");
  v->add_flag("--json", o->json, "Machine-readable output");
  v->callback([o] { set_exit_code(run_verify(*o)); });

  auto io = std::make_shared<IssueOptions>();
  CLI::App* is = grp->add_subcommand("issue", "Sign claims with a DEVELOPMENT-ONLY seed key (tests and demos)");
  is->add_option("--dev-seed", io->dev_seed, "DEVELOPMENT-ONLY Ed25519 seed (32 bytes hex)")->required();
  is->add_option("--claims", io->claims, "Claims JSON (a golden vector's \"claims\" format, or a vector file)")->required();
  is->add_option("--iat", io->iat, "Override iat (Unix seconds)");
  is->add_option("--nonce", io->nonce, "Override eat_nonce (hex)");
  is->add_option("--attestation-doc", io->attestation_doc,
                 "Nitro document to point at: sets attestation_doc_hash and pcr0..2 from it");
  is->add_option("--out", io->out, "Write the receipt bytes here");
  is->add_flag("--json", io->json, "Compact JSON output");
  is->callback([io] { set_exit_code(run_issue(*io)); });

  auto ko = std::make_shared<DevKeyOptions>();
  CLI::App* dk = grp->add_subcommand("dev-key", "Public key and attestation user_data of a DEVELOPMENT-ONLY seed key");
  dk->add_option("--dev-seed", ko->dev_seed, "DEVELOPMENT-ONLY Ed25519 seed (32 bytes hex)")->required();
  dk->add_flag("--json", ko->json, "Compact JSON output");
  dk->callback([ko] { set_exit_code(run_dev_key(*ko)); });
});

}  // namespace
}  // namespace cpipe::cli
