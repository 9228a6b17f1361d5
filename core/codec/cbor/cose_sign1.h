// COSE_Sign1 (RFC 9052 §4.2) structure: decoding a tagged (18) or untagged message, building
// the Sig_structure1 that is signed, and encoding a message. Signature verification lives with
// the verifiers (core/attest), which pick the algorithm they accept.
#pragma once

#include <cstdint>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/codec/cbor/cbor_decode.h"
#include "core/codec/cbor/cbor_value.h"

namespace cpipe::codec {

inline constexpr uint64_t kCoseSign1Tag = 18;
inline constexpr int64_t kCoseHeaderAlg = 1;
inline constexpr int64_t kCoseHeaderCrit = 2;
inline constexpr int64_t kCoseAlgES256 = -7;
inline constexpr int64_t kCoseAlgES384 = -35;
inline constexpr int64_t kCoseAlgES512 = -36;

struct CoseSign1 {
  bool tagged = false;
  Bytes protected_bytes;       // the protected header exactly as sent (bstr content)
  CborValue protected_header;  // its decoded map (an empty map when protected_bytes is empty)
  CborValue unprotected_header;
  Bytes payload;               // attached payload; nil (detached) payloads are rejected
  Bytes signature;
};

// Decodes [protected: bstr, unprotected: map, payload: bstr, signature: bstr], optionally
// wrapped in tag 18 (any other tag is CODEC_BAD_FORMAT). The protected header must be empty or
// a serialized map. `limits` bound the outer message and the protected header.
Result<CoseSign1> cose_sign1_decode(ByteSpan input, const CborLimits& limits = {});

// The integer alg (label 1) of the protected header; CODEC_BAD_FORMAT when absent or not an int.
Result<int64_t> cose_protected_alg(const CoseSign1& msg);

// Sig_structure1 = ["Signature1", protected bstr, external_aad bstr, payload bstr], encoded
// deterministically: the exact bytes that ES256/ES384 sign.
Bytes cose_sig_structure1(ByteSpan protected_bytes, ByteSpan external_aad, ByteSpan payload);

// Encodes a message (tag 18 first when msg.tagged). The unprotected header is re-encoded with
// definite lengths; protected_bytes, payload and signature are written as they are.
Bytes cose_sign1_encode(const CoseSign1& msg);

}  // namespace cpipe::codec
