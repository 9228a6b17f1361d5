// Simulated Nitro PKI. Certificates are assembled by hand around OpenSSL's TBS encoding so the
// signature comes from sim_p384_sign (deterministic) instead of X509_sign (OS randomness).
#include "backends/simulated/nsm/sim_nsm_pki.h"

#include "core/crypto/openssl_ptr.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <map>
#include <memory>

#include "backends/simulated/sim_pki_encoding.h"
#include "core/crypto/ecdsa.h"
#include "core/crypto/hash.h"

namespace cpipe::sim {
namespace {

// SHA-384 counter-mode stream keyed by a secret: the ECDSA nonce source of one signature.
class HashStream final : public runtime::Random {
 public:
  explicit HashStream(Bytes key) : key_(std::move(key)) {}
  void fill(MutableByteSpan out) override {
    size_t done = 0;
    while (done < out.size()) {
      Bytes block = key_;
      uint8_t ctr[8];
      store_u64_be(ctr, counter_++);
      block.insert(block.end(), ctr, ctr + 8);
      Bytes h = crypto::sha384(block);
      size_t n = std::min(h.size(), out.size() - done);
      std::copy(h.begin(), h.begin() + long(n), out.begin() + long(done));
      done += n;
    }
  }

 private:
  Bytes key_;
  uint64_t counter_ = 0;
};

using crypto::X509Ptr;

Status ssl_fail(const char* what) { return make_error(ErrorCode::CRYPTO_FAILURE, std::string("SimNsm PKI: ") + what); }


Result<EVP_PKEY*> public_pkey(ByteSpan point) {
  // SubjectPublicKeyInfo of an uncompressed P-384 point: fixed prefix + 0x04||X||Y.
  Bytes spki = hex_decode("3076301006072a8648ce3d020106052b81040022036200").value();
  spki.insert(spki.end(), point.begin(), point.end());
  const unsigned char* p = spki.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, long(spki.size()));
  if (key == nullptr) return ssl_fail("bad public point");
  return key;
}

Status add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return ssl_fail("extension");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : ssl_fail("X509_add_ext");
}

}  // namespace

Result<SimP384Key> derive_p384_key(ByteSpan seed, std::string_view label) {
  for (uint8_t counter = 0; counter < 16; ++counter) {
    Bytes in = to_bytes("cpipe.simnsm.key");
    in.insert(in.end(), label.begin(), label.end());
    in.push_back(0);
    in.insert(in.end(), seed.begin(), seed.end());
    in.push_back(counter);
    Bytes d = crypto::sha384(in);
    auto pub = crypto::ecdsa_p384_public_key(d);
    if (pub.ok()) return SimP384Key{std::move(d), std::move(*pub)};
    if (pub.code() != ErrorCode::CRYPTO_BAD_KEY) return pub.status();
  }
  return make_error(ErrorCode::INTERNAL, "no valid P-384 scalar from seed");
}

Result<Bytes> sim_p384_sign(const SimP384Key& key, ByteSpan message) {
  Bytes nonce_key = to_bytes("cpipe.simnsm.nonce");
  nonce_key.insert(nonce_key.end(), key.private_scalar.begin(), key.private_scalar.end());
  Bytes h = crypto::sha384(message);
  nonce_key.insert(nonce_key.end(), h.begin(), h.end());
  HashStream stream(crypto::sha384(nonce_key));
  return crypto::ecdsa_p384_sign(key.private_scalar, message, stream);
}

namespace {
Result<Bytes> make_certificate_uncached(const SimCertSpec& spec, const SimP384Key& subject_key,
                                   const SimP384Key& issuer_key, ByteSpan issuer_der) {
  X509Ptr cert(X509_new());
  if (!cert) return ssl_fail("X509_new");
  X509Ptr issuer;
  if (!issuer_der.empty()) {
    const unsigned char* p = issuer_der.data();
    issuer.reset(d2i_X509(nullptr, &p, long(issuer_der.size())));
    if (!issuer) return ssl_fail("issuer certificate");
  }
  X509_set_version(cert.get(), 2);
  BIGNUM* serial_bn = BN_bin2bn(spec.serial.data(), int(spec.serial.size()), nullptr);
  if (serial_bn == nullptr) return ssl_fail("serial");
  BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert.get()));
  BN_free(serial_bn);

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("US"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer.get()) : name);

  ASN1_TIME_set(X509_getm_notBefore(cert.get()), time_t(spec.not_before_ms / 1000));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), time_t(spec.not_after_ms / 1000));
  CPIPE_ASSIGN_OR_RETURN(EVP_PKEY * pkey, public_pkey(subject_key.public_point));
  int ok = X509_set_pubkey(cert.get(), pkey);
  EVP_PKEY_free(pkey);
  if (ok != 1) return ssl_fail("X509_set_pubkey");

  X509* iss = issuer ? issuer.get() : cert.get();
  std::string bc = spec.is_ca ? (spec.path_len >= 0 ? "critical,CA:TRUE,pathlen:" + std::to_string(spec.path_len)
                                                    : std::string("critical,CA:TRUE"))
                              : std::string("critical,CA:FALSE");
  CPIPE_RETURN_IF_ERROR(add_ext(cert.get(), iss, NID_basic_constraints, bc.c_str()));
  CPIPE_RETURN_IF_ERROR(add_ext(cert.get(), iss, NID_key_usage,
                                spec.is_ca ? "critical,digitalSignature,keyCertSign,cRLSign"
                                           : "critical,digitalSignature"));
  CPIPE_RETURN_IF_ERROR(add_ext(cert.get(), iss, NID_subject_key_identifier, "hash"));
  if (issuer) CPIPE_RETURN_IF_ERROR(add_ext(cert.get(), iss, NID_authority_key_identifier, "keyid:always"));

  // The TBS signature algorithm, then our own signature over the re-encoded TBS.
  X509_ALGOR* tbs_alg = const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(cert.get()));
  if (X509_ALGOR_set0(tbs_alg, OBJ_nid2obj(NID_ecdsa_with_SHA384), V_ASN1_UNDEF, nullptr) != 1) {
    return ssl_fail("signature algorithm");
  }
  unsigned char* tbs = nullptr;
  int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs);
  if (tbs_len <= 0) return ssl_fail("TBS encoding");
  Bytes tbs_der(tbs, tbs + tbs_len);
  OPENSSL_free(tbs);

  CPIPE_ASSIGN_OR_RETURN(Bytes rs, sim_p384_sign(issuer_key, tbs_der));
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(rs.data(), 48, nullptr);
  BIGNUM* s = BN_bin2bn(rs.data() + 48, 48, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return ssl_fail("ECDSA_SIG");
  }
  unsigned char* sig_der = nullptr;
  int sig_len = i2d_ECDSA_SIG(sig, &sig_der);
  ECDSA_SIG_free(sig);
  if (sig_len <= 0) return ssl_fail("i2d_ECDSA_SIG");
  Bytes bitstring = {0x00};
  bitstring.insert(bitstring.end(), sig_der, sig_der + sig_len);
  OPENSSL_free(sig_der);

  Bytes body = tbs_der;
  Bytes alg_id = hex_decode("300a06082a8648ce3d040303").value();  // ecdsa-with-SHA384
  body.insert(body.end(), alg_id.begin(), alg_id.end());
  der_tlv(body, 0x03, bitstring);
  Bytes out;
  der_tlv(out, 0x30, body);
  return out;
}

}  // namespace

// Certificates and PKIs are pure functions of their inputs (deterministic keys and signatures),
// and P-384 signing is slow in OpenSSL: a seed sweep makes the same ones in every run, so they
// are memoized per thread (the simulator is single-threaded). Keys: SHA-256 of length-prefixed
// inputs.
Result<Bytes> make_sim_certificate(const SimCertSpec& spec, const SimP384Key& subject_key,
                                   const SimP384Key& issuer_key, ByteSpan issuer_der) {
  thread_local std::map<std::string, Bytes> memo;
  Bytes in;
  put_memo_field(in, to_bytes(spec.common_name));
  put_memo_field(in, to_bytes(spec.organization));
  put_memo_field(in, spec.not_before_ms);
  put_memo_field(in, spec.not_after_ms);
  put_memo_field(in, int64_t(spec.is_ca));
  put_memo_field(in, int64_t(spec.path_len));
  put_memo_field(in, spec.serial);
  put_memo_field(in, subject_key.public_point);
  put_memo_field(in, issuer_key.private_scalar);
  put_memo_field(in, issuer_der);
  Bytes digest = crypto::sha256(in);
  std::string key(digest.begin(), digest.end());
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  CPIPE_ASSIGN_OR_RETURN(Bytes der, make_certificate_uncached(spec, subject_key, issuer_key, issuer_der));
  if (memo.size() > 4096) memo.clear();
  memo.emplace(std::move(key), der);
  return der;
}

Result<std::string> certificate_der_to_pem(ByteSpan der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
  if (!cert) return make_error(ErrorCode::INVALID_ARGUMENT, "not a DER certificate");
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_X509(bio, cert.get()) != 1) {
    BIO_free(bio);
    return ssl_fail("PEM_write_bio_X509");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, size_t(n));
  BIO_free(bio);
  return pem;
}

namespace {
Result<SimNitroPki> make_pki_uncached(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms);
}  // namespace

Result<SimNitroPki> make_sim_nitro_pki(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms) {
  return memoized_pki<SimNitroPki>(seed, not_before_ms, not_after_ms, make_pki_uncached);
}

namespace {
Result<SimNitroPki> make_pki_uncached(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms) {
  static const char* kNames[] = {"sim.nitro-enclaves", "us-sim-1.sim.nitro-enclaves",
                                 "zone-a.us-sim-1.sim.nitro-enclaves",
                                 "i-0sim.zone-a.us-sim-1.sim.nitro-enclaves"};
  SimNitroPki pki;
  for (int level = 0; level < 4; ++level) {
    CPIPE_ASSIGN_OR_RETURN(SimP384Key key, derive_p384_key(seed, "ca" + std::to_string(level)));
    SimCertSpec spec;
    spec.common_name = kNames[level];
    spec.not_before_ms = not_before_ms;
    spec.not_after_ms = not_after_ms;
    spec.is_ca = true;
    spec.path_len = level == 0 ? -1 : 3 - level;
    Bytes sn = crypto::sha256(to_bytes("serial" + std::to_string(level) + hex_encode(seed)));
    sn.resize(16);
    sn[0] = (sn[0] & 0x7f) | 0x01;
    spec.serial = sn;
    const SimP384Key& issuer_key = level == 0 ? key : pki.ca_keys.back();
    ByteSpan issuer_der = level == 0 ? ByteSpan() : ByteSpan(pki.cabundle.back());
    CPIPE_ASSIGN_OR_RETURN(Bytes der, make_sim_certificate(spec, key, issuer_key, issuer_der));
    pki.ca_keys.push_back(std::move(key));
    pki.cabundle.push_back(std::move(der));
  }
  CPIPE_ASSIGN_OR_RETURN(pki.leaf_key, derive_p384_key(seed, "enclave"));
  return pki;
}

}  // namespace

}  // namespace cpipe::sim
