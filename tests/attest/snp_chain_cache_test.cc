// AmdChainCache (core/attest/snp/amd_chain_cache.h): a memoized answer is the uncached one —
// for a good chain and for every failure the synthetic tests produce (foreign root, expired,
// revoked by the ARK's or the ASK's CRL, a CRL outside its window or signed by the wrong key, a
// bad signature, a PKCS#1 link) — second identical calls hit, any input or time change that can
// change the answer misses, the tables stay bounded, and verify_report / the runtime verifier
// say the same with the memo as without it. The PKI is the simulator's (sim_amd_pki.h).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <vector>

#include "backends/simulated/snp/sim_amd_keys.h"
#include "backends/simulated/snp/sim_amd_pki.h"
#include "core/attest/snp/amd_chain_cache.h"
#include "core/attest/snp/snp_verifier.h"

namespace cpipe::attest::snp {
namespace {

constexpr int64_t kAt = 1748736000123;  // 2025-06-01T00:00:00.123Z
constexpr int64_t kDay = 86400;
constexpr int64_t kNotBefore = 1577836800000;  // 2020-01-01
constexpr int64_t kNotAfter = 2524607999000;   // 2049-12-31T23:59:59Z

const sim::SimAmdPki& pki() {
  static const sim::SimAmdPki p = sim::make_sim_amd_pki(to_bytes("chain cache test"), kNotBefore, kNotAfter).value();
  return p;
}

crypto::EvpPkeyPtr ark_key() { return sim::load_private_key_pem(sim::sim_ark_private_key_pem()).value(); }
crypto::EvpPkeyPtr ask_key() { return sim::load_private_key_pem(sim::sim_ask_private_key_pem()).value(); }

int64_t serial_of(const Bytes& der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, long(der.size()));
  int64_t v = -1;
  if (x != nullptr) ASN1_INTEGER_get_int64(&v, X509_get0_serialNumber(x));
  X509_free(x);
  return v;
}

Bytes make_crl(EVP_PKEY* key, const std::string& cn, std::optional<int64_t> revoked, int64_t last_s, int64_t next_s) {
  auto crl = sim::make_amd_crl(key, cn, revoked, last_s, next_s);
  EXPECT_TRUE(crl.ok()) << crl.status().to_string();
  return crl.ok() ? *crl : Bytes{};
}

Bytes default_crl(EVP_PKEY* key, const std::string& cn, std::optional<int64_t> revoked) {
  return make_crl(key, cn, revoked, kAt / 1000 - kDay, kAt / 1000 + kDay);
}

ChainInput good_input() {
  ChainInput in;
  in.leaf_der = pki().vcek_der;
  in.product = Product::kMilan;
  in.kind = SigningKey::kVcek;
  in.intermediates_der = {pki().ask_der};
  in.root_override_der = pki().ark_der;
  in.at_unix_ms = kAt;
  return in;
}

void expect_same_summary(const CertSummary& a, const CertSummary& b) {
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.issuer, b.issuer);
  EXPECT_EQ(a.not_before_unix_ms, b.not_before_unix_ms);
  EXPECT_EQ(a.not_after_unix_ms, b.not_after_unix_ms);
  EXPECT_EQ(a.sha256_hex, b.sha256_hex);
}

// The memo's answer must be the uncached one: same status (code and message), same result.
void expect_same(const Result<ChainResult>& cached, const Result<ChainResult>& uncached) {
  ASSERT_EQ(cached.status(), uncached.status()) << cached.status().to_string() << " vs "
                                                << uncached.status().to_string();
  if (!uncached.ok()) return;
  expect_same_summary(cached->leaf, uncached->leaf);
  expect_same_summary(cached->intermediate, uncached->intermediate);
  expect_same_summary(cached->root, uncached->root);
  EXPECT_EQ(cached->valid_from_unix_ms, uncached->valid_from_unix_ms);
  EXPECT_EQ(cached->valid_until_unix_ms, uncached->valid_until_unix_ms);
  EXPECT_EQ(cached->crl_checked, uncached->crl_checked);
}

// Miss then hit, both equal to the uncached answer, whose code is `want`.
void expect_memoized(AmdChainCache& cache, const ChainInput& in, ErrorCode want, const std::string& what) {
  SCOPED_TRACE(what);
  Result<ChainResult> uncached = verify_amd_chain(in);
  EXPECT_EQ(uncached.code(), want) << uncached.status().to_string();
  uint64_t hits = cache.chain_hits(), misses = cache.chain_misses();
  expect_same(cache.verify_chain(in), uncached);
  EXPECT_EQ(cache.chain_misses(), misses + 1);
  EXPECT_EQ(cache.chain_hits(), hits);
  expect_same(cache.verify_chain(in), uncached);
  EXPECT_EQ(cache.chain_hits(), hits + 1);
  EXPECT_EQ(cache.chain_misses(), misses + 1);
}

TEST(AmdChainCache, GoodChainIsMemoizedAndEqualsUncached) {
  AmdChainCache cache;
  expect_memoized(cache, good_input(), ErrorCode::OK, "sim chain with the ASK");
  ChainInput builtin_less = good_input();
  builtin_less.intermediates_der.push_back(pki().ark_der);  // the ARK in the chain as well
  expect_memoized(cache, builtin_less, ErrorCode::OK, "ASK and ARK in the chain");
  ChainInput with_crls = good_input();
  auto ark = ark_key();
  auto ask = ask_key();
  with_crls.crls = {default_crl(ark.get(), "ARK-Milan", std::nullopt), default_crl(ask.get(), "SEV-Milan", 99)};
  expect_memoized(cache, with_crls, ErrorCode::OK, "clean CRLs");
  EXPECT_TRUE(cache.verify_chain(with_crls)->crl_checked);
  // Another millisecond of the same second: a success does not depend on it.
  ChainInput later = good_input();
  later.at_unix_ms = kAt + 500;
  uint64_t hits = cache.chain_hits();
  expect_same(cache.verify_chain(later), verify_amd_chain(later));
  EXPECT_EQ(cache.chain_hits(), hits + 1);
}

TEST(AmdChainCache, EveryFailureIsMemoizedAsTheUncachedAnswer) {
  AmdChainCache cache;
  auto ark = ark_key();
  auto ask = ask_key();
  ChainInput in = good_input();
  in.root_override_der.reset();  // the pinned AMD ARK-Milan did not sign the simulated ASK
  expect_memoized(cache, in, ErrorCode::ATTEST_CHAIN_INVALID, "wrong root");
  in = good_input();
  in.intermediates_der.push_back(pki().ask_der);
  in.root_override_der = pki().ask_der;  // an "override" that is not the chain's ARK
  expect_memoized(cache, in, ErrorCode::ATTEST_CHAIN_INVALID, "override is not the issuer");
  in = good_input();
  in.at_unix_ms = kNotAfter + 1000;
  expect_memoized(cache, in, ErrorCode::ATTEST_CERT_EXPIRED, "expired");
  in.at_unix_ms = kNotBefore - 1000;
  expect_memoized(cache, in, ErrorCode::ATTEST_CERT_EXPIRED, "not yet valid");
  in = good_input();
  in.crls = {default_crl(ark.get(), "ARK-Milan", 2)};  // the ASK's serial
  expect_memoized(cache, in, ErrorCode::ATTEST_REVOKED, "ASK revoked by the ARK");
  in.crls = {default_crl(ask.get(), "SEV-Milan", serial_of(pki().vcek_der))};
  expect_memoized(cache, in, ErrorCode::ATTEST_REVOKED, "VCEK revoked by the ASK");
  in.crls = {default_crl(ask.get(), "ARK-Milan", std::nullopt)};
  expect_memoized(cache, in, ErrorCode::ATTEST_CHAIN_INVALID, "CRL signed by the wrong key");
  in.crls = {make_crl(ark.get(), "ARK-Milan", std::nullopt, kAt / 1000 - 2 * kDay, kAt / 1000 - kDay)};
  expect_memoized(cache, in, ErrorCode::ATTEST_CERT_EXPIRED, "CRL past its nextUpdate");
  in.crls = {to_bytes("not a CRL")};
  expect_memoized(cache, in, ErrorCode::ATTEST_BAD_FORMAT, "malformed CRL");
  in = good_input();
  in.leaf_der.back() ^= 0x01;  // the last byte of the ASK's signature over the VCEK
  expect_memoized(cache, in, ErrorCode::ATTEST_CHAIN_INVALID, "bad VCEK signature");
  in = good_input();
  in.kind = SigningKey::kVlek;  // a VLEK needs an ASVK, not the ASK
  expect_memoized(cache, in, ErrorCode::ATTEST_CHAIN_INVALID, "wrong intermediate");

  // A PKCS#1 v1.5 VCEK link (AMD signs with PSS only).
  auto vcek_pub = sim::p384_public_key(pki().vcek_key.public_point).value();
  sim::AmdCertSpec spec{"SEV-VCEK", "SEV-Milan", vcek_pub.get(), ask.get(), 7, /*pss=*/false, false,
                        kNotBefore, kNotAfter, sim::amd_signing_cert_extensions(pki().tcb, pki().chip_id)};
  in = good_input();
  in.leaf_der = sim::make_amd_certificate(spec).value();
  expect_memoized(cache, in, ErrorCode::ATTEST_BAD_ALG, "PKCS#1 link");
}

TEST(AmdChainCache, TimeAndCrlsAreInTheKey) {
  AmdChainCache cache;
  ChainInput in = good_input();
  ASSERT_TRUE(cache.verify_chain(in).ok());
  // Another second: another key.
  in.at_unix_ms = kAt + 1000;
  ASSERT_TRUE(cache.verify_chain(in).ok());
  EXPECT_EQ(cache.chain_misses(), 2u);
  EXPECT_EQ(cache.chain_hits(), 0u);
  // Another CRL list: another key, and the revocation is seen.
  auto ark = ark_key();
  in.crls = {default_crl(ark.get(), "ARK-Milan", std::nullopt)};
  ASSERT_TRUE(cache.verify_chain(in).ok());
  in.crls = {default_crl(ark.get(), "ARK-Milan", 2)};
  EXPECT_EQ(cache.verify_chain(in).code(), ErrorCode::ATTEST_REVOKED);
  EXPECT_EQ(cache.chain_misses(), 4u);
  EXPECT_EQ(cache.chain_hits(), 0u);

  // A CRL's nextUpdate is a whole second N: at exactly N it is valid, one millisecond later not,
  // although both times are in the same second; the key tells them apart.
  int64_t next_s = kAt / 1000 + 10;
  in.crls = {make_crl(ark.get(), "ARK-Milan", std::nullopt, kAt / 1000 - kDay, next_s)};
  in.at_unix_ms = next_s * 1000;
  expect_same(cache.verify_chain(in), verify_amd_chain(in));
  EXPECT_TRUE(cache.verify_chain(in).ok());
  in.at_unix_ms = next_s * 1000 + 1;
  expect_same(cache.verify_chain(in), verify_amd_chain(in));
  EXPECT_EQ(cache.verify_chain(in).code(), ErrorCode::ATTEST_CERT_EXPIRED);
  // The error quotes the time to the millisecond: another millisecond of that second recomputes.
  uint64_t misses = cache.chain_misses();
  in.at_unix_ms = next_s * 1000 + 2;
  expect_same(cache.verify_chain(in), verify_amd_chain(in));
  EXPECT_EQ(cache.chain_misses(), misses + 1);
}

TEST(AmdChainCache, TablesAreBounded) {
  AmdChainCache cache(2);
  ChainInput in = good_input();
  for (int i = 0; i < 5; ++i) {
    in.at_unix_ms = kAt + i * 1000;
    ASSERT_TRUE(cache.verify_chain(in).ok());
    EXPECT_LE(cache.chain_entries(), 2u);
  }
  EXPECT_EQ(cache.chain_misses(), 5u);
  in.at_unix_ms = kAt;  // evicted by the later ones
  ASSERT_TRUE(cache.verify_chain(in).ok());
  EXPECT_EQ(cache.chain_misses(), 6u);
  EXPECT_EQ(cache.chain_hits(), 0u);
  // The certificate table too.
  for (const Bytes* der : {&pki().vcek_der, &pki().ask_der, &pki().ark_der}) (void)cache.parse_signing_cert(*der);
  EXPECT_LE(cache.cert_entries(), 2u);
  EXPECT_EQ(cache.cert_misses(), 3u);
}

TEST(AmdChainCache, SigningCertParseIsMemoized) {
  AmdChainCache cache;
  auto uncached = parse_signing_cert(pki().vcek_der);
  ASSERT_TRUE(uncached.ok()) << uncached.status().to_string();
  for (int i = 0; i < 2; ++i) {
    auto cached = cache.parse_signing_cert(pki().vcek_der);
    ASSERT_TRUE(cached.ok());
    EXPECT_EQ(cached->kind, uncached->kind);
    EXPECT_EQ(cached->product, uncached->product);
    EXPECT_EQ(cached->product_name, uncached->product_name);
    EXPECT_EQ(cached->bl_spl, uncached->bl_spl);
    EXPECT_EQ(cached->snp_spl, uncached->snp_spl);
    EXPECT_EQ(cached->ucode_spl, uncached->ucode_spl);
    EXPECT_EQ(cached->hwid, uncached->hwid);
    EXPECT_EQ(cached->public_key_spki, uncached->public_key_spki);
    expect_same_summary(cached->summary, uncached->summary);
  }
  EXPECT_EQ(cache.cert_misses(), 1u);
  EXPECT_EQ(cache.cert_hits(), 1u);
  // Errors too: the ASK is not a VCEK/VLEK.
  auto bad = parse_signing_cert(pki().ask_der);
  ASSERT_EQ(bad.code(), ErrorCode::ATTEST_CHAIN_INVALID);
  EXPECT_EQ(cache.parse_signing_cert(pki().ask_der).status(), bad.status());
  EXPECT_EQ(cache.parse_signing_cert(pki().ask_der).status(), bad.status());
  EXPECT_EQ(cache.cert_hits(), 2u);
}

Bytes sim_report(uint64_t tcb_raw) {
  sim::SnpReportSpec spec;
  spec.tcb_raw = tcb_raw;
  spec.chip_id = pki().chip_id;
  spec.measurement = Bytes(48, 0x5A);
  return sim::make_signed_snp_report(spec, pki().vcek_key).value();
}

SnpCerts sim_certs() {
  SnpCerts c;
  c.signing_cert = pki().vcek_der;
  c.chain_pem = sim::certificate_der_to_pem(pki().ask_der).value();
  c.root_pem_override = sim::certificate_der_to_pem(pki().ark_der).value();
  return c;
}

TEST(AmdChainCache, VerifyReportSaysTheSameWithTheMemo) {
  AmdChainCache cache;
  Bytes report = sim_report(sim::amd_tcb_raw(pki().tcb));
  auto uncached = verify_report(report, sim_certs(), SnpPolicy{}, kAt);
  ASSERT_TRUE(uncached.ok()) << uncached.status().to_string();
  for (int i = 0; i < 2; ++i) {
    auto cached = verify_report(report, sim_certs(), SnpPolicy{}, kAt, &cache);
    ASSERT_TRUE(cached.ok()) << cached.status().to_string();
    EXPECT_EQ(to_json(*cached), to_json(*uncached));
  }
  EXPECT_EQ(cache.chain_hits(), 1u);
  EXPECT_EQ(cache.cert_hits(), 1u);
  // The report's own checks still run on a memoized chain: a TCB the VCEK was not issued for,
  // and a report altered after signing.
  Bytes other_tcb = sim_report(sim::amd_tcb_raw(pki().tcb) + (uint64_t(1) << 48));
  EXPECT_EQ(verify_report(other_tcb, sim_certs(), SnpPolicy{}, kAt, &cache).status(),
            verify_report(other_tcb, sim_certs(), SnpPolicy{}, kAt).status());
  EXPECT_EQ(verify_report(other_tcb, sim_certs(), SnpPolicy{}, kAt, &cache).code(), ErrorCode::ATTEST_TCB_MISMATCH);
  Bytes altered = report;
  altered[0x90] ^= 1;  // inside MEASUREMENT
  EXPECT_EQ(verify_report(altered, sim_certs(), SnpPolicy{}, kAt, &cache).code(), ErrorCode::ATTEST_SIGNATURE_INVALID);
  EXPECT_GE(cache.chain_hits(), 3u);
}

}  // namespace
}  // namespace cpipe::attest::snp
