// The SEV-SNP runtime::AttestationVerifier: evidence decoding (extended report certificate
// table, Azure HCL), the REPORT_DATA binding rule, and the mapping onto VerifiedEvidence.
#include "core/attest/snp/snp_attestation_verifier.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/attest/snp/snp_report.h"
#include "core/crypto/hash.h"

namespace cpipe::attest::snp {
namespace {

constexpr size_t kCertEntrySize = 24;
constexpr size_t kMaxCertEntries = 16;

using Guid = std::array<uint8_t, 16>;

// GUIDs of the GHCB certificate table, in RFC 4122 byte order. Hosts differ in how they lay
// out GUIDs (RFC 4122 vs. the mixed-endian EFI layout), so both are recognised.
constexpr Guid kVcekGuid = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                            0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
constexpr Guid kVlekGuid = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                            0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};
constexpr Guid kAskGuid = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                           0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
constexpr Guid kArkGuid = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                           0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

Guid efi_layout(const Guid& g) {
  Guid e = g;
  std::reverse(e.begin(), e.begin() + 4);
  std::reverse(e.begin() + 4, e.begin() + 6);
  std::reverse(e.begin() + 6, e.begin() + 8);
  return e;
}

bool guid_is(const uint8_t* p, const Guid& g) {
  Guid e = efi_layout(g);
  return std::equal(g.begin(), g.end(), p) || std::equal(e.begin(), e.end(), p);
}

Status bad(std::string msg) { return make_error(ErrorCode::ATTEST_BAD_FORMAT, "extended report: " + msg); }

bool equal_bytes(ByteSpan a, ByteSpan b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

std::string pem_of_der(const Bytes& der) {
  // The chain input is PEM; wrap the DER (base64 in 64-column lines).
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < der.size(); i += 3) {
    uint32_t v = uint32_t(der[i]) << 16;
    if (i + 1 < der.size()) v |= uint32_t(der[i + 1]) << 8;
    if (i + 2 < der.size()) v |= der[i + 2];
    b64 += kB64[(v >> 18) & 63];
    b64 += kB64[(v >> 12) & 63];
    b64 += i + 1 < der.size() ? kB64[(v >> 6) & 63] : '=';
    b64 += i + 2 < der.size() ? kB64[v & 63] : '=';
  }
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE-----\n";
}

}  // namespace

Bytes snp_report_data(ByteSpan public_key, ByteSpan user_data, ByteSpan nonce) {
  Bytes buf(kReportDataDomain.begin(), kReportDataDomain.end());
  for (ByteSpan field : {public_key, user_data, nonce}) {
    uint8_t len[4];
    store_u32_be(len, uint32_t(field.size()));
    buf.insert(buf.end(), len, len + 4);
    buf.insert(buf.end(), field.begin(), field.end());
  }
  return crypto::sha512(buf);
}

Result<ExtendedReport> parse_extended_report(ByteSpan doc) {
  if (doc.size() < kReportSize) return bad("shorter than a report");
  ExtendedReport out;
  out.report = doc.first(kReportSize);
  ByteSpan table = doc.subspan(kReportSize);
  if (table.empty()) return out;
  struct Entry {
    std::optional<Bytes>* slot;
    uint32_t off, len;
  };
  std::vector<Entry> entries;
  size_t entries_end = 0;
  for (size_t i = 0;; ++i) {
    if (i >= kMaxCertEntries) return bad("certificate table has too many entries");
    size_t off = i * kCertEntrySize;
    if (off + kCertEntrySize > table.size()) return bad("certificate table is not terminated");
    const uint8_t* e = table.data() + off;
    if (std::all_of(e, e + kCertEntrySize, [](uint8_t b) { return b == 0; })) {
      entries_end = off + kCertEntrySize;
      break;
    }
    std::optional<Bytes>* slot = nullptr;
    if (guid_is(e, kVcekGuid)) slot = &out.vcek;
    else if (guid_is(e, kVlekGuid)) slot = &out.vlek;
    else if (guid_is(e, kAskGuid)) slot = &out.ask;
    else if (guid_is(e, kArkGuid)) slot = &out.ark;
    entries.push_back({slot, load_u32_le(e + 16), load_u32_le(e + 20)});
  }
  for (const Entry& e : entries) {
    if (e.len == 0 || e.off < entries_end || uint64_t(e.off) + e.len > table.size()) {
      return bad("certificate table entry points outside the certificate data");
    }
    if (e.slot == nullptr) continue;  // other GUIDs (e.g. extra platform info) are not ours
    if (*e.slot) return bad("duplicate certificate GUID");
    ByteSpan cert = table.subspan(e.off, e.len);
    *e.slot = Bytes(cert.begin(), cert.end());
  }
  return out;
}

Bytes encode_extended_report(const ExtendedReport& ext) {
  Bytes out(ext.report.begin(), ext.report.end());
  std::vector<std::pair<const Guid*, const Bytes*>> certs;
  if (ext.vcek) certs.push_back({&kVcekGuid, &*ext.vcek});
  if (ext.vlek) certs.push_back({&kVlekGuid, &*ext.vlek});
  if (ext.ask) certs.push_back({&kAskGuid, &*ext.ask});
  if (ext.ark) certs.push_back({&kArkGuid, &*ext.ark});
  if (certs.empty()) return out;
  size_t offset = (certs.size() + 1) * kCertEntrySize;
  for (const auto& [guid, der] : certs) {
    out.insert(out.end(), guid->begin(), guid->end());
    uint8_t le[8];
    store_u32_le(le, uint32_t(offset));
    store_u32_le(le + 4, uint32_t(der->size()));
    out.insert(out.end(), le, le + 8);
    offset += der->size();
  }
  out.insert(out.end(), kCertEntrySize, 0);
  for (const auto& [guid, der] : certs) out.insert(out.end(), der->begin(), der->end());
  return out;
}

Result<runtime::VerifiedEvidence> SnpAttestationVerifier::verify(const runtime::Evidence& evidence,
                                                                 const runtime::VerifyContext& ctx) const {
  if (!ctx.now_unix_ms) return make_error(ErrorCode::ATTEST_NO_TIME, "no verification time given");
  if (config_.policy.allowed_measurements.empty() && !config_.allow_any_measurement) {
    return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH,
                      "no SNP measurement is pinned (allow_any_measurement is for development only)");
  }
  SnpCerts certs = config_.certs;
  Result<SnpVerification> result = make_error(ErrorCode::INTERNAL, "unset");
  if (evidence.platform == config_.platform) {
    CPIPE_ASSIGN_OR_RETURN(ExtendedReport ext, parse_extended_report(evidence.document));
    if (ext.vcek && ext.vlek) return bad("both a VCEK and a VLEK");
    if (ext.vcek || ext.vlek) {
      certs.signing_cert = ext.vcek ? *ext.vcek : *ext.vlek;
      std::string chain;
      if (ext.ask) chain += pem_of_der(*ext.ask);
      if (ext.ark) chain += pem_of_der(*ext.ark);
      if (chain.empty()) {
        certs.chain_pem.reset();
      } else {
        certs.chain_pem = chain;
      }
    }
    result = verify_report(ext.report, certs, config_.policy, ctx.now_unix_ms, config_.chain_cache.get());
  } else if (evidence.platform == "azure-sev-snp") {
    result = verify_azure_hcl(evidence.document, certs, config_.policy, ctx.now_unix_ms, config_.chain_cache.get());
  } else {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "platform \"" + evidence.platform + "\" is not " +
                                                        config_.platform + " or azure-sev-snp");
  }
  if (!result.ok()) return result.status();
  const SnpVerification& v = *result;

  runtime::VerifiedEvidence out;
  out.platform = evidence.platform == config_.platform ? config_.platform : v.platform;
  out.measurements["measurement"] = Bytes(v.report.measurement.begin(), v.report.measurement.end());
  out.debug = v.report.policy.debug;
  out.development_only = config_.allow_any_measurement && config_.policy.allowed_measurements.empty();
  if (ctx.expect_public_key || ctx.expect_user_data || ctx.expect_nonce) {
    Bytes pk = ctx.expect_public_key.value_or(Bytes{});
    Bytes ud = ctx.expect_user_data.value_or(Bytes{});
    Bytes nonce = ctx.expect_nonce.value_or(Bytes{});
    Bytes want = snp_report_data(pk, ud, nonce);
    Bytes bound(v.report.report_data.begin(), v.report.report_data.end());
    if (v.runtime_data) {
      // Azure: the guest's 64 bytes are the runtime data's "user-data" (hex).
      auto json = nlohmann::json::parse(v.runtime_data->begin(), v.runtime_data->end(), nullptr, false);
      if (json.is_discarded() || !json.is_object() || !json.contains("user-data") || !json["user-data"].is_string()) {
        return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "HCL runtime data has no \"user-data\" string");
      }
      auto decoded = hex_decode(json["user-data"].get<std::string>());
      if (!decoded.ok()) return make_error(ErrorCode::ATTEST_BINDING_MISMATCH, "HCL \"user-data\" is not hex");
      bound = std::move(*decoded);
    }
    if (!equal_bytes(bound, want)) {
      return make_error(ErrorCode::ATTEST_BINDING_MISMATCH,
                        "report_data does not bind the expected public key / user data / nonce");
    }
    out.public_key = std::move(pk);
    out.user_data = std::move(ud);
    out.nonce = std::move(nonce);
  }
  return out;
}

}  // namespace cpipe::attest::snp
