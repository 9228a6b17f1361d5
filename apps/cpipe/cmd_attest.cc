// `cpipe attest verify`: checks Nitro (COSE_Sign1) or SEV-SNP / Azure SEV-SNP evidence offline at
// a given time and prints what it establishes. Exit 0 when the evidence verifies, 1 with a
// stable error code when it does not, 2 on usage errors (see command_registry.h).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <tuple>
#include <nlohmann/json.hpp>

#include "apps/cpipe/cli_args.h"
#include "apps/cpipe/command_registry.h"
#include "backends/simulated/nsm/sim_nsm.h"
#include "core/attest/nitro/nitro_root.h"
#include "core/attest/nitro/nitro_verifier.h"
#include "core/attest/snp/snp_verifier.h"
#include "core/crypto/hash.h"

namespace cpipe::cli {
namespace {

using nlohmann::ordered_json;

struct VerifyOptions {
  std::string evidence;
  std::string platform;
  std::string root;
  std::string vcek;
  std::string chain;
  std::vector<std::string> crls;
  std::string at;
  std::vector<std::string> expect_pcr;
  std::vector<std::string> expect_measurement;
  std::string expect_nonce, expect_user_data, expect_public_key;
  std::optional<int64_t> max_age_ms;
  bool allow_debug = false;
  bool json = false;
};

ordered_json hex_or_null(const std::optional<Bytes>& b) {
  return b ? ordered_json(hex_encode(*b)) : ordered_json(nullptr);
}

Result<std::optional<Bytes>> optional_hex(const std::string& s, const char* flag) {
  if (s.empty()) return std::optional<Bytes>();
  auto b = hex_decode(s);
  if (!b.ok()) return make_error(ErrorCode::INVALID_ARGUMENT, std::string(flag) + " is not hex");
  return std::optional<Bytes>(std::move(*b));
}

Result<ordered_json> verify_nitro(const VerifyOptions& o, ByteSpan evidence, int64_t at) {
  attest::nitro::NitroPolicy policy;
  policy.allow_debug = o.allow_debug;
  policy.max_age_ms = o.max_age_ms;  // offline verification: no age limit unless asked
  if (!o.root.empty()) {
    CPIPE_ASSIGN_OR_RETURN(Bytes pem, read_file(o.root, "--root"));
    CPIPE_ASSIGN_OR_RETURN(policy.root_der, attest::nitro::pem_certificate_to_der(to_string(pem)));
  }
  for (const std::string& spec : o.expect_pcr) {
    size_t eq = spec.find('=');
    auto value = eq == std::string::npos ? Result<Bytes>(make_error(ErrorCode::INVALID_ARGUMENT, "")) : hex_decode(spec.substr(eq + 1));
    if (eq == std::string::npos || eq == 0 || eq > 2 || spec.find_first_not_of("0123456789") < eq || !value.ok() ||
        std::stoul(spec.substr(0, eq)) > 31) {
      return make_error(ErrorCode::INVALID_ARGUMENT, "--expect-pcr wants N=HEX with N in 0..31, got \"" + spec + "\"");
    }
    policy.expected_pcrs[uint32_t(std::stoul(spec.substr(0, eq)))] = std::move(*value);
  }
  if (!o.expect_measurement.empty()) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "--expect-measurement is for SEV-SNP; use --expect-pcr for Nitro");
  }
  runtime::VerifyContext ctx;
  ctx.now_unix_ms = at;
  CPIPE_ASSIGN_OR_RETURN(ctx.expect_nonce, optional_hex(o.expect_nonce, "--expect-nonce"));
  CPIPE_ASSIGN_OR_RETURN(ctx.expect_user_data, optional_hex(o.expect_user_data, "--expect-user-data"));
  CPIPE_ASSIGN_OR_RETURN(ctx.expect_public_key, optional_hex(o.expect_public_key, "--expect-public-key"));

  CPIPE_ASSIGN_OR_RETURN(auto verifier, attest::nitro::NitroVerifier::create(policy));
  CPIPE_ASSIGN_OR_RETURN(auto v, verifier.verify_document(evidence, ctx));
  const auto& doc = v.document;
  ordered_json j;
  j["ok"] = true;
  j["platform"] = "nitro";
  j["verified_at"] = rfc3339_ms(at);
  j["module_id"] = doc.module_id;
  j["timestamp_ms"] = doc.timestamp_ms;
  j["timestamp"] = rfc3339_ms(int64_t(doc.timestamp_ms));
  j["digest"] = doc.digest;
  j["debug"] = v.debug;
  j["cose"] = {{"tagged", v.tagged}, {"alg", "ES384"}, {"payload_map", doc.indefinite_map ? "indefinite" : "definite"}};
  ordered_json pcrs = ordered_json::object();
  for (const auto& [i, value] : doc.pcrs) pcrs["PCR" + std::to_string(i)] = hex_encode(value);
  j["measurements"] = pcrs;
  j["bound"] = {{"public_key", hex_or_null(doc.public_key)},
                {"user_data", hex_or_null(doc.user_data)},
                {"nonce", hex_or_null(doc.nonce)}};
  j["validity"] = {{"not_before", rfc3339_ms(v.chain.valid_from_ms)}, {"not_after", rfc3339_ms(v.chain.valid_until_ms)}};
  ordered_json certs = ordered_json::array();
  for (const auto& c : v.chain.certs) {
    certs.push_back({{"subject", c.subject}, {"not_before", rfc3339_ms(c.not_before_ms)}, {"not_after", rfc3339_ms(c.not_after_ms)}});
  }
  j["certificates"] = certs;
  j["root_sha256"] = hex_encode(crypto::sha256(policy.root_der.empty() ? doc.cabundle.front() : policy.root_der));
  return j;
}

Result<ordered_json> verify_snp(const VerifyOptions& o, ByteSpan evidence, int64_t at) {
  attest::snp::SnpCerts certs;
  if (o.vcek.empty()) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "--platform " + o.platform + " needs --vcek (VCEK/VLEK, DER or PEM)");
  }
  CPIPE_ASSIGN_OR_RETURN(certs.signing_cert, read_file(o.vcek, "--vcek"));
  if (!o.chain.empty()) {
    CPIPE_ASSIGN_OR_RETURN(Bytes chain, read_file(o.chain, "--chain"));
    certs.chain_pem = to_string(chain);
  }
  if (!o.root.empty()) {
    CPIPE_ASSIGN_OR_RETURN(Bytes root, read_file(o.root, "--root"));
    certs.root_pem_override = to_string(root);
  }
  for (const std::string& crl : o.crls) {
    CPIPE_ASSIGN_OR_RETURN(Bytes c, read_file(crl, "--crl"));
    certs.crls.push_back(std::move(c));
  }
  attest::snp::SnpPolicy policy;
  policy.allow_debug = o.allow_debug;
  for (const std::string& m : o.expect_measurement) {
    auto b = hex_decode(m);
    if (!b.ok() || b->size() != 48) {
      return make_error(ErrorCode::INVALID_ARGUMENT, "--expect-measurement wants 48 bytes of hex");
    }
    policy.allowed_measurements.push_back(std::move(*b));
  }
  if (!o.expect_pcr.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "--expect-pcr is for Nitro");
  CPIPE_ASSIGN_OR_RETURN(auto v, attest::snp::verify(o.platform, evidence, certs, policy, at));
  ordered_json j;
  j["ok"] = true;
  j["verified_at"] = rfc3339_ms(at);
  ordered_json summary = attest::snp::to_json(v);
  for (auto it = summary.begin(); it != summary.end(); ++it) j[it.key()] = it.value();
  return j;
}

int run_verify(const VerifyOptions& o) {
  if (o.platform != "nitro" && o.platform != "sev-snp" && o.platform != "azure-sev-snp") {
    report_error(make_error(ErrorCode::INVALID_ARGUMENT, "--platform must be nitro, sev-snp or azure-sev-snp"), o.json);
    return kExitUsage;
  }
  if (o.at.empty()) {
    return report_error(make_error(ErrorCode::ATTEST_NO_TIME,
                                   "no verification time: pass --at TIME (RFC 3339, ms since the epoch, or \"now\")"),
                        o.json);
  }
  auto at = parse_time_ms(o.at, "--at");
  if (!at.ok()) {
    report_error(at.status(), o.json);
    return kExitUsage;
  }
  auto evidence = read_file(o.evidence, "--evidence");
  if (!evidence.ok()) return report_error(evidence.status(), o.json);
  auto j = o.platform == "nitro" ? verify_nitro(o, *evidence, *at) : verify_snp(o, *evidence, *at);
  if (!j.ok()) return report_error(j.status(), o.json);
  if (o.json) {
    std::cout << j->dump(2) << std::endl;
  } else {
    std::cout << "OK: " << o.platform << " evidence verifies at " << rfc3339_ms(*at) << "\n" << j->dump(2) << std::endl;
  }
  return kExitOk;
}

struct SimOptions {
  std::string seed = "cpipe-sim";
  std::string at;
  std::string public_key, user_data, nonce;
  std::string app = "cpipe-enclave";
  bool debug = false;
  std::string out, root_out;
  bool json = false;
};

// A clock frozen at one instant: the document's timestamp.
class FixedClock final : public runtime::Clock {
 public:
  explicit FixedClock(int64_t ms) : ms_(ms) {}
  runtime::MonoTime now() const override { return {}; }
  runtime::WallTime wall_now() const override { return runtime::WallTime::from_unix_ms(ms_); }
  runtime::TimerId start_timer(runtime::Duration, std::function<void()>) override { return 0; }
  bool cancel_timer(runtime::TimerId) override { return false; }

 private:
  int64_t ms_;
};

int run_sim_document(const SimOptions& o) {
  if (o.at.empty()) return report_error(make_error(ErrorCode::ATTEST_NO_TIME, "pass --at TIME"), o.json);
  auto at = parse_time_ms(o.at, "--at");
  if (!at.ok()) return report_error(at.status(), o.json);
  runtime::AttestationRequest req;
  for (auto [text, field, flag] : {std::tuple{&o.public_key, &req.public_key, "--public-key"},
                                   std::tuple{&o.user_data, &req.user_data, "--user-data"},
                                   std::tuple{&o.nonce, &req.nonce, "--nonce"}}) {
    auto b = optional_hex(*text, flag);
    if (!b.ok()) return report_error(b.status(), o.json);
    if (*b) *field = std::move(**b);
  }
  sim::SimNsmConfig config;
  config.seed = to_bytes(o.seed);
  config.image.eif = to_bytes(o.app + ".eif");
  config.image.kernel = to_bytes("cpipe-sim-kernel");
  config.image.application = to_bytes(o.app);
  config.image.debug = o.debug;
  FixedClock clock(*at);
  auto nsm = sim::SimNsm::create(clock, config);
  if (!nsm.ok()) return report_error(nsm.status(), o.json);
  auto doc = (*nsm)->make_document(req, *at);
  if (!doc.ok()) return report_error(doc.status(), o.json);
  auto pem = sim::certificate_der_to_pem((*nsm)->root_der());
  if (!pem.ok()) return report_error(pem.status(), o.json);
  std::ofstream(o.out, std::ios::binary).write(reinterpret_cast<const char*>(doc->data()), std::streamsize(doc->size()));
  std::ofstream(o.root_out, std::ios::binary) << *pem;
  ordered_json j = {{"ok", true},
                    {"platform", sim::SimNsm::kPlatform},
                    {"document", o.out},
                    {"root", o.root_out},
                    {"root_sha256", hex_encode(crypto::sha256((*nsm)->root_der()))},
                    {"timestamp", rfc3339_ms(*at)},
                    {"PCR0", hex_encode((*nsm)->pcrs().at(0))}};
  std::cout << (o.json ? j.dump() : j.dump(2)) << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* grp = group(root, "attest", "Attestation evidence: verify Nitro / SEV-SNP documents");
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* v = grp->add_subcommand("verify", "Verify attestation evidence offline at a given time");
  v->add_option("--evidence", o->evidence, "Evidence file (Nitro COSE_Sign1, SNP report, Azure HCL report)")->required();
  v->add_option("--platform", o->platform, "nitro | sev-snp | azure-sev-snp")->required();
  v->add_option("--root", o->root, "PEM root to pin instead of the built-in one (AWS Nitro G1; AMD ARK)");
  v->add_option("--vcek", o->vcek, "SEV-SNP: VCEK/VLEK certificate (DER or PEM; a PEM may carry the chain)");
  v->add_option("--chain", o->chain, "SEV-SNP: ASK/ASVK [+ ARK] PEM");
  v->add_option("--crl", o->crls, "SEV-SNP: CRL issued by the ARK (repeatable)");
  v->add_option("--at", o->at, "Verification time: RFC 3339, ms since the epoch, or \"now\" (required)");
  v->add_option("--expect-pcr", o->expect_pcr, "Nitro: pinned PCR N=HEX (repeatable)");
  v->add_option("--expect-measurement", o->expect_measurement, "SEV-SNP: allowed launch measurement (hex, repeatable)");
  v->add_option("--expect-nonce", o->expect_nonce, "Nitro: expected nonce (hex)");
  v->add_option("--expect-user-data", o->expect_user_data, "Nitro: expected user_data (hex)");
  v->add_option("--expect-public-key", o->expect_public_key, "Nitro: expected public_key (hex)");
  v->add_option("--max-age-ms", o->max_age_ms, "Nitro: reject documents older than this at --at");
  v->add_flag("--allow-debug", o->allow_debug, "Accept debug-mode evidence (never in production)");
  v->add_flag("--json", o->json, "Machine-readable output");
  v->callback([o] { set_exit_code(run_verify(*o)); });

  auto so = std::make_shared<SimOptions>();
  CLI::App* sd = grp->add_subcommand("sim-document", "Write a SimNsm attestation document and its simulated root PEM");
  sd->add_option("--seed", so->seed, "Seed of the simulated PKI (same seed: same root and bytes)");
  sd->add_option("--at", so->at, "Document time (RFC 3339 or ms since the epoch)")->required();
  sd->add_option("--app", so->app, "Application name the simulated image measures (PCR0..2)");
  sd->add_option("--public-key", so->public_key, "public_key to bind (hex)");
  sd->add_option("--user-data", so->user_data, "user_data to bind (hex)");
  sd->add_option("--nonce", so->nonce, "nonce to bind (hex)");
  sd->add_flag("--debug", so->debug, "Debug-mode enclave (PCR0..2 zero)");
  sd->add_option("--out", so->out, "Output COSE_Sign1 file")->required();
  sd->add_option("--root-out", so->root_out, "Output PEM of the simulated root")->required();
  sd->add_flag("--json", so->json, "Machine-readable output");
  sd->callback([so] { set_exit_code(run_sim_document(*so)); });
});

}  // namespace
}  // namespace cpipe::cli
