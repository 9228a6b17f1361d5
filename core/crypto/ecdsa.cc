// ECDSA over OpenSSL 3. Verification is deliberately stricter than OpenSSL's ECDSA_verify, which
// tolerates some non-DER encodings: a DER signature must re-encode to exactly the input bytes.
// Public keys pass through d2i_PUBKEY (which rejects points off the curve) and
// EVP_PKEY_public_check. The signer exists for the simulated NSM; it draws its nonce from
// runtime::Random so simulated runs stay reproducible.
#include "core/crypto/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <string_view>

#include "core/crypto/hash.h"
#include "core/crypto/openssl_ptr.h"

namespace cpipe::crypto {
namespace {

using PkeyPtr = EvpPkeyPtr;
using PkeyCtxPtr = EvpPkeyCtxPtr;
using SigPtr = EcdsaSigPtr;
using GroupPtr = EcGroupPtr;
using PointPtr = EcPointPtr;

struct CurveInfo {
  std::string_view group_name;  // as EVP_PKEY_get_group_name reports it
  size_t scalar_size;           // bytes of r, s, X, Y
  size_t digest_size;           // the paired SHA-2
  ByteSpan spki_prefix;         // SPKI DER up to the BIT STRING contents of an uncompressed point
};

// SEQUENCE { SEQUENCE { id-ecPublicKey, <named curve> }, BIT STRING (0 unused bits) ... }
constexpr uint8_t kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                       0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                       0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr uint8_t kP384SpkiPrefix[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                       0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                       0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00};

CurveInfo curve_info(EcCurve curve) {
  if (curve == EcCurve::kP256) return {"prime256v1", 32, 32, ByteSpan(kP256SpkiPrefix)};
  return {"secp384r1", 48, 48, ByteSpan(kP384SpkiPrefix)};
}

Status bad_key(const char* what) {
  ERR_clear_error();
  return make_error(ErrorCode::CRYPTO_BAD_KEY, what);
}
Status bad_signature(const char* what) {
  ERR_clear_error();
  return make_error(ErrorCode::CRYPTO_BAD_SIGNATURE, what);
}

Result<PkeyPtr> parse_public_key(const CurveInfo& info, ByteSpan public_key) {
  Bytes spki;
  ByteSpan der = public_key;
  if (!public_key.empty() && public_key[0] == 0x04) {
    if (public_key.size() != 1 + 2 * info.scalar_size) {
      return bad_key("uncompressed EC point has the wrong size for the curve");
    }
    spki.assign(info.spki_prefix.begin(), info.spki_prefix.end());
    spki.insert(spki.end(), public_key.begin(), public_key.end());
    der = spki;
  } else if (public_key.empty() || public_key[0] != 0x30) {
    return bad_key("EC public key is neither an uncompressed point nor DER SPKI");
  }
  const unsigned char* p = der.data();
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, long(der.size())));
  if (!pkey) return bad_key("EC public key does not parse (or the point is not on the curve)");
  if (p != der.data() + der.size()) return bad_key("trailing bytes after the EC public key");
  if (!EVP_PKEY_is_a(pkey.get(), "EC")) return bad_key("public key is not an EC key");
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof(group), &group_len) != 1 ||
      std::string_view(group, group_len) != info.group_name) {
    return bad_key("EC public key is on the wrong curve");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  // The quick check (point on the curve, not infinity) is the full check for the curves here:
  // P-256 and P-384 have cofactor 1, so every other point on them has order n, and the full
  // check's n*Q = O multiplication only doubled the cost of every verification.
  if (!ctx || EVP_PKEY_public_check_quick(ctx.get()) != 1) return bad_key("invalid EC public key");
  return pkey;
}

// The signature as the DER that EVP_PKEY_verify takes, or an error for anything that is not
// the unique encoding of (r, s).
Result<Bytes> signature_to_der(const CurveInfo& info, ByteSpan signature, SigFormat format) {
  SigPtr sig;
  if (format == SigFormat::kP1363) {
    if (signature.size() != 2 * info.scalar_size) {
      return bad_signature("P1363 signature has the wrong size for the curve");
    }
    sig.reset(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(signature.data(), int(info.scalar_size), nullptr);
    BIGNUM* s = BN_bin2bn(signature.data() + info.scalar_size, int(info.scalar_size), nullptr);
    if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ERR_clear_error();
      return make_error(ErrorCode::CRYPTO_FAILURE, "ECDSA_SIG allocation failed");
    }
  } else {
    const unsigned char* p = signature.data();
    sig.reset(d2i_ECDSA_SIG(nullptr, &p, long(signature.size())));
    if (!sig) return bad_signature("ECDSA signature is not DER");
    if (p != signature.data() + signature.size()) {
      return bad_signature("trailing bytes after the ECDSA signature");
    }
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return bad_signature("ECDSA signature does not re-encode");
  Bytes out(der, der + der_len);
  OPENSSL_free(der);
  if (format == SigFormat::kDer &&
      (out.size() != signature.size() || std::memcmp(out.data(), signature.data(), out.size()))) {
    return bad_signature("ECDSA signature is not minimal DER");
  }
  return out;
}

}  // namespace

Status ecdsa_verify(EcCurve curve, ByteSpan public_key, ByteSpan message, ByteSpan signature,
                    SigFormat format) {
  Bytes digest = curve == EcCurve::kP256 ? sha256(message) : sha384(message);
  return ecdsa_verify_digest(curve, public_key, digest, signature, format);
}

Status ecdsa_verify_digest(EcCurve curve, ByteSpan public_key, ByteSpan digest,
                           ByteSpan signature, SigFormat format) {
  CurveInfo info = curve_info(curve);
  if (digest.size() != info.digest_size) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "digest size does not match the curve");
  }
  CPIPE_ASSIGN_OR_RETURN(PkeyPtr pkey, parse_public_key(info, public_key));
  CPIPE_ASSIGN_OR_RETURN(Bytes der, signature_to_der(info, signature, format));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::CRYPTO_FAILURE, "EVP_PKEY_verify_init failed");
  }
  // 1 = valid; 0 = invalid; <0 = malformed (e.g. r or s zero or >= n): all "does not verify".
  if (EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.data(), digest.size()) != 1) {
    return bad_signature("ECDSA signature does not verify");
  }
  return Status::Ok();
}

namespace {

struct P384 {
  GroupPtr group;
  BnCtxPtr bn;
  const BIGNUM* order = nullptr;
};

Result<P384> p384() {
  P384 c{GroupPtr(EC_GROUP_new_by_curve_name(NID_secp384r1)), BnCtxPtr(BN_CTX_new()), nullptr};
  if (!c.group || !c.bn) return make_error(ErrorCode::CRYPTO_FAILURE, "P-384 setup failed");
  c.order = EC_GROUP_get0_order(c.group.get());
  return c;
}

// d in [1, n-1] from 48 big-endian bytes.
Result<BnPtr> private_scalar(const P384& c, ByteSpan private_key) {
  if (private_key.size() != kP384ScalarSize) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "P-384 private key must be 48 bytes");
  }
  BnPtr d(BN_bin2bn(private_key.data(), int(private_key.size()), nullptr));
  if (!d) return make_error(ErrorCode::CRYPTO_FAILURE, "BN allocation failed");
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), c.order) >= 0) {
    return make_error(ErrorCode::CRYPTO_BAD_KEY, "P-384 private key out of range");
  }
  BN_set_flags(d.get(), BN_FLG_CONSTTIME);
  return d;
}

}  // namespace

Result<Bytes> ecdsa_p384_public_key(ByteSpan private_key) {
  CPIPE_ASSIGN_OR_RETURN(P384 c, p384());
  CPIPE_ASSIGN_OR_RETURN(BnPtr d, private_scalar(c, private_key));
  PointPtr q(EC_POINT_new(c.group.get()));
  Bytes out(1 + 2 * kP384ScalarSize);
  if (!q || EC_POINT_mul(c.group.get(), q.get(), d.get(), nullptr, nullptr, c.bn.get()) != 1 ||
      EC_POINT_point2oct(c.group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(),
                         out.size(), c.bn.get()) != out.size()) {
    ERR_clear_error();
    return make_error(ErrorCode::CRYPTO_FAILURE, "P-384 public key derivation failed");
  }
  return out;
}

Result<Bytes> ecdsa_p384_sign(ByteSpan private_key, ByteSpan message, runtime::Random& random) {
  CPIPE_ASSIGN_OR_RETURN(P384 c, p384());
  CPIPE_ASSIGN_OR_RETURN(BnPtr d, private_scalar(c, private_key));
  Bytes digest = sha384(message);  // 384 bits = the order's size: no truncation needed
  BnPtr e(BN_bin2bn(digest.data(), int(digest.size()), nullptr));
  BnPtr k(BN_new()), kinv(BN_new()), x(BN_new()), r(BN_new()), s(BN_new()), t(BN_new());
  PointPtr kg(EC_POINT_new(c.group.get()));
  if (!e || !k || !kinv || !x || !r || !s || !t || !kg) {
    return make_error(ErrorCode::CRYPTO_FAILURE, "BN allocation failed");
  }
  BN_set_flags(k.get(), BN_FLG_CONSTTIME);
  for (int attempt = 0; attempt < 16; ++attempt) {
    // 64 random bytes reduced mod n: the bias is below 2^-128.
    Bytes kb = random.bytes(64);
    bool ok = BN_bin2bn(kb.data(), int(kb.size()), k.get()) != nullptr &&
              BN_nnmod(k.get(), k.get(), c.order, c.bn.get()) == 1;
    secure_zero(kb);
    if (!ok) break;
    if (BN_is_zero(k.get())) continue;
    if (EC_POINT_mul(c.group.get(), kg.get(), k.get(), nullptr, nullptr, c.bn.get()) != 1 ||
        EC_POINT_get_affine_coordinates(c.group.get(), kg.get(), x.get(), nullptr,
                                        c.bn.get()) != 1 ||
        BN_nnmod(r.get(), x.get(), c.order, c.bn.get()) != 1) {
      break;
    }
    if (BN_is_zero(r.get())) continue;
    // s = k^-1 (e + r d) mod n
    if (BN_mod_inverse(kinv.get(), k.get(), c.order, c.bn.get()) == nullptr ||
        BN_mod_mul(t.get(), r.get(), d.get(), c.order, c.bn.get()) != 1 ||
        BN_mod_add(t.get(), t.get(), e.get(), c.order, c.bn.get()) != 1 ||
        BN_mod_mul(s.get(), kinv.get(), t.get(), c.order, c.bn.get()) != 1) {
      break;
    }
    if (BN_is_zero(s.get())) continue;
    Bytes out(2 * kP384ScalarSize);
    if (BN_bn2binpad(r.get(), out.data(), int(kP384ScalarSize)) != int(kP384ScalarSize) ||
        BN_bn2binpad(s.get(), out.data() + kP384ScalarSize, int(kP384ScalarSize)) !=
            int(kP384ScalarSize)) {
      break;
    }
    BN_clear(k.get());
    BN_clear(kinv.get());
    return out;
  }
  BN_clear(k.get());
  BN_clear(kinv.get());
  ERR_clear_error();
  return make_error(ErrorCode::CRYPTO_FAILURE, "ECDSA P-384 signing failed");
}

}  // namespace cpipe::crypto
