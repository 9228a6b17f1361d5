// Binding the receipt signing key to attestation (draft-02 §7): the stage generates its Ed25519
// receipt key at boot and puts it in its attestation user_data in this layout (48 bytes):
//
//   offset 0  16 bytes  ASCII "cpipe-air-key-v1" (domain tag, also the layout version)
//   offset 16 32 bytes  the raw Ed25519 public key (RFC 8032)
//
// (The Nitro public_key field is taken by the channel's ephemeral X25519 key, so cpipe does not
// use the spec's public_key construction.) A verifier that has verified the evidence takes the
// key from there, checks the receipt with it, and checks that the receipt points at that very
// evidence: attestation_doc_hash = SHA-256(document bytes) and its measurements equal the
// evidence's PCRs. Those are layer 5 ("binding") checks KEY_BINDING, ATTESTATION_DOC and
// MEASUREMENTS.
#pragma once

#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/receipt/air_verify.h"
#include "core/runtime/attestation.h"

namespace cpipe::receipt {

inline constexpr std::string_view kReceiptKeyUserDataTag = "cpipe-air-key-v1";
inline constexpr size_t kReceiptKeyUserDataSize = 48;

// INVALID_ARGUMENT unless the key is 32 bytes.
Result<Bytes> receipt_key_user_data(ByteSpan public_key);

// The key inside user_data; RECEIPT_KEY_NOT_BOUND when user_data does not have the layout.
Result<Bytes> receipt_key_from_user_data(ByteSpan user_data);

// Evidence that already passed its platform verifier, with the exact bytes it was verified from.
struct BoundEvidence {
  Bytes document;
  runtime::VerifiedEvidence verified;
};

// verify_receipt with the key from the evidence, then the binding checks. When the evidence
// binds no key, the report has the single failed check KEY_BINDING / KEY_NOT_BOUND.
Result<VerifyReport> verify_receipt_with_evidence(ByteSpan receipt, const BoundEvidence& evidence,
                                                  const VerifyPolicy& policy);

}  // namespace cpipe::receipt
