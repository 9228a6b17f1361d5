// CMS EnvelopedData parse/decrypt/encode for KMS key release (see cms_envelope.h).
#include "core/keys/cms_envelope.h"

#include <openssl/evp.h>

#include "core/crypto/hash.h"
#include "core/crypto/openssl_ptr.h"
#include "core/keys/ber.h"

namespace cpipe::keys {
namespace {

// DER contents of the OIDs involved.
constexpr uint8_t kOidEnvelopedData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
constexpr uint8_t kOidData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
constexpr uint8_t kOidRsaesOaep[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07};
constexpr uint8_t kOidMgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
constexpr uint8_t kOidSha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
constexpr uint8_t kOidAes256Cbc[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

Status bad(std::string message) { return make_error(ErrorCode::KEYS_CMS_INVALID, "CMS: " + std::move(message)); }

bool is_oid(const ber::Tlv& t, ByteSpan oid) {
  return t.tag == ber::kOid && t.content.size() == oid.size() &&
         std::equal(oid.begin(), oid.end(), t.content.begin());
}

Result<int> small_int(const ber::Tlv& t) {
  if (t.tag != ber::kInteger || t.content.size() != 1 || t.content[0] > 0x7f)
    return bad("expected a small INTEGER");
  return int(t.content[0]);
}

// AlgorithmIdentifier { sha256 [, NULL] }.
Status expect_sha256_alg(const ber::Tlv& t) {
  CPIPE_ASSIGN_OR_RETURN(auto f, ber::children(t));
  if (t.tag != ber::kSequence || f.empty() || f.size() > 2 || !is_oid(f[0], kOidSha256) ||
      (f.size() == 2 && (f[1].tag != ber::kNull || !f[1].content.empty())))
    return bad("OAEP hash is not SHA-256");
  return Status::Ok();
}

// RSAES-OAEP-params: hashFunc [0] SHA-256, maskGenFunc [1] MGF1(SHA-256); pSource absent.
Status expect_oaep_sha256(const ber::Tlv& alg) {
  CPIPE_ASSIGN_OR_RETURN(auto f, ber::children(alg));
  if (alg.tag != ber::kSequence || f.size() != 2 || !is_oid(f[0], kOidRsaesOaep) || f[1].tag != ber::kSequence)
    return bad("key transport is not RSAES-OAEP with explicit parameters");
  CPIPE_ASSIGN_OR_RETURN(auto params, ber::children(f[1]));
  bool hash = false, mgf = false;
  for (const ber::Tlv& p : params) {
    CPIPE_ASSIGN_OR_RETURN(auto inner, ber::children(p));
    if (inner.size() != 1) return bad("malformed RSAES-OAEP parameter");
    if (p.tag == ber::kContext0Cons) {
      CPIPE_RETURN_IF_ERROR(expect_sha256_alg(inner[0]));
      hash = true;
    } else if (p.tag == ber::kContext1Cons) {
      CPIPE_ASSIGN_OR_RETURN(auto m, ber::children(inner[0]));
      if (inner[0].tag != ber::kSequence || m.size() != 2 || !is_oid(m[0], kOidMgf1))
        return bad("mask generation is not MGF1");
      CPIPE_RETURN_IF_ERROR(expect_sha256_alg(m[1]));
      mgf = true;
    } else {
      return bad("unsupported RSAES-OAEP parameter (pSource label)");
    }
  }
  // Absent fields default to SHA-1, which KMS never uses and we do not accept.
  if (!hash || !mgf) return bad("RSAES-OAEP parameters do not name SHA-256 for hash and MGF1");
  return Status::Ok();
}

Bytes cat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Result<Bytes> aes256_cbc(bool encrypt, ByteSpan key, ByteSpan iv, ByteSpan in) {
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1)
    return make_error(ErrorCode::CRYPTO_FAILURE, "AES-256-CBC setup failed");
  Bytes out(in.size() + 16);
  int n1 = 0, n2 = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &n1, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) {
    secure_zero(out);
    return bad("AES-256-CBC content does not decrypt (bad padding: wrong key or tampered)");
  }
  out.resize(static_cast<size_t>(n1 + n2));
  return out;
}

}  // namespace

Result<CmsEnvelope> parse_cms_enveloped_data(ByteSpan input) {
  CPIPE_ASSIGN_OR_RETURN(ber::Tlv ci, ber::read_all(input));
  CPIPE_ASSIGN_OR_RETURN(auto ci_f, ber::children(ci));
  if (ci.tag != ber::kSequence || ci_f.size() != 2 || !is_oid(ci_f[0], kOidEnvelopedData) ||
      ci_f[1].tag != ber::kContext0Cons)
    return bad("not a ContentInfo of type envelopedData");
  CPIPE_ASSIGN_OR_RETURN(auto wrapped, ber::children(ci_f[1]));
  if (wrapped.size() != 1 || wrapped[0].tag != ber::kSequence) return bad("malformed EnvelopedData wrapper");
  CPIPE_ASSIGN_OR_RETURN(auto ed, ber::children(wrapped[0]));
  // version, [originatorInfo], recipientInfos, encryptedContentInfo, [unprotectedAttrs]
  if (ed.size() != 3) return bad("EnvelopedData must be version, recipientInfos, encryptedContentInfo");
  CmsEnvelope out;
  CPIPE_ASSIGN_OR_RETURN(out.version, small_int(ed[0]));
  if (ed[1].tag != ber::kSet) return bad("recipientInfos is not a SET");
  CPIPE_ASSIGN_OR_RETURN(auto recipients, ber::children(ed[1]));
  if (recipients.size() != 1 || recipients[0].tag != ber::kSequence)
    return bad("expected exactly one KeyTransRecipientInfo");
  CPIPE_ASSIGN_OR_RETURN(auto ri, ber::children(recipients[0]));
  if (ri.size() != 4) return bad("malformed KeyTransRecipientInfo");
  CPIPE_ASSIGN_OR_RETURN(out.recipient_version, small_int(ri[0]));
  if (ri[1].tag == ber::kContext0Prim && out.recipient_version == 2) {
    out.subject_key_identifier.assign(ri[1].content.begin(), ri[1].content.end());
  } else if (ri[1].tag == ber::kSequence && out.recipient_version == 0) {
    out.issuer_and_serial_der.assign(ri[1].whole.begin(), ri[1].whole.end());
  } else {
    return bad("recipient identifier does not match the KeyTransRecipientInfo version");
  }
  // RFC 5652 6.1: with only KeyTransRecipientInfos and no originator info or attributes, the
  // version is 2 if any recipient is v2 (subjectKeyIdentifier), else 0.
  if (out.version != (out.recipient_version == 2 ? 2 : 0))
    return bad("EnvelopedData version disagrees with its recipient");
  CPIPE_RETURN_IF_ERROR(expect_oaep_sha256(ri[2]));
  if (ri[3].tag != ber::kOctetString && ri[3].tag != (ber::kOctetString | 0x20))
    return bad("encryptedKey is not an OCTET STRING");
  CPIPE_ASSIGN_OR_RETURN(out.encrypted_key, ber::octets(ri[3]));

  if (ed[2].tag != ber::kSequence) return bad("encryptedContentInfo is not a SEQUENCE");
  CPIPE_ASSIGN_OR_RETURN(auto eci, ber::children(ed[2]));
  if (eci.size() != 3 || !is_oid(eci[0], kOidData))
    return bad("encryptedContentInfo must hold id-data content (detached content is not supported)");
  CPIPE_ASSIGN_OR_RETURN(auto alg, ber::children(eci[1]));
  if (eci[1].tag != ber::kSequence || alg.size() != 2 || !is_oid(alg[0], kOidAes256Cbc) ||
      alg[1].tag != ber::kOctetString || alg[1].content.size() != 16)
    return bad("content encryption is not AES-256-CBC with a 16-byte IV");
  out.iv.assign(alg[1].content.begin(), alg[1].content.end());
  if (eci[2].tag != ber::kContext0Prim && eci[2].tag != ber::kContext0Cons) return bad("missing encryptedContent");
  CPIPE_ASSIGN_OR_RETURN(out.ciphertext, ber::octets(eci[2]));
  if (out.ciphertext.empty() || out.ciphertext.size() % 16 != 0) return bad("ciphertext is not whole AES blocks");
  return out;
}

Result<Bytes> decrypt_cms_envelope(const CmsEnvelope& env, const RsaKey& recipient) {
  CPIPE_ASSIGN_OR_RETURN(Bytes cek, recipient.oaep_sha256_decrypt(env.encrypted_key));
  if (cek.size() != 32) {
    secure_zero(cek);
    return bad("content-encryption key is not 32 bytes (AES-256)");
  }
  auto plain = aes256_cbc(false, cek, env.iv, env.ciphertext);
  secure_zero(cek);
  return plain;
}

Result<Bytes> decrypt_cms_enveloped_data(ByteSpan ber_bytes, const RsaKey& recipient) {
  CPIPE_ASSIGN_OR_RETURN(CmsEnvelope env, parse_cms_enveloped_data(ber_bytes));
  return decrypt_cms_envelope(env, recipient);
}

Result<Bytes> encode_cms_enveloped_data(ByteSpan plaintext, const RsaKey& recipient, runtime::Random& random) {
  CPIPE_ASSIGN_OR_RETURN(Bytes spki, recipient.public_der());
  Bytes cek = random.bytes(32);
  const Bytes iv = random.bytes(16);
  const Bytes seed = random.bytes(32);
  auto encrypted_key = recipient.oaep_sha256_encrypt(cek, seed);
  auto ciphertext =
      encrypted_key.ok() ? aes256_cbc(true, cek, iv, plaintext) : Result<Bytes>(encrypted_key.status());
  secure_zero(cek);
  if (!ciphertext.ok()) return ciphertext.status();

  const Bytes null_der = ber::der(ber::kNull, {});
  const Bytes sha256_alg = ber::der(ber::kSequence, cat({ber::der(ber::kOid, kOidSha256), null_der}));
  const Bytes oaep_params = ber::der(
      ber::kSequence, cat({ber::der(ber::kContext0Cons, sha256_alg),
                           ber::der(ber::kContext1Cons,
                                    ber::der(ber::kSequence, cat({ber::der(ber::kOid, kOidMgf1), sha256_alg})))}));
  const Bytes key_alg = ber::der(ber::kSequence, cat({ber::der(ber::kOid, kOidRsaesOaep), oaep_params}));
  const Bytes ri = ber::der(
      ber::kSequence, cat({ber::der(ber::kInteger, Bytes{2}), ber::der(ber::kContext0Prim, crypto::sha256(spki)),
                           key_alg, ber::der(ber::kOctetString, *encrypted_key)}));
  const Bytes content_alg =
      ber::der(ber::kSequence, cat({ber::der(ber::kOid, kOidAes256Cbc), ber::der(ber::kOctetString, iv)}));
  const Bytes eci = ber::indefinite(
      ber::kSequence, cat({ber::der(ber::kOid, kOidData), content_alg,
                           ber::indefinite(ber::kContext0Cons, ber::der(ber::kOctetString, *ciphertext))}));
  const Bytes ed =
      ber::indefinite(ber::kSequence, cat({ber::der(ber::kInteger, Bytes{2}), ber::der(ber::kSet, ri), eci}));
  return ber::indefinite(ber::kSequence,
                         cat({ber::der(ber::kOid, kOidEnvelopedData), ber::indefinite(ber::kContext0Cons, ed)}));
}

}  // namespace cpipe::keys
