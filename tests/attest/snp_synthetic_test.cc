// Paths no real evidence here exercises, on a private AMD-shaped PKI built in the test (RSA-PSS
// SHA-384 ARK/ASK/ASVK, P-384 VCEK/VLEK with AMD's TCB extensions) and reports signed with it:
// VLEK chains, Turin's TCB layout and 8-byte hwID, TCB and hwID binding, revocation, PKCS#1 v1.5
// links, version-5 reports, the debug and migration-agent policy bits on a validly signed report.
// The real-evidence tests (snp_verifier_test.cc) remain the reference; these only reach the
// branches that real data cannot.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "core/attest/snp/snp_verifier.h"

namespace cpipe::attest::snp {
namespace {

constexpr int64_t kAt = 1748736000000;  // 2025-06-01
constexpr int64_t kDay = 86400;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Key rsa_key() { return Key(EVP_RSA_gen(2048)); }
Key p384_key() { return Key(EVP_EC_gen("secp384r1")); }

// Signs with RSASSA-PSS/SHA-384 (salt 48), like AMD, or PKCS#1 v1.5 when pss is false.
template <typename SignFn>
void sign_with(EVP_PKEY* key, bool pss, SignFn fn) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, key), 1);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384());
  }
  ASSERT_GT(fn(ctx), 0);
  EVP_MD_CTX_free(ctx);
}

void add_ext(X509* x, const char* oid, const Bytes& der_value) {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(os, der_value.data(), int(der_value.size()));
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(obj);
}

Bytes der_int(uint8_t v) { return v < 0x80 ? Bytes{0x02, 0x01, v} : Bytes{0x02, 0x02, 0x00, v}; }

struct CertSpec {
  std::string subject_cn, issuer_cn;
  EVP_PKEY* subject_key = nullptr;
  EVP_PKEY* issuer_key = nullptr;
  long serial = 1;
  bool pss = true;
  std::vector<std::pair<std::string, Bytes>> exts;
};

Cert make_cert(const CertSpec& s) {
  Cert x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), s.serial);
  X509_NAME* subj = X509_NAME_new();
  X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(s.subject_cn.c_str()), -1, -1, 0);
  X509_set_subject_name(x.get(), subj);
  X509_NAME* iss = X509_NAME_new();
  X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(s.issuer_cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), iss);
  X509_NAME_free(subj);
  X509_NAME_free(iss);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), time_t(kAt / 1000 - 365 * kDay));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), time_t(kAt / 1000 + 365 * kDay));
  X509_set_pubkey(x.get(), s.subject_key);
  const bool is_ca = s.subject_cn != "SEV-VCEK" && s.subject_cn != "SEV-VLEK";
  if (is_ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x.get(), bc, -1);
    X509_EXTENSION_free(bc);
  }
  for (const auto& [oid, value] : s.exts) add_ext(x.get(), oid.c_str(), value);
  sign_with(s.issuer_key, s.pss, [&](EVP_MD_CTX* ctx) { return X509_sign_ctx(x.get(), ctx); });
  return x;
}

std::string pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

Bytes der(X509* x) {
  unsigned char* buf = nullptr;
  int n = i2d_X509(x, &buf);
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

struct Pki {
  Key ark_key = rsa_key(), ask_key = rsa_key(), leaf_key = p384_key();
  Cert ark, ask, leaf;
  std::string product;
  bool vlek = false;
};

struct LeafTcb {
  uint8_t bl = 3, tee = 0, snp = 8, ucode = 115;
  std::optional<uint8_t> fmc;
  Bytes hwid = Bytes(64, 0xAB);
};

std::unique_ptr<Pki> make_pki(const std::string& product, bool vlek, const LeafTcb& tcb, bool pss_links = true) {
  auto p = std::make_unique<Pki>();
  p->product = product;
  p->vlek = vlek;
  std::string ark_cn = "ARK-" + product;
  std::string ask_cn = (vlek ? "SEV-VLEK-" : "SEV-") + product;
  p->ark = make_cert({ark_cn, ark_cn, p->ark_key.get(), p->ark_key.get(), 1, true, {}});
  p->ask = make_cert({ask_cn, ark_cn, p->ask_key.get(), p->ark_key.get(), 2, pss_links, {}});
  std::vector<std::pair<std::string, Bytes>> exts = {
      {"1.3.6.1.4.1.3704.1.3.1", der_int(tcb.bl)},
      {"1.3.6.1.4.1.3704.1.3.2", der_int(tcb.tee)},
      {"1.3.6.1.4.1.3704.1.3.3", der_int(tcb.snp)},
      {"1.3.6.1.4.1.3704.1.3.8", der_int(tcb.ucode)},
  };
  if (tcb.fmc) exts.push_back({"1.3.6.1.4.1.3704.1.3.9", der_int(*tcb.fmc)});
  if (!vlek) exts.push_back({"1.3.6.1.4.1.3704.1.4", tcb.hwid});
  p->leaf = make_cert({vlek ? "SEV-VLEK" : "SEV-VCEK", ask_cn, p->leaf_key.get(), p->ask_key.get(), 3, pss_links, exts});
  return p;
}

SnpCerts certs_of(const Pki& p, bool with_ask = true) {
  SnpCerts c;
  c.signing_cert = der(p.leaf.get());
  if (with_ask) c.chain_pem = pem(p.ask.get());
  c.root_pem_override = pem(p.ark.get());
  return c;
}

// A report over `tcb_raw` and chip_id, signed with the leaf key (r, s little-endian).
Bytes signed_report(const Pki& p, uint64_t tcb_raw, const Bytes& chip_id, uint32_t version = 3,
                    uint64_t policy = 0x30000) {
  Bytes r(0x4A0, 0);
  store_u32_le(r.data() + 0x00, version);
  store_u64_le(r.data() + 0x08, policy);
  store_u32_le(r.data() + 0x34, 1);
  store_u64_le(r.data() + 0x38, tcb_raw);
  store_u32_le(r.data() + 0x48, p.vlek ? (1u << 2) : 0u);
  for (int i = 0; i < 48; ++i) r[0x90 + i] = uint8_t(i);
  store_u64_le(r.data() + 0x180, tcb_raw);
  if (version >= 3) {
    r[0x188] = 0x19;
    r[0x189] = 0x11;
  }
  std::copy(chip_id.begin(), chip_id.end(), r.begin() + 0x1A0);
  store_u64_le(r.data() + 0x1E0, tcb_raw);
  store_u64_le(r.data() + 0x1F0, tcb_raw);
  if (version >= 5) store_u64_le(r.data() + 0x1F8, 3);
  size_t siglen = 0;
  Bytes sig(128);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, p.leaf_key.get());
  EVP_DigestSign(ctx, nullptr, &siglen, r.data(), 0x2A0);
  EVP_DigestSign(ctx, sig.data(), &siglen, r.data(), 0x2A0);
  EVP_MD_CTX_free(ctx);
  const unsigned char* q = sig.data();
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &q, long(siglen));
  uint8_t be[48];
  BN_bn2binpad(ECDSA_SIG_get0_r(es), be, 48);
  for (int i = 0; i < 48; ++i) r[0x2A0 + i] = be[47 - i];
  BN_bn2binpad(ECDSA_SIG_get0_s(es), be, 48);
  for (int i = 0; i < 48; ++i) r[0x2E8 + i] = be[47 - i];
  ECDSA_SIG_free(es);
  return r;
}

constexpr uint64_t kMilanTcb = 0x7308000000000003ull;  // bl 3, tee 0, snp 8, ucode 0x73

TEST(SnpSynthetic, PrivateMilanPkiVerifiesAndPolicyBitsApply) {
  LeafTcb tcb;
  auto pki = make_pki("Milan", false, tcb);
  Bytes report = signed_report(*pki, kMilanTcb, tcb.hwid);
  auto v = verify_report(report, certs_of(*pki), SnpPolicy{}, kAt);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v->report.cpuid_mod_id, 0x11);
  // Without the override the pinned AMD ARK rejects the private chain.
  SnpCerts pinned = certs_of(*pki);
  pinned.root_pem_override.reset();
  EXPECT_EQ(verify_report(report, pinned, SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  // Debug (bit 19) and migration agent (bit 18) on validly signed reports.
  Bytes debug = signed_report(*pki, kMilanTcb, tcb.hwid, 3, 0x30000 | (1u << 19));
  EXPECT_EQ(verify_report(debug, certs_of(*pki), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_DEBUG_NOT_ALLOWED);
  Bytes ma = signed_report(*pki, kMilanTcb, tcb.hwid, 3, 0x30000 | (1u << 18));
  EXPECT_EQ(verify_report(ma, certs_of(*pki), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_POLICY_VIOLATION);
  SnpPolicy allow_ma;
  allow_ma.allow_migration_agent = true;
  EXPECT_EQ(verify_report(ma, certs_of(*pki), allow_ma, kAt).code(), ErrorCode::OK);
}

TEST(SnpSynthetic, TcbAndHwIdBinding) {
  LeafTcb tcb;
  auto pki = make_pki("Milan", false, tcb);
  // Report claims snp 9, the VCEK was issued for snp 8.
  Bytes higher = signed_report(*pki, kMilanTcb + (uint64_t(1) << 48), tcb.hwid);
  EXPECT_EQ(verify_report(higher, certs_of(*pki), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_TCB_MISMATCH);
  Bytes other_chip = tcb.hwid;
  other_chip[63] ^= 1;
  Bytes wrong_chip = signed_report(*pki, kMilanTcb, other_chip);
  EXPECT_EQ(verify_report(wrong_chip, certs_of(*pki), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_TCB_MISMATCH);
}

TEST(SnpSynthetic, TurinLayoutWithFmcAndEightByteHwId) {
  LeafTcb tcb;
  tcb.fmc = 1;
  tcb.bl = 2;
  tcb.tee = 3;
  tcb.snp = 4;
  tcb.ucode = 0x44;
  tcb.hwid = Bytes{1, 2, 3, 4, 5, 6, 7, 8};
  auto pki = make_pki("Turin", false, tcb);
  uint64_t raw = 0x4400000004030201ull;
  Bytes chip(64, 0);
  std::copy(tcb.hwid.begin(), tcb.hwid.end(), chip.begin());
  auto v = verify_report(signed_report(*pki, raw, chip, 5), certs_of(*pki), SnpPolicy{}, kAt);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->product, Product::kTurin);
  auto j = to_json(*v);
  EXPECT_EQ(j["reported_tcb"]["fmc"], 1);
  EXPECT_EQ(j["reported_tcb"]["bootloader"], 2);
  EXPECT_EQ(j["launch_mit_vector"], 3);
  // fmc 2 in the report, 1 in the VCEK.
  EXPECT_EQ(verify_report(signed_report(*pki, raw + 1, chip, 5), certs_of(*pki), SnpPolicy{}, kAt).code(),
            ErrorCode::ATTEST_TCB_MISMATCH);
}

TEST(SnpSynthetic, VlekChain) {
  LeafTcb tcb;
  auto pki = make_pki("Genoa", true, tcb);
  Bytes report = signed_report(*pki, kMilanTcb, Bytes(64, 0x11));  // chip_id is not bound for a VLEK
  auto v = verify_report(report, certs_of(*pki), SnpPolicy{}, kAt);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->signing_key, SigningKey::kVlek);
  EXPECT_EQ(v->product, Product::kGenoa);
  EXPECT_EQ(to_json(*v)["signing_key"], "VLEK");
  // The ASVK is not built in.
  EXPECT_EQ(verify_report(report, certs_of(*pki, false), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_CHAIN_INVALID);
  SnpPolicy vcek_only;
  vcek_only.required_signing_key = SigningKey::kVcek;
  EXPECT_EQ(verify_report(report, certs_of(*pki), vcek_only, kAt).code(), ErrorCode::ATTEST_POLICY_VIOLATION);
}

TEST(SnpSynthetic, Pkcs1LinksAreRejected) {
  LeafTcb tcb;
  auto pki = make_pki("Milan", false, tcb, /*pss_links=*/false);
  Bytes report = signed_report(*pki, kMilanTcb, tcb.hwid);
  EXPECT_EQ(verify_report(report, certs_of(*pki), SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_BAD_ALG);
}

Bytes make_crl(EVP_PKEY* issuer_key, const std::string& issuer_cn, std::optional<long> revoked_serial) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_NAME* iss = X509_NAME_new();
  X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(issuer_cn.c_str()), -1, -1, 0);
  X509_CRL_set_issuer_name(crl, iss);
  X509_NAME_free(iss);
  ASN1_TIME* last = ASN1_TIME_set(nullptr, time_t(kAt / 1000 - kDay));
  ASN1_TIME* next = ASN1_TIME_set(nullptr, time_t(kAt / 1000 + kDay));
  X509_CRL_set1_lastUpdate(crl, last);
  X509_CRL_set1_nextUpdate(crl, next);
  if (revoked_serial) {
    X509_REVOKED* rev = X509_REVOKED_new();
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set(serial, *revoked_serial);
    X509_REVOKED_set_serialNumber(rev, serial);
    X509_REVOKED_set_revocationDate(rev, last);
    X509_CRL_add0_revoked(crl, rev);
    ASN1_INTEGER_free(serial);
  }
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  sign_with(issuer_key, true, [&](EVP_MD_CTX* ctx) { return X509_CRL_sign_ctx(crl, ctx); });
  unsigned char* buf = nullptr;
  int n = i2d_X509_CRL(crl, &buf);
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  X509_CRL_free(crl);
  return out;
}

TEST(SnpSynthetic, RevocationByArkAndAskCrls) {
  LeafTcb tcb;
  auto pki = make_pki("Milan", false, tcb);
  Bytes report = signed_report(*pki, kMilanTcb, tcb.hwid);
  SnpCerts certs = certs_of(*pki);
  certs.crls = {make_crl(pki->ark_key.get(), "ARK-Milan", std::nullopt)};
  auto ok = verify_report(report, certs, SnpPolicy{}, kAt);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_TRUE(ok->crl_checked);
  certs.crls = {make_crl(pki->ark_key.get(), "ARK-Milan", 2)};  // the ASK's serial
  EXPECT_EQ(verify_report(report, certs, SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_REVOKED);
  certs.crls = {make_crl(pki->ask_key.get(), "SEV-Milan", 3)};  // the VCEK's serial
  EXPECT_EQ(verify_report(report, certs, SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_REVOKED);
  certs.crls = {make_crl(pki->ask_key.get(), "SEV-Milan", 99)};
  EXPECT_EQ(verify_report(report, certs, SnpPolicy{}, kAt).code(), ErrorCode::OK);
  // A CRL claiming the ARK's name but signed by another key.
  certs.crls = {make_crl(pki->ask_key.get(), "ARK-Milan", std::nullopt)};
  EXPECT_EQ(verify_report(report, certs, SnpPolicy{}, kAt).code(), ErrorCode::ATTEST_CHAIN_INVALID);
}

}  // namespace
}  // namespace cpipe::attest::snp
