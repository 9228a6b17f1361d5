// CMS EnvelopedData (RFC 5652) as AWS KMS returns it in CiphertextForRecipient: one
// KeyTransRecipientInfo (version 2, subjectKeyIdentifier) with RSAES-OAEP (SHA-256, MGF1
// SHA-256) key transport, and AES-256-CBC content (PKCS#7 padding), BER with indefinite lengths.
// parse → the explicit fields; decrypt → the plaintext (the data key); encode → the same shape,
// for the simulated KMS.
#pragma once

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/keys/rsa_key.h"
#include "core/runtime/random.h"

namespace cpipe::keys {

struct CmsEnvelope {
  int version = 0;               // EnvelopedData version (2 for AWS's shape)
  int recipient_version = 0;     // KeyTransRecipientInfo version (2: subjectKeyIdentifier)
  Bytes subject_key_identifier;  // empty when the recipient is named by issuer and serial
  Bytes issuer_and_serial_der;   // empty when named by subjectKeyIdentifier
  Bytes encrypted_key;           // RSAES-OAEP-SHA256 of the content-encryption key
  Bytes iv;                      // 16 bytes
  Bytes ciphertext;              // AES-256-CBC, PKCS#7 padded
};

// Strict about what it supports: exactly one recipient, key transport with RSAES-OAEP whose
// hash and MGF1 hash are SHA-256, content type id-data, AES-256-CBC with a 16-byte IV.
// KEYS_CMS_INVALID otherwise.
Result<CmsEnvelope> parse_cms_enveloped_data(ByteSpan ber);

// RSAES-OAEP-SHA256 unwrap of the 32-byte content key with `recipient` (private), then
// AES-256-CBC decryption. KEYS_CMS_INVALID if either step fails.
Result<Bytes> decrypt_cms_envelope(const CmsEnvelope& envelope, const RsaKey& recipient);
Result<Bytes> decrypt_cms_enveloped_data(ByteSpan ber, const RsaKey& recipient);

// Builds an EnvelopedData of `plaintext` for `recipient` (public) in AWS's shape: BER with
// indefinite lengths, subjectKeyIdentifier = SHA-256 of the recipient's SubjectPublicKeyInfo
// DER (our choice; readers do not depend on it). The content key, IV and OAEP seed come from
// `random`.
Result<Bytes> encode_cms_enveloped_data(ByteSpan plaintext, const RsaKey& recipient, runtime::Random& random);

}  // namespace cpipe::keys
