// Nitro certificate chain validation over OpenSSL's X509_STORE_CTX.
#include "core/attest/nitro/nitro_chain.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <memory>

#include "core/crypto/openssl_ptr.h"

namespace cpipe::attest::nitro {
namespace {

using crypto::X509Ptr;

Result<X509Ptr> parse_der(ByteSpan der, const std::string& what) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return make_error(ErrorCode::ATTEST_BAD_FORMAT, what + " is not a DER certificate");
  if (p != der.data() + der.size()) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, what + " has bytes after the certificate");
  }
  return cert;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian); no libc time zone involved.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<int64_t> asn1_time_ms(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return make_error(ErrorCode::ATTEST_BAD_FORMAT, "certificate has an unreadable validity time");
  }
  int64_t days = days_from_civil(int64_t(tm.tm_year) + 1900, unsigned(tm.tm_mon + 1), unsigned(tm.tm_mday));
  return ((days * 24 + tm.tm_hour) * 60 + tm.tm_min) * 60000 + int64_t(tm.tm_sec) * 1000;
}

Result<CertSummary> summarize(X509* cert) {
  CertSummary s;
  CPIPE_ASSIGN_OR_RETURN(s.not_before_ms, asn1_time_ms(X509_get0_notBefore(cert)));
  CPIPE_ASSIGN_OR_RETURN(s.not_after_ms, asn1_time_ms(X509_get0_notAfter(cert)));
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) s.subject.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  return s;
}

Status map_verify_error(int err, int depth, size_t chain_len) {
  std::string where = depth < 0 ? "chain" : (depth == 0 ? "leaf certificate" :
                      "certificate " + std::to_string(chain_len - 1 - size_t(depth)) + " of cabundle");
  std::string what = X509_verify_cert_error_string(err);
  switch (err) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return make_error(ErrorCode::ATTEST_CERT_EXPIRED, where + ": " + what);
    default:
      return make_error(ErrorCode::ATTEST_CHAIN_INVALID, where + ": " + what);
  }
}

}  // namespace

Result<CertSummary> summarize_certificate(ByteSpan der) {
  CPIPE_ASSIGN_OR_RETURN(X509Ptr cert, parse_der(der, "certificate"));
  return summarize(cert.get());
}

Result<ChainResult> verify_nitro_chain(ByteSpan root_der, const std::vector<Bytes>& cabundle,
                                       ByteSpan leaf_der, int64_t at_unix_ms) {
  if (cabundle.empty()) return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "cabundle is empty");
  if (!std::equal(cabundle[0].begin(), cabundle[0].end(), root_der.begin(), root_der.end())) {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "cabundle[0] is not the pinned root certificate");
  }
  CPIPE_ASSIGN_OR_RETURN(X509Ptr root, parse_der(root_der, "pinned root"));
  std::vector<X509Ptr> intermediates;
  for (size_t i = 1; i < cabundle.size(); ++i) {
    CPIPE_ASSIGN_OR_RETURN(X509Ptr c, parse_der(cabundle[i], "cabundle[" + std::to_string(i) + "]"));
    intermediates.push_back(std::move(c));
  }
  CPIPE_ASSIGN_OR_RETURN(X509Ptr leaf, parse_der(leaf_der, "certificate"));

  crypto::X509StorePtr store(X509_STORE_new());
  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  crypto::X509BorrowedStackPtr untrusted(sk_X509_new_null());
  if (!store || !ctx || !untrusted || X509_STORE_add_cert(store.get(), root.get()) != 1) {
    return make_error(ErrorCode::INTERNAL, "OpenSSL X509 store setup failed");
  }
  for (auto& c : intermediates) sk_X509_push(untrusted.get(), c.get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return make_error(ErrorCode::INTERNAL, "X509_STORE_CTX_init failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // The caller's time, never the wall clock; the root's self-signature is checked too.
  // X509_V_FLAG_X509_STRICT is not set: real AWS leaf certificates have no Authority Key
  // Identifier, which strict mode rejects.
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at_unix_ms / 1000));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CHECK_SS_SIGNATURE);
  X509_VERIFY_PARAM_set_depth(param, static_cast<int>(cabundle.size()) + 1);

  if (X509_verify_cert(ctx.get()) != 1) {
    return map_verify_error(X509_STORE_CTX_get_error(ctx.get()),
                            X509_STORE_CTX_get_error_depth(ctx.get()), cabundle.size() + 1);
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  const size_t n = static_cast<size_t>(sk_X509_num(chain));
  if (n != cabundle.size() + 1) {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID,
                      "validated path has " + std::to_string(n) + " certificates; cabundle + leaf has " +
                          std::to_string(cabundle.size() + 1));
  }
  // chain[0] is the leaf, chain[n-1] the root: it must be cabundle reversed.
  for (size_t i = 1; i < n; ++i) {
    X509* expected = i == n - 1 ? root.get() : intermediates[n - 2 - i].get();
    if (X509_cmp(sk_X509_value(chain, static_cast<int>(i)), expected) != 0) {
      return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "cabundle is not in root-to-leaf order");
    }
  }

  EVP_PKEY* key = X509_get0_pubkey(leaf.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 384) {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "leaf key is not EC P-384");
  }
  char group[64] = {};
  size_t glen = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) != 1 ||
      std::string(group) != "secp384r1") {
    return make_error(ErrorCode::ATTEST_CHAIN_INVALID, "leaf key is not on P-384");
  }

  ChainResult out;
  unsigned char* spki = nullptr;
  int spki_len = i2d_PUBKEY(key, &spki);
  if (spki_len <= 0) return make_error(ErrorCode::INTERNAL, "i2d_PUBKEY failed");
  out.leaf_public_key.assign(spki, spki + spki_len);
  OPENSSL_free(spki);

  out.valid_from_ms = INT64_MIN;
  out.valid_until_ms = INT64_MAX;
  for (size_t i = n; i-- > 0;) {
    CPIPE_ASSIGN_OR_RETURN(CertSummary s, summarize(sk_X509_value(chain, static_cast<int>(i))));
    out.valid_from_ms = std::max(out.valid_from_ms, s.not_before_ms);
    out.valid_until_ms = std::min(out.valid_until_ms, s.not_after_ms);
    out.certs.push_back(std::move(s));
  }
  return out;
}

}  // namespace cpipe::attest::nitro
