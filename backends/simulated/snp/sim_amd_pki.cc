// AMD-shaped certificates and reports (sim_amd_pki.h). Certificates are built with OpenSSL's
// X509 API and signed by it once (which sets the RSA-PSS algorithm identifiers); for PSS the
// signature is then replaced by one with a derived salt, so the DER never depends on OS randomness.
#include "backends/simulated/snp/sim_amd_pki.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <map>

#include "backends/simulated/sim_pki_encoding.h"
#include "backends/simulated/snp/sim_amd_keys.h"
#include "core/attest/snp/snp_report.h"
#include "core/crypto/hash.h"

namespace cpipe::sim {
namespace {

using crypto::EvpPkeyCtxPtr;
using crypto::EvpPkeyPtr;
using crypto::X509Ptr;

Status ssl_fail(const std::string& what) {
  return make_error(ErrorCode::CRYPTO_FAILURE, "simulated AMD PKI: " + what);
}


Status add_raw_ext(X509* x, const std::string& oid, const Bytes& value) {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  X509_EXTENSION* ext = nullptr;
  if (obj != nullptr && os != nullptr && ASN1_OCTET_STRING_set(os, value.data(), int(value.size())) == 1)
    ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
  int ok = ext != nullptr ? X509_add_ext(x, ext, -1) : 0;
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(obj);
  return ok == 1 ? Status::Ok() : ssl_fail("extension " + oid);
}

// MGF1 with SHA-384 (RFC 8017 B.2.1).
Bytes mgf1_sha384(ByteSpan seed, size_t len) {
  Bytes out;
  for (uint32_t counter = 0; out.size() < len; ++counter) {
    Bytes in(seed.begin(), seed.end());
    uint8_t c[4];
    store_u32_be(c, counter);
    in.insert(in.end(), c, c + 4);
    Bytes h = crypto::sha384(in);
    out.insert(out.end(), h.begin(), h.end());
  }
  out.resize(len);
  return out;
}

// RSASSA-PSS/SHA-384, MGF1-SHA-384, 48-byte salt (RFC 8017 9.1.1), the salt being
// SHA-384("cpipe.simsnp.pss-salt" || SubjectPublicKeyInfo || SHA-384(message)) instead of random.
// A verifier cannot tell: PSS salts are opaque to it.
Result<Bytes> pss_sha384_sign(EVP_PKEY* key, ByteSpan message) {
  const int bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || bits < 1024) return ssl_fail("PSS needs an RSA key");
  const size_t k = size_t(bits + 7) / 8;
  const size_t em_bits = size_t(bits) - 1;
  const size_t em_len = (em_bits + 7) / 8;
  constexpr size_t kH = 48;
  Bytes m_hash = crypto::sha384(message);
  unsigned char* spki = nullptr;
  int spki_len = i2d_PUBKEY(key, &spki);
  if (spki_len <= 0) return ssl_fail("i2d_PUBKEY");
  Bytes salt_in = to_bytes("cpipe.simsnp.pss-salt");
  salt_in.insert(salt_in.end(), spki, spki + spki_len);
  OPENSSL_free(spki);
  salt_in.insert(salt_in.end(), m_hash.begin(), m_hash.end());
  Bytes salt = crypto::sha384(salt_in);

  Bytes m_prime(8, 0);
  m_prime.insert(m_prime.end(), m_hash.begin(), m_hash.end());
  m_prime.insert(m_prime.end(), salt.begin(), salt.end());
  Bytes h = crypto::sha384(m_prime);
  const size_t db_len = em_len - kH - 1;
  Bytes db(db_len, 0);
  db[db_len - kH - 1] = 0x01;
  std::copy(salt.begin(), salt.end(), db.end() - long(kH));
  Bytes mask = mgf1_sha384(h, db_len);
  for (size_t i = 0; i < db_len; ++i) db[i] ^= mask[i];
  db[0] &= uint8_t(0xFF >> (8 * em_len - em_bits));
  Bytes em(k - em_len, 0);
  em.insert(em.end(), db.begin(), db.end());
  em.insert(em.end(), h.begin(), h.end());
  em.push_back(0xbc);

  // The RSA private operation on the encoded message (no further padding).
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1)
    return ssl_fail("RSA sign set-up");
  Bytes sig(k);
  size_t sig_len = sig.size();
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &sig_len, em.data(), em.size()) != 1 || sig_len != k)
    return ssl_fail("RSA private operation");
  return sig;
}


}  // namespace

Result<Bytes> make_amd_certificate(const AmdCertSpec& s) {
  if (s.subject_key == nullptr || s.issuer_key == nullptr)
    return make_error(ErrorCode::INVALID_ARGUMENT, "AMD certificate needs a subject and an issuer key");
  X509Ptr x(X509_new());
  if (!x) return ssl_fail("X509_new");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set_int64(X509_get_serialNumber(x.get()), s.serial);
  auto set_cn = [](X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
  };
  X509_NAME* subj = X509_NAME_new();
  set_cn(subj, s.subject_cn);
  X509_set_subject_name(x.get(), subj);
  X509_NAME_free(subj);
  X509_NAME* iss = X509_NAME_new();
  set_cn(iss, s.issuer_cn);
  X509_set_issuer_name(x.get(), iss);
  X509_NAME_free(iss);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), time_t(s.not_before_ms / 1000));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), time_t(s.not_after_ms / 1000));
  if (X509_set_pubkey(x.get(), s.subject_key) != 1) return ssl_fail("X509_set_pubkey");
  if (s.is_ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (bc == nullptr) return ssl_fail("basicConstraints");
    X509_add_ext(x.get(), bc, -1);
    X509_EXTENSION_free(bc);
  }
  for (const auto& [oid, value] : s.extensions) CPIPE_RETURN_IF_ERROR(add_raw_ext(x.get(), oid, value));

  crypto::OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestSignInit(md.get(), &pctx, EVP_sha384(), nullptr, s.issuer_key) != 1)
    return ssl_fail("EVP_DigestSignInit");
  if (s.pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1))
    return ssl_fail("RSA-PSS parameters");
  if (X509_sign_ctx(x.get(), md.get()) <= 0) return ssl_fail("X509_sign_ctx");

  unsigned char* buf = nullptr;
  if (!s.pss) {  // PKCS#1 v1.5 signatures are deterministic already
    int n = i2d_X509(x.get(), &buf);
    if (n <= 0) return ssl_fail("i2d_X509");
    Bytes out(buf, buf + n);
    OPENSSL_free(buf);
    return out;
  }
  int tbs_len = i2d_re_X509_tbs(x.get(), &buf);
  if (tbs_len <= 0) return ssl_fail("TBS encoding");
  Bytes tbs(buf, buf + tbs_len);
  OPENSSL_free(buf);
  buf = nullptr;
  const ASN1_BIT_STRING* old_sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(&old_sig, &alg, x.get());
  int alg_len = i2d_X509_ALGOR(alg, &buf);
  if (alg_len <= 0) return ssl_fail("signature algorithm encoding");
  Bytes alg_der(buf, buf + alg_len);
  OPENSSL_free(buf);
  CPIPE_ASSIGN_OR_RETURN(Bytes sig, pss_sha384_sign(s.issuer_key, tbs));
  Bytes bitstring = {0x00};
  bitstring.insert(bitstring.end(), sig.begin(), sig.end());
  Bytes body = tbs;
  body.insert(body.end(), alg_der.begin(), alg_der.end());
  der_tlv(body, 0x03, bitstring);
  Bytes out;
  der_tlv(out, 0x30, body);
  return out;
}

uint64_t amd_tcb_raw(const AmdTcb& t) {
  if (t.fmc) {
    return uint64_t(*t.fmc) | uint64_t(t.bl) << 8 | uint64_t(t.tee) << 16 | uint64_t(t.snp) << 24 |
           uint64_t(t.ucode) << 56;
  }
  return uint64_t(t.bl) | uint64_t(t.tee) << 8 | uint64_t(t.snp) << 48 | uint64_t(t.ucode) << 56;
}

Bytes der_small_int(uint8_t v) { return v < 0x80 ? Bytes{0x02, 0x01, v} : Bytes{0x02, 0x02, 0x00, v}; }

std::vector<std::pair<std::string, Bytes>> amd_signing_cert_extensions(const AmdTcb& tcb,
                                                                       const std::optional<Bytes>& hwid) {
  std::vector<std::pair<std::string, Bytes>> exts = {
      {kAmdOidBlSpl, der_small_int(tcb.bl)},
      {kAmdOidTeeSpl, der_small_int(tcb.tee)},
      {kAmdOidSnpSpl, der_small_int(tcb.snp)},
      {kAmdOidUcodeSpl, der_small_int(tcb.ucode)},
  };
  if (tcb.fmc) exts.push_back({kAmdOidFmcSpl, der_small_int(*tcb.fmc)});
  if (hwid) exts.push_back({kAmdOidHwId, *hwid});
  return exts;
}

Result<EvpPkeyPtr> load_private_key_pem(std::string_view pem) {
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return ssl_fail("not a PEM private key");
  return key;
}

Result<EvpPkeyPtr> p384_public_key(ByteSpan point) {
  Bytes spki = hex_decode("3076301006072a8648ce3d020106052b81040022036200").value();
  spki.insert(spki.end(), point.begin(), point.end());
  const unsigned char* p = spki.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, long(spki.size())));
  if (!key) return ssl_fail("bad P-384 point");
  return key;
}

Result<Bytes> make_signed_snp_report(const SnpReportSpec& s, const SimP384Key& key) {
  using attest::snp::kReportSize;
  using attest::snp::kSignatureOffset;
  using attest::snp::kSignedSize;
  if (s.version < attest::snp::kMinReportVersion || s.version > attest::snp::kMaxReportVersion)
    return make_error(ErrorCode::INVALID_ARGUMENT, "SNP report version must be 2..5");
  if (s.report_data.size() > 64 || s.measurement.size() > 48 || s.host_data.size() > 32 ||
      s.report_id.size() > 32 || s.chip_id.size() > 64)
    return make_error(ErrorCode::INVALID_ARGUMENT, "SNP report field too long");
  Bytes r(kReportSize, 0);
  auto put_at = [&r](size_t off, const Bytes& b) { std::copy(b.begin(), b.end(), r.begin() + long(off)); };
  store_u32_le(r.data() + 0x00, s.version);
  store_u32_le(r.data() + 0x04, s.guest_svn);
  store_u64_le(r.data() + 0x08, s.policy);
  store_u32_le(r.data() + 0x30, s.vmpl);
  store_u32_le(r.data() + 0x34, attest::snp::kSigAlgoEcdsaP384Sha384);
  store_u64_le(r.data() + 0x38, s.tcb_raw);  // CURRENT_TCB
  store_u32_le(r.data() + 0x48, s.vlek ? (1u << 2) : 0u);
  put_at(0x50, s.report_data);
  put_at(0x90, s.measurement);
  put_at(0xC0, s.host_data);
  put_at(0x140, s.report_id);
  store_u64_le(r.data() + 0x180, s.tcb_raw);  // REPORTED_TCB
  if (s.version >= 3) {
    r[0x188] = s.cpuid_family;
    r[0x189] = s.cpuid_model;
    r[0x18A] = s.cpuid_stepping;
  }
  put_at(0x1A0, s.chip_id);
  store_u64_le(r.data() + 0x1E0, s.tcb_raw);  // COMMITTED_TCB
  for (size_t off : {size_t(0x1E8), size_t(0x1EC)}) {
    r[off] = s.fw_build;
    r[off + 1] = s.fw_minor;
    r[off + 2] = s.fw_major;
  }
  store_u64_le(r.data() + 0x1F0, s.tcb_raw);  // LAUNCH_TCB
  if (s.version >= 5) {
    store_u64_le(r.data() + 0x1F8, s.mit_vector);
    store_u64_le(r.data() + 0x200, s.mit_vector);
  }
  CPIPE_ASSIGN_OR_RETURN(Bytes rs, sim_p384_sign(key, ByteSpan(r).first(kSignedSize)));
  for (size_t i = 0; i < 48; ++i) {
    r[kSignatureOffset + i] = rs[47 - i];                            // r, little-endian
    r[kSignatureOffset + attest::snp::kSigComponentSize + i] = rs[95 - i];  // s
  }
  return r;
}

namespace {

Result<SimAmdPki> make_pki_uncached(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms) {
  SimAmdPki pki;
  CPIPE_ASSIGN_OR_RETURN(EvpPkeyPtr ark_key, load_private_key_pem(sim_ark_private_key_pem()));
  CPIPE_ASSIGN_OR_RETURN(EvpPkeyPtr ask_key, load_private_key_pem(sim_ask_private_key_pem()));
  const std::string ark_cn = "ARK-" + pki.product, ask_cn = "SEV-" + pki.product;
  AmdCertSpec ark{ark_cn, ark_cn, ark_key.get(), ark_key.get(), 1, true, true, not_before_ms, not_after_ms, {}};
  CPIPE_ASSIGN_OR_RETURN(pki.ark_der, make_amd_certificate(ark));
  AmdCertSpec ask{ask_cn, ark_cn, ask_key.get(), ark_key.get(), 2, true, true, not_before_ms, not_after_ms, {}};
  CPIPE_ASSIGN_OR_RETURN(pki.ask_der, make_amd_certificate(ask));

  CPIPE_ASSIGN_OR_RETURN(pki.vcek_key, derive_p384_key(seed, "sev-snp vcek"));
  Bytes chip_in = to_bytes("cpipe.simsnp.chip-id");
  chip_in.insert(chip_in.end(), seed.begin(), seed.end());
  pki.chip_id = crypto::sha512(chip_in);
  Bytes sn = crypto::sha256(pki.chip_id);
  int64_t serial = int64_t(load_u64_be(sn.data()) >> 2) + 3;  // positive, not the ARK's/ASK's
  CPIPE_ASSIGN_OR_RETURN(EvpPkeyPtr vcek_pub, p384_public_key(pki.vcek_key.public_point));
  AmdCertSpec vcek{"SEV-VCEK", ask_cn, vcek_pub.get(), ask_key.get(), serial, true, false, not_before_ms,
                   not_after_ms, amd_signing_cert_extensions(pki.tcb, pki.chip_id)};
  Bytes product_name;  // .1.2: IA5String "Milan-B0", as AMD's KDS issues it
  der_tlv(product_name, 0x16, to_bytes(pki.product + "-B0"));
  vcek.extensions.push_back({"1.3.6.1.4.1.3704.1.2", product_name});
  CPIPE_ASSIGN_OR_RETURN(pki.vcek_der, make_amd_certificate(vcek));
  return pki;
}

}  // namespace

Result<SimAmdPki> make_sim_amd_pki(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms) {
  return memoized_pki<SimAmdPki>(seed, not_before_ms, not_after_ms, make_pki_uncached);
}

Result<Bytes> make_amd_crl(EVP_PKEY* key, const std::string& issuer_cn, std::optional<int64_t> revoked, int64_t last_s,
                           int64_t next_s) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_NAME* iss = X509_NAME_new();
  X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(issuer_cn.c_str()),
                             -1, -1, 0);
  X509_CRL_set_issuer_name(crl, iss);
  X509_NAME_free(iss);
  ASN1_TIME* last = ASN1_TIME_set(nullptr, time_t(last_s));
  ASN1_TIME* next = ASN1_TIME_set(nullptr, time_t(next_s));
  X509_CRL_set1_lastUpdate(crl, last);
  X509_CRL_set1_nextUpdate(crl, next);
  if (revoked) {
    X509_REVOKED* rev = X509_REVOKED_new();
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set_int64(serial, *revoked);
    X509_REVOKED_set_serialNumber(rev, serial);
    X509_REVOKED_set_revocationDate(rev, last);
    X509_CRL_add0_revoked(crl, rev);
    ASN1_INTEGER_free(serial);
  }
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool signed_ok = EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, key) == 1 &&
                   EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) > 0 &&
                   EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) > 0 && X509_CRL_sign_ctx(crl, ctx) > 0;
  EVP_MD_CTX_free(ctx);
  if (!signed_ok) {
    X509_CRL_free(crl);
    return ssl_fail("signing a CRL");
  }
  unsigned char* buf = nullptr;
  int n = i2d_X509_CRL(crl, &buf);
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  X509_CRL_free(crl);
  return out;
}

}  // namespace cpipe::sim
