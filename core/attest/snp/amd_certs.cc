// AMD certificate handling over OpenSSL 3. Chain building and time checks are OpenSSL's
// (X509_verify_cert with the caller's time set in the verify params, never the wall clock);
// what AMD adds on top — pinned ARK per product, RSA-PSS/SHA-384 on every link, names, the TCB
// extensions, CRLs issued by the ARK/ASK — is checked here explicitly.
#include "core/attest/snp/amd_certs.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/attest/snp/amd_roots.h"
#include "core/crypto/hash.h"
#include "core/crypto/openssl_ptr.h"

namespace cpipe::attest::snp {
namespace {

using crypto::BioPtr;
using crypto::OpenSslPtr;
using crypto::X509Ptr;
using CrlPtr = crypto::X509CrlPtr;
using StorePtr = crypto::X509StorePtr;
using StoreCtxPtr = crypto::X509StoreCtxPtr;
using ObjPtr = OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using IntPtr = OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Ia5Ptr = OpenSslPtr<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using TimePtr = OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;
using StackPtr = crypto::X509StackPtr;

Status fail(ErrorCode code, std::string msg) {
  ERR_clear_error();
  return make_error(code, std::move(msg));
}

bool looks_like_pem(ByteSpan d) {
  static constexpr std::string_view kBegin = "-----BEGIN";
  std::string_view s(reinterpret_cast<const char*>(d.data()), d.size());
  return s.find(kBegin) != std::string_view::npos;
}

Result<X509Ptr> x509_from_der(ByteSpan der) {
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, long(der.size())));
  if (!x) return fail(ErrorCode::ATTEST_BAD_FORMAT, "not a DER X.509 certificate");
  if (p != der.data() + der.size()) {
    return fail(ErrorCode::ATTEST_BAD_FORMAT, "trailing bytes after the DER certificate");
  }
  return x;
}

Bytes x509_to_der(X509* x) {
  unsigned char* buf = nullptr;
  int n = i2d_X509(x, &buf);
  if (n <= 0) return {};
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

std::string name_oneline(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

std::string common_name(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), size_t(ASN1_STRING_length(s)));
}

int64_t asn1_time_to_unix_ms(const ASN1_TIME* t) {
  TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0, secs = 0;
  if (!epoch || !ASN1_TIME_diff(&days, &secs, epoch.get(), t)) return 0;
  return (int64_t(days) * 86400 + secs) * 1000;
}

CertSummary summarize(X509* x) {
  CertSummary s;
  s.subject = name_oneline(X509_get_subject_name(x));
  s.issuer = name_oneline(X509_get_issuer_name(x));
  s.not_before_unix_ms = asn1_time_to_unix_ms(X509_get0_notBefore(x));
  s.not_after_unix_ms = asn1_time_to_unix_ms(X509_get0_notAfter(x));
  s.sha256_hex = hex_encode(crypto::sha256(x509_to_der(x)));
  return s;
}

// The DER contents of the extension `oid`, nullopt when absent; ATTEST_BAD_FORMAT when present
// more than once.
Result<std::optional<ByteSpan>> find_ext(X509* x, const char* oid) {
  ObjPtr obj(OBJ_txt2obj(oid, 1));
  if (!obj) return fail(ErrorCode::INTERNAL, std::string("bad OID ") + oid);
  int idx = X509_get_ext_by_OBJ(x, obj.get(), -1);
  if (idx < 0) return std::optional<ByteSpan>();
  if (X509_get_ext_by_OBJ(x, obj.get(), idx) >= 0) {
    return fail(ErrorCode::ATTEST_BAD_FORMAT, std::string("duplicate extension ") + oid);
  }
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
  return std::optional<ByteSpan>(ByteSpan(ASN1_STRING_get0_data(v), size_t(ASN1_STRING_length(v))));
}

Result<std::optional<uint8_t>> spl_ext(X509* x, const char* oid) {
  CPIPE_ASSIGN_OR_RETURN(auto raw, find_ext(x, oid));
  if (!raw) return std::optional<uint8_t>();
  const unsigned char* p = raw->data();
  IntPtr i(d2i_ASN1_INTEGER(nullptr, &p, long(raw->size())));
  int64_t v = -1;
  if (!i || p != raw->data() + raw->size() || !ASN1_INTEGER_get_int64(&v, i.get()) || v < 0 || v > 255) {
    return fail(ErrorCode::ATTEST_BAD_FORMAT, std::string("extension ") + oid + " is not an INTEGER 0..255");
  }
  return std::optional<uint8_t>(uint8_t(v));
}

// AMD signs every link with RSASSA-PSS over SHA-384.
Status check_pss_sha384(X509* x, const char* what) {
  int md_nid = NID_undef, pk_nid = NID_undef, secbits = 0;
  uint32_t flags = 0;
  if (!X509_get_signature_info(x, &md_nid, &pk_nid, &secbits, &flags) || pk_nid != NID_rsassaPss ||
      md_nid != NID_sha384) {
    return fail(ErrorCode::ATTEST_BAD_ALG, std::string(what) + " is not signed with RSA-PSS/SHA-384");
  }
  return Status::Ok();
}

Result<X509Ptr> x509_from_pem_text(std::string_view pem) {
  CPIPE_ASSIGN_OR_RETURN(Bytes der, load_certificate(as_bytes(pem)));
  return x509_from_der(der);
}

Result<CrlPtr> load_crl(ByteSpan d) {
  CrlPtr crl;
  if (looks_like_pem(d)) {
    BioPtr bio(BIO_new_mem_buf(d.data(), int(d.size())));
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = d.data();
    crl.reset(d2i_X509_CRL(nullptr, &p, long(d.size())));
    if (crl && p != d.data() + d.size()) crl.reset();
  }
  if (!crl) return fail(ErrorCode::ATTEST_BAD_FORMAT, "CRL is not a DER or PEM X.509 CRL");
  return crl;
}

// Checks `crl` (issued by `issuer`) at time t and whether it lists `subject`.
Status check_crl(X509_CRL* crl, X509* issuer, X509* subject, int64_t at_ms, const std::string& issuer_cn) {
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(crl, key) != 1) {
    return fail(ErrorCode::ATTEST_CHAIN_INVALID, "CRL signature by " + issuer_cn + " does not verify");
  }
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (!OBJ_find_sigid_algs(X509_CRL_get_signature_nid(crl), &md_nid, &pk_nid) || pk_nid != NID_rsassaPss) {
    return fail(ErrorCode::ATTEST_BAD_ALG, "CRL of " + issuer_cn + " is not signed with RSA-PSS");
  }
  int64_t last = asn1_time_to_unix_ms(X509_CRL_get0_lastUpdate(crl));
  const ASN1_TIME* next_t = X509_CRL_get0_nextUpdate(crl);
  if (at_ms < last || (next_t != nullptr && at_ms > asn1_time_to_unix_ms(next_t))) {
    return fail(ErrorCode::ATTEST_CERT_EXPIRED, "CRL of " + issuer_cn + " is not valid at " + format_rfc3339_ms(at_ms));
  }
  X509_REVOKED* rev = nullptr;
  if (X509_CRL_get0_by_cert(crl, &rev, subject) == 1) {
    return fail(ErrorCode::ATTEST_REVOKED, common_name(X509_get_subject_name(subject)) + " is revoked by the CRL of " + issuer_cn);
  }
  return Status::Ok();
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Result<Bytes> load_certificate(ByteSpan d) {
  CPIPE_ASSIGN_OR_RETURN(auto all, load_certificates(d));
  if (all.size() != 1) {
    return fail(ErrorCode::ATTEST_BAD_FORMAT, "expected one certificate, got " + std::to_string(all.size()));
  }
  return std::move(all[0]);
}

Result<std::vector<Bytes>> load_certificates(ByteSpan d) {
  std::vector<Bytes> out;
  if (d.empty()) return fail(ErrorCode::ATTEST_BAD_FORMAT, "empty certificate input");
  if (!looks_like_pem(d)) {
    CPIPE_ASSIGN_OR_RETURN(X509Ptr x, x509_from_der(d));
    out.emplace_back(d.begin(), d.end());
    return out;
  }
  BioPtr bio(BIO_new_mem_buf(d.data(), int(d.size())));
  ERR_clear_error();
  while (true) {
    X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    out.push_back(x509_to_der(x.get()));
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (out.empty() || !clean_end) {
    return fail(ErrorCode::ATTEST_BAD_FORMAT, "PEM input holds a malformed certificate");
  }
  ERR_clear_error();
  return out;
}

Result<SigningCertInfo> parse_signing_cert(ByteSpan der) {
  CPIPE_ASSIGN_OR_RETURN(X509Ptr x, x509_from_der(der));
  SigningCertInfo info;
  std::string subject_cn = common_name(X509_get_subject_name(x.get()));
  std::string issuer_cn = common_name(X509_get_issuer_name(x.get()));
  std::string_view product;
  if (subject_cn == "SEV-VCEK") {
    info.kind = SigningKey::kVcek;
    if (issuer_cn.rfind("SEV-", 0) == 0) product = std::string_view(issuer_cn).substr(4);
  } else if (subject_cn == "SEV-VLEK") {
    info.kind = SigningKey::kVlek;
    if (issuer_cn.rfind("SEV-VLEK-", 0) == 0) product = std::string_view(issuer_cn).substr(9);
  } else {
    return fail(ErrorCode::ATTEST_CHAIN_INVALID, "certificate subject CN \"" + subject_cn + "\" is not SEV-VCEK or SEV-VLEK");
  }
  auto p = product_from_name(product);
  if (!p) return fail(ErrorCode::ATTEST_CHAIN_INVALID, "unknown SEV-SNP product in issuer CN \"" + issuer_cn + "\"");
  info.product = *p;

  EVP_PKEY* key = X509_get0_pubkey(x.get());
  char group[64] = {0};
  size_t group_len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      !EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) || std::string_view(group) != "secp384r1") {
    return fail(ErrorCode::ATTEST_BAD_ALG, subject_cn + " key is not an EC P-384 key");
  }
  unsigned char* spki = nullptr;
  int n = i2d_PUBKEY(key, &spki);
  if (n <= 0) return fail(ErrorCode::CRYPTO_FAILURE, "cannot encode the VCEK public key");
  info.public_key_spki.assign(spki, spki + n);
  OPENSSL_free(spki);

  CPIPE_ASSIGN_OR_RETURN(info.bl_spl, spl_ext(x.get(), "1.3.6.1.4.1.3704.1.3.1"));
  CPIPE_ASSIGN_OR_RETURN(info.tee_spl, spl_ext(x.get(), "1.3.6.1.4.1.3704.1.3.2"));
  CPIPE_ASSIGN_OR_RETURN(info.snp_spl, spl_ext(x.get(), "1.3.6.1.4.1.3704.1.3.3"));
  CPIPE_ASSIGN_OR_RETURN(info.ucode_spl, spl_ext(x.get(), "1.3.6.1.4.1.3704.1.3.8"));
  CPIPE_ASSIGN_OR_RETURN(info.fmc_spl, spl_ext(x.get(), "1.3.6.1.4.1.3704.1.3.9"));
  CPIPE_ASSIGN_OR_RETURN(auto hwid, find_ext(x.get(), "1.3.6.1.4.1.3704.1.4"));
  if (hwid) info.hwid = Bytes(hwid->begin(), hwid->end());
  CPIPE_ASSIGN_OR_RETURN(auto pname, find_ext(x.get(), "1.3.6.1.4.1.3704.1.2"));
  if (pname) {
    const unsigned char* q = pname->data();
    Ia5Ptr s(d2i_ASN1_IA5STRING(nullptr, &q, long(pname->size())));
    if (!s || q != pname->data() + pname->size()) {
      return fail(ErrorCode::ATTEST_BAD_FORMAT, "product-name extension is not an IA5String");
    }
    info.product_name = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s.get())),
                                     size_t(ASN1_STRING_length(s.get())));
  }
  info.summary = summarize(x.get());
  ERR_clear_error();
  return info;
}

Result<ChainResult> verify_amd_chain(const ChainInput& in) {
  if (in.product == Product::kUnknown) return fail(ErrorCode::ATTEST_CHAIN_INVALID, "unknown product");
  const std::string prod(product_name(in.product));
  const std::string want_inter_cn = in.kind == SigningKey::kVlek ? "SEV-VLEK-" + prod : "SEV-" + prod;
  const std::string want_root_cn = "ARK-" + prod;

  CPIPE_ASSIGN_OR_RETURN(X509Ptr leaf, x509_from_der(in.leaf_der));
  X509Ptr root;
  if (in.root_override_der) {
    CPIPE_ASSIGN_OR_RETURN(root, x509_from_der(*in.root_override_der));
  } else {
    CPIPE_ASSIGN_OR_RETURN(root, x509_from_pem_text(builtin_ark_pem(in.product)));
  }
  const Bytes root_der = x509_to_der(root.get());

  // Intermediates: the given ones (an ARK among them must be the pinned one), else the built-in
  // ASK. A VLEK's ASVK is not built in.
  StackPtr untrusted(sk_X509_new_null());
  X509Ptr inter;
  for (const Bytes& der : in.intermediates_der) {
    CPIPE_ASSIGN_OR_RETURN(X509Ptr c, x509_from_der(der));
    std::string cn = common_name(X509_get_subject_name(c.get()));
    if (cn.rfind("ARK-", 0) == 0) {
      if (x509_to_der(c.get()) != root_der) {
        return fail(ErrorCode::ATTEST_CHAIN_INVALID,
                    "the chain's root \"" + cn + "\" is not the pinned " + want_root_cn);
      }
      continue;
    }
    if (cn != want_inter_cn) {
      return fail(ErrorCode::ATTEST_CHAIN_INVALID, "the chain's intermediate \"" + cn + "\" is not " + want_inter_cn +
                                                       " (wrong product chain?)");
    }
    if (inter && x509_to_der(inter.get()) == der) continue;  // the same ASK given twice
    if (inter) return fail(ErrorCode::ATTEST_CHAIN_INVALID, "two different " + want_inter_cn + " in the chain");
    inter = std::move(c);
  }
  if (!inter) {
    if (in.kind == SigningKey::kVlek) {
      return fail(ErrorCode::ATTEST_CHAIN_INVALID, "a VLEK needs its ASVK (" + want_inter_cn + ") in the chain");
    }
    CPIPE_ASSIGN_OR_RETURN(inter, x509_from_pem_text(builtin_ask_pem(in.product)));
  }
  if (common_name(X509_get_subject_name(root.get())) != want_root_cn && !in.root_override_der) {
    return fail(ErrorCode::INTERNAL, "built-in ARK has the wrong name");
  }
  CPIPE_RETURN_IF_ERROR(check_pss_sha384(leaf.get(), "the VCEK/VLEK"));
  CPIPE_RETURN_IF_ERROR(check_pss_sha384(inter.get(), want_inter_cn.c_str()));
  CPIPE_RETURN_IF_ERROR(check_pss_sha384(root.get(), want_root_cn.c_str()));
  X509_up_ref(inter.get());
  sk_X509_push(untrusted.get(), inter.get());

  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || !X509_STORE_add_cert(store.get(), root.get()) ||
      !X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get())) {
    return fail(ErrorCode::CRYPTO_FAILURE, "cannot set up the X.509 verifier");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, time_t(floor_div(in.at_unix_ms, 1000)));
  // The pinned root's self-signature is checked too: a corrupted built-in constant must fail.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CHECK_SS_SIGNATURE);
  int ok = X509_verify_cert(ctx.get());
  if (ok != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    std::string where = depth == 0 ? "VCEK/VLEK" : depth == 1 ? want_inter_cn : want_root_cn;
    std::string msg = where + ": " + X509_verify_cert_error_string(err);
    if (err == X509_V_ERR_CERT_NOT_YET_VALID || err == X509_V_ERR_CERT_HAS_EXPIRED) {
      return fail(ErrorCode::ATTEST_CERT_EXPIRED, msg + " at " + format_rfc3339_ms(in.at_unix_ms));
    }
    return fail(ErrorCode::ATTEST_CHAIN_INVALID, msg);
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  if (chain == nullptr || sk_X509_num(chain) != 3 || x509_to_der(sk_X509_value(chain, 2)) != root_der) {
    return fail(ErrorCode::ATTEST_CHAIN_INVALID, "the chain is not VCEK/VLEK -> " + want_inter_cn + " -> " + want_root_cn);
  }

  ChainResult out;
  for (const Bytes& crl_bytes : in.crls) {
    CPIPE_ASSIGN_OR_RETURN(CrlPtr crl, load_crl(crl_bytes));
    const X509_NAME* crl_issuer = X509_CRL_get_issuer(crl.get());
    if (X509_NAME_cmp(crl_issuer, X509_get_subject_name(root.get())) == 0) {
      CPIPE_RETURN_IF_ERROR(check_crl(crl.get(), root.get(), inter.get(), in.at_unix_ms, want_root_cn));
    } else if (X509_NAME_cmp(crl_issuer, X509_get_subject_name(inter.get())) == 0) {
      CPIPE_RETURN_IF_ERROR(check_crl(crl.get(), inter.get(), leaf.get(), in.at_unix_ms, want_inter_cn));
    } else {
      return fail(ErrorCode::ATTEST_CHAIN_INVALID,
                  "CRL issued by \"" + common_name(crl_issuer) + "\" does not belong to this chain");
    }
    out.crl_checked = true;
  }

  out.leaf = summarize(leaf.get());
  out.intermediate = summarize(inter.get());
  out.root = summarize(root.get());
  out.valid_from_unix_ms = std::max({out.leaf.not_before_unix_ms, out.intermediate.not_before_unix_ms,
                                     out.root.not_before_unix_ms});
  out.valid_until_unix_ms = std::min({out.leaf.not_after_unix_ms, out.intermediate.not_after_unix_ms,
                                      out.root.not_after_unix_ms});
  ERR_clear_error();
  return out;
}

std::string format_rfc3339_ms(int64_t unix_ms) {
  int64_t secs = floor_div(unix_ms, 1000);
  int64_t ms = unix_ms - secs * 1000;
  int64_t days = floor_div(secs, 86400);
  int64_t sod = secs - days * 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  auto two = [](int64_t v) {
    std::string s(2, '0');
    s[0] = char('0' + v / 10 % 10);
    s[1] = char('0' + v % 10);
    return s;
  };
  std::string out = std::to_string(y) + "-" + two(m) + "-" + two(d) + "T" + two(sod / 3600) + ":" +
                    two(sod / 60 % 60) + ":" + two(sod % 60);
  if (ms != 0) {
    out += '.';
    out += char('0' + ms / 100);
    out += two(ms % 100);
  }
  return out + "Z";
}

}  // namespace cpipe::attest::snp
