// Paths no real evidence here exercises, on a private AMD-shaped PKI built with the simulator's
// AMD PKI code (RSA-PSS SHA-384 ARK/ASK/ASVK, P-384 VCEK/VLEK with AMD's TCB extensions; test
// keys, not the simulator's) and reports signed with it:
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

#include "backends/simulated/snp/sim_amd_pki.h"
#include "core/attest/snp/snp_verifier.h"

namespace cpipe::attest::snp {
namespace {

constexpr int64_t kAt = 1748736000000;  // 2025-06-01
constexpr int64_t kDay = 86400;
constexpr int64_t kDayMs = kDay * 1000;

using crypto::EvpPkeyPtr;
using sim::AmdCertSpec;
using sim::AmdTcb;

EvpPkeyPtr rsa_key() { return EvpPkeyPtr(EVP_RSA_gen(2048)); }

// Signs with RSASSA-PSS/SHA-384 (salt 48), like AMD (the CRLs below; certificates and reports
// come from the simulator's AMD PKI code, backends/simulated/snp/sim_amd_pki.h).
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

struct Pki {
  EvpPkeyPtr ark_key = rsa_key(), ask_key = rsa_key();
  sim::SimP384Key leaf_key;
  Bytes ark, ask, leaf;  // DER
  std::string product;
  bool vlek = false;
};

struct LeafTcb : AmdTcb {
  Bytes hwid = Bytes(64, 0xAB);
};

Bytes cert(const std::string& subject, const std::string& issuer, EVP_PKEY* subject_key, EVP_PKEY* issuer_key,
           int64_t serial, bool pss, bool is_ca, std::vector<std::pair<std::string, Bytes>> exts = {}) {
  AmdCertSpec spec{subject, issuer, subject_key, issuer_key, serial, pss, is_ca,
                   kAt - 365 * kDayMs, kAt + 365 * kDayMs, std::move(exts)};
  auto der = sim::make_amd_certificate(spec);
  EXPECT_TRUE(der.ok()) << der.status().to_string();
  return der.ok() ? *der : Bytes{};
}

std::string pem(const Bytes& der) { return sim::certificate_der_to_pem(der).value(); }

std::unique_ptr<Pki> make_pki(const std::string& product, bool vlek, const LeafTcb& tcb, bool pss_links = true) {
  auto p = std::make_unique<Pki>();
  p->product = product;
  p->vlek = vlek;
  p->leaf_key = sim::derive_p384_key(to_bytes("snp synthetic " + product), vlek ? "vlek" : "vcek").value();
  std::string ark_cn = "ARK-" + product;
  std::string ask_cn = (vlek ? "SEV-VLEK-" : "SEV-") + product;
  p->ark = cert(ark_cn, ark_cn, p->ark_key.get(), p->ark_key.get(), 1, true, true);
  p->ask = cert(ask_cn, ark_cn, p->ask_key.get(), p->ark_key.get(), 2, pss_links, true);
  auto leaf_pub = sim::p384_public_key(p->leaf_key.public_point).value();
  p->leaf = cert(vlek ? "SEV-VLEK" : "SEV-VCEK", ask_cn, leaf_pub.get(), p->ask_key.get(), 3, pss_links, false,
                 sim::amd_signing_cert_extensions(tcb, vlek ? std::nullopt : std::optional<Bytes>(tcb.hwid)));
  return p;
}

SnpCerts certs_of(const Pki& p, bool with_ask = true) {
  SnpCerts c;
  c.signing_cert = p.leaf;
  if (with_ask) c.chain_pem = pem(p.ask);
  c.root_pem_override = pem(p.ark);
  return c;
}

// A report over `tcb_raw` and chip_id, signed with the leaf key.
Bytes signed_report(const Pki& p, uint64_t tcb_raw, const Bytes& chip_id, uint32_t version = 3,
                    uint64_t policy = 0x30000) {
  sim::SnpReportSpec spec;
  spec.version = version;
  spec.policy = policy;
  spec.tcb_raw = tcb_raw;
  spec.vlek = p.vlek;
  for (int i = 0; i < 48; ++i) spec.measurement.push_back(uint8_t(i));
  spec.chip_id = chip_id;
  spec.cpuid_family = 0x19;
  spec.cpuid_model = 0x11;
  spec.mit_vector = 3;
  auto r = sim::make_signed_snp_report(spec, p.leaf_key);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : Bytes{};
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
  auto crl = sim::make_amd_crl(issuer_key, issuer_cn, revoked_serial, kAt / 1000 - kDay, kAt / 1000 + kDay);
  EXPECT_TRUE(crl.ok()) << crl.status().to_string();
  return crl.ok() ? *crl : Bytes{};
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
