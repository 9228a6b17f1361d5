// The SEV-SNP verification sequence. Checks run cheapest-and-most-structural first, so that a
// mutated input is rejected by the first check it breaks and the error code says which: time,
// format, certificate, chain, signature, TCB binding, Azure runtime-data binding, policy.
#include "core/attest/snp/snp_verifier.h"

#include <algorithm>
#include <string>

#include "core/attest/snp/amd_certs.h"
#include "core/attest/snp/amd_chain_cache.h"
#include "core/attest/snp/hcl_report.h"
#include "core/crypto/ecdsa.h"

namespace cpipe::attest::snp {
namespace {

Status tcb_mismatch(const char* what, std::optional<uint8_t> cert, uint8_t reported) {
  if (!cert) {
    return make_error(ErrorCode::ATTEST_TCB_MISMATCH, std::string("the VCEK has no ") + what + " extension");
  }
  if (*cert != reported) {
    return make_error(ErrorCode::ATTEST_TCB_MISMATCH, std::string(what) + ": VCEK says " + std::to_string(*cert) +
                                                          ", report says " + std::to_string(reported));
  }
  return Status::Ok();
}

// Splits SnpCerts into leaf + intermediates (a multi-certificate PEM signing_cert is a bundle).
struct LoadedCerts {
  Bytes leaf;
  std::vector<Bytes> chain;
  std::optional<Bytes> root_override;
};

Result<LoadedCerts> load(const SnpCerts& certs) {
  LoadedCerts out;
  if (certs.signing_cert.empty()) {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "no VCEK/VLEK certificate given");
  }
  auto all = load_certificates(certs.signing_cert);
  if (!all.ok()) return all.status().with_context("VCEK/VLEK");
  out.leaf = std::move(all->front());
  out.chain.assign(std::make_move_iterator(all->begin() + 1), std::make_move_iterator(all->end()));
  if (certs.chain_pem) {
    auto chain = load_certificates(as_bytes(*certs.chain_pem));
    if (!chain.ok()) return chain.status().with_context("chain");
    for (Bytes& c : *chain) out.chain.push_back(std::move(c));
  }
  if (certs.root_pem_override) {
    auto root = load_certificate(as_bytes(*certs.root_pem_override));
    if (!root.ok()) return root.status().with_context("root");
    out.root_override = std::move(*root);
  }
  return out;
}

bool equal_bytes(ByteSpan a, ByteSpan b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

Status check_policy(const Report& r, const TcbVersion& tcb, SigningKey key, const SnpPolicy& p) {
  if (r.policy.debug && !p.allow_debug) {
    return make_error(ErrorCode::ATTEST_DEBUG_NOT_ALLOWED, "guest policy allows debugging (bit 19)");
  }
  if (r.policy.migrate_ma && !p.allow_migration_agent) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "guest policy allows a migration agent (bit 18)");
  }
  if (r.policy.smt && !p.allow_smt) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "guest policy allows SMT (bit 16)");
  }
  if (p.max_vmpl && r.vmpl > *p.max_vmpl) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION,
                      "report vmpl " + std::to_string(r.vmpl) + " > allowed " + std::to_string(*p.max_vmpl));
  }
  if (p.required_signing_key && key != *p.required_signing_key) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION,
                      "report is signed by a " + std::string(signing_key_name(key)) + ", policy requires " +
                          std::string(signing_key_name(*p.required_signing_key)));
  }
  if (p.min_guest_svn && r.guest_svn < *p.min_guest_svn) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "guest_svn " + std::to_string(r.guest_svn) +
                                                              " < minimum " + std::to_string(*p.min_guest_svn));
  }
  if (p.expected_id_key_digest && !equal_bytes(r.id_key_digest, *p.expected_id_key_digest)) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "id_key_digest is not the expected one");
  }
  if (p.expected_author_key_digest && !equal_bytes(r.author_key_digest, *p.expected_author_key_digest)) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "author_key_digest is not the expected one");
  }
  if (p.minimum_tcb && !tcb_at_least(tcb, *p.minimum_tcb)) {
    return make_error(ErrorCode::ATTEST_TCB_MISMATCH, "reported TCB is below the policy minimum");
  }
  if (!p.allowed_measurements.empty()) {
    ByteSpan m(r.measurement);
    bool found = std::any_of(p.allowed_measurements.begin(), p.allowed_measurements.end(),
                             [&](const Bytes& want) { return std::equal(m.begin(), m.end(), want.begin(), want.end()); });
    if (!found) {
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH, "measurement " + hex_encode(m) + " is not allowed");
    }
  }
  if (p.expected_host_data) {
    ByteSpan h(r.host_data);
    if (!std::equal(h.begin(), h.end(), p.expected_host_data->begin(), p.expected_host_data->end())) {
      return make_error(ErrorCode::ATTEST_POLICY_VIOLATION, "host_data " + hex_encode(h) + " is not the expected one");
    }
  }
  if (p.expected_report_data) {
    ByteSpan d(r.report_data);
    if (!std::equal(d.begin(), d.end(), p.expected_report_data->begin(), p.expected_report_data->end())) {
      return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "report_data does not bind the expected 64 bytes");
    }
  }
  return Status::Ok();
}

Result<SnpVerification> verify_parsed(Report report, const SnpCerts& certs, const SnpPolicy& policy,
                                      int64_t at_ms, AmdChainCache* cache) {
  if (report.signing_key == SigningKey::kNone) {
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID, "report says it is not signed (signing_key 7)");
  }
  CPIPE_ASSIGN_OR_RETURN(LoadedCerts loaded, load(certs));
  CPIPE_ASSIGN_OR_RETURN(SigningCertInfo info,
                         cache ? cache->parse_signing_cert(loaded.leaf) : parse_signing_cert(loaded.leaf));
  if (info.kind != report.signing_key) {
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID,
                      "report says it is signed by a " + std::string(signing_key_name(report.signing_key)) +
                          " but the certificate is a " + std::string(signing_key_name(info.kind)));
  }
  if (policy.expected_product && *policy.expected_product != info.product) {
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION,
                      "certificate is for " + std::string(product_name(info.product)) + ", policy requires " +
                          std::string(product_name(*policy.expected_product)));
  }
  if (info.product_name && info.product_name->rfind(std::string(product_name(info.product)), 0) != 0) {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "product-name extension \"" + *info.product_name +
                                                           "\" disagrees with the issuer");
  }

  ChainInput chain;
  chain.leaf_der = loaded.leaf;
  chain.product = info.product;
  chain.kind = info.kind;
  chain.intermediates_der = std::move(loaded.chain);
  chain.root_override_der = std::move(loaded.root_override);
  chain.crls = certs.crls;
  chain.at_unix_ms = at_ms;
  CPIPE_ASSIGN_OR_RETURN(ChainResult chain_result, cache ? cache->verify_chain(chain) : verify_amd_chain(chain));

  Status sig = crypto::ecdsa_verify(crypto::EcCurve::kP384, info.public_key_spki, report.signed_bytes(),
                                    report.signature_p1363, crypto::SigFormat::kP1363);
  if (!sig.ok()) {
    return make_error(ErrorCode::ATTEST_SIGNATURE_INVALID,
                      "report signature does not verify with the " + std::string(signing_key_name(info.kind)) +
                          " (" + sig.to_string() + ")");
  }

  // TCB binding: the VCEK is issued for one TCB, and must be the one the report claims.
  TcbVersion tcb = decode_tcb(report.reported_tcb, info.product);
  CPIPE_RETURN_IF_ERROR(tcb_mismatch("blSPL", info.bl_spl, tcb.bootloader));
  CPIPE_RETURN_IF_ERROR(tcb_mismatch("teeSPL", info.tee_spl, tcb.tee));
  CPIPE_RETURN_IF_ERROR(tcb_mismatch("snpSPL", info.snp_spl, tcb.snp));
  CPIPE_RETURN_IF_ERROR(tcb_mismatch("ucodeSPL", info.ucode_spl, tcb.microcode));
  if (tcb.fmc) CPIPE_RETURN_IF_ERROR(tcb_mismatch("fmcSPL", info.fmc_spl, *tcb.fmc));
  if (info.kind == SigningKey::kVcek && !report.mask_chip_key) {
    if (!info.hwid) return make_error(ErrorCode::ATTEST_TCB_MISMATCH, "the VCEK has no hwID extension");
    // Turin VCEKs carry an 8-byte hwID: the first 8 bytes of CHIP_ID.
    ByteSpan chip(report.chip_id);
    ByteSpan want = info.product == Product::kTurin && info.hwid->size() == 8 ? chip.first(8) : chip;
    if (!std::equal(want.begin(), want.end(), info.hwid->begin(), info.hwid->end())) {
      return make_error(ErrorCode::ATTEST_TCB_MISMATCH, "chip_id does not match the VCEK's hwID");
    }
  }

  SnpVerification v;
  v.platform = "sev-snp";
  v.product = info.product;
  v.signing_key = info.kind;
  v.reported_tcb = tcb;
  v.signing_cert = chain_result.leaf;
  v.intermediate = chain_result.intermediate;
  v.root = chain_result.root;
  v.valid_from_unix_ms = chain_result.valid_from_unix_ms;
  v.valid_until_unix_ms = chain_result.valid_until_unix_ms;
  v.crl_checked = chain_result.crl_checked;
  v.report = std::move(report);
  return v;
}

std::string hex_u64(uint64_t v) {
  uint8_t be[8];
  store_u64_be(be, v);
  return "0x" + hex_encode(ByteSpan(be, 8));
}

nlohmann::ordered_json tcb_json(const TcbVersion& t) {
  nlohmann::ordered_json j;
  j["bootloader"] = t.bootloader;
  j["tee"] = t.tee;
  j["snp"] = t.snp;
  j["microcode"] = t.microcode;
  if (t.fmc) j["fmc"] = *t.fmc;
  j["raw"] = hex_u64(t.raw);
  return j;
}

nlohmann::ordered_json cert_json(const CertSummary& c) {
  return {{"subject", c.subject},
          {"issuer", c.issuer},
          {"not_before", format_rfc3339_ms(c.not_before_unix_ms)},
          {"not_after", format_rfc3339_ms(c.not_after_unix_ms)},
          {"sha256", c.sha256_hex}};
}

}  // namespace

Result<SnpVerification> verify_report(ByteSpan report, const SnpCerts& certs, const SnpPolicy& policy,
                                      std::optional<int64_t> at_unix_ms, AmdChainCache* cache) {
  if (!at_unix_ms) return make_error(ErrorCode::ATTEST_NO_TIME, "no verification time given");
  CPIPE_ASSIGN_OR_RETURN(Report parsed, parse_report(report));
  CPIPE_ASSIGN_OR_RETURN(SnpVerification v, verify_parsed(std::move(parsed), certs, policy, *at_unix_ms, cache));
  TcbVersion tcb = v.reported_tcb;
  CPIPE_RETURN_IF_ERROR(check_policy(v.report, tcb, v.signing_key, policy));
  return v;
}

Result<SnpVerification> verify_azure_hcl(ByteSpan hcl, const SnpCerts& certs, const SnpPolicy& policy,
                                         std::optional<int64_t> at_unix_ms, AmdChainCache* cache) {
  if (!at_unix_ms) return make_error(ErrorCode::ATTEST_NO_TIME, "no verification time given");
  CPIPE_ASSIGN_OR_RETURN(HclReport h, parse_hcl_report(hcl));
  CPIPE_ASSIGN_OR_RETURN(Report parsed, parse_report(h.snp_report));
  CPIPE_ASSIGN_OR_RETURN(SnpVerification v, verify_parsed(std::move(parsed), certs, policy, *at_unix_ms, cache));
  // The runtime data is only as trustworthy as its hash in the signed report_data; the rest of
  // report_data must be zero so that the 64 bytes have exactly one meaning.
  Bytes hash = hcl_runtime_data_hash(h);
  ByteSpan rd(v.report.report_data);
  if (!std::equal(hash.begin(), hash.end(), rd.begin()) ||
      std::any_of(rd.begin() + hash.size(), rd.end(), [](uint8_t b) { return b != 0; })) {
    return make_error(ErrorCode::ATTEST_BINDING_MISMATCH,
                      std::string("report_data does not hold the ") + std::string(hcl_hash_name(h.hash_type)) +
                          " of the HCL runtime data");
  }
  v.platform = "azure-sev-snp";
  v.runtime_data = Bytes(h.runtime_data.begin(), h.runtime_data.end());
  v.runtime_data_hash = std::string(hcl_hash_name(h.hash_type));
  CPIPE_RETURN_IF_ERROR(check_policy(v.report, v.reported_tcb, v.signing_key, policy));
  return v;
}

Result<SnpVerification> verify(std::string_view platform, ByteSpan evidence, const SnpCerts& certs,
                               const SnpPolicy& policy, std::optional<int64_t> at_unix_ms, AmdChainCache* cache) {
  if (platform == "sev-snp") return verify_report(evidence, certs, policy, at_unix_ms, cache);
  if (platform == "azure-sev-snp") return verify_azure_hcl(evidence, certs, policy, at_unix_ms, cache);
  return make_error(ErrorCode::INVALID_ARGUMENT, "unknown SEV-SNP platform \"" + std::string(platform) + "\"");
}

nlohmann::ordered_json to_json(const SnpVerification& v) {
  const Report& r = v.report;
  nlohmann::ordered_json j;
  j["platform"] = v.platform;
  j["version"] = r.version;
  j["product"] = std::string(product_name(v.product));
  j["signing_key"] = std::string(signing_key_name(v.signing_key));
  j["measurement"] = hex_encode(r.measurement);
  j["report_data"] = hex_encode(r.report_data);
  j["host_data"] = hex_encode(r.host_data);
  j["chip_id"] = hex_encode(r.chip_id);
  j["chip_id_masked"] = r.mask_chip_key;
  j["vmpl"] = r.vmpl;
  j["guest_svn"] = r.guest_svn;
  j["family_id"] = hex_encode(r.family_id);
  j["image_id"] = hex_encode(r.image_id);
  j["id_key_digest"] = hex_encode(r.id_key_digest);
  j["author_key_digest"] = hex_encode(r.author_key_digest);
  j["author_key_en"] = r.author_key_en;
  j["report_id"] = hex_encode(r.report_id);
  j["report_id_ma"] = hex_encode(r.report_id_ma);
  const GuestPolicy& p = r.policy;
  j["policy"] = {{"raw", hex_u64(p.raw)},
                 {"abi_major", p.abi_major},
                 {"abi_minor", p.abi_minor},
                 {"smt", p.smt},
                 {"migrate_ma", p.migrate_ma},
                 {"debug", p.debug},
                 {"single_socket", p.single_socket},
                 {"cxl_allow", p.cxl_allow},
                 {"mem_aes_256_xts", p.mem_aes_256_xts},
                 {"rapl_dis", p.rapl_dis},
                 {"ciphertext_hiding", p.ciphertext_hiding},
                 {"page_swap_disable", p.page_swap_disable}};
  const PlatformInfo& pi = r.platform_info;
  j["platform_info"] = {{"smt_enabled", pi.smt_enabled},
                        {"tsme_enabled", pi.tsme_enabled},
                        {"ecc_enabled", pi.ecc_enabled},
                        {"rapl_disabled", pi.rapl_disabled},
                        {"ciphertext_hiding_enabled", pi.ciphertext_hiding_enabled},
                        {"alias_check_complete", pi.alias_check_complete},
                        {"tio_enabled", pi.tio_enabled},
                        {"raw", hex_u64(pi.raw)}};
  j["reported_tcb"] = tcb_json(v.reported_tcb);
  j["current_tcb"] = tcb_json(decode_tcb(r.current_tcb, v.product));
  j["committed_tcb"] = tcb_json(decode_tcb(r.committed_tcb, v.product));
  j["launch_tcb"] = tcb_json(decode_tcb(r.launch_tcb, v.product));
  j["firmware"] = {{"current", std::to_string(r.current_major) + "." + std::to_string(r.current_minor) + "." +
                                   std::to_string(r.current_build)},
                   {"committed", std::to_string(r.committed_major) + "." + std::to_string(r.committed_minor) + "." +
                                     std::to_string(r.committed_build)}};
  if (r.cpuid_fam_id) {
    j["cpuid"] = {{"family", *r.cpuid_fam_id}, {"model", *r.cpuid_mod_id}, {"stepping", *r.cpuid_step}};
  }
  if (r.launch_mit_vector) {
    j["launch_mit_vector"] = *r.launch_mit_vector;
    j["current_mit_vector"] = *r.current_mit_vector;
  }
  j["certificates"] = {{"signing", cert_json(v.signing_cert)},
                       {"intermediate", cert_json(v.intermediate)},
                       {"root", cert_json(v.root)}};
  j["valid_from"] = format_rfc3339_ms(v.valid_from_unix_ms);
  j["valid_until"] = format_rfc3339_ms(v.valid_until_unix_ms);
  j["crl_checked"] = v.crl_checked;
  if (v.runtime_data) {
    j["runtime_data_hash"] = *v.runtime_data_hash;
    auto parsed = nlohmann::ordered_json::parse(v.runtime_data->begin(), v.runtime_data->end(), nullptr, false);
    if (parsed.is_discarded()) {
      j["runtime_data"] = hex_encode(*v.runtime_data);
    } else {
      j["runtime_data"] = std::move(parsed);
    }
  }
  return j;
}

}  // namespace cpipe::attest::snp
