// What cpipe's request_hash and response_hash claims hash (docs/receipts.md specifies it byte
// by byte): SHA-256 over a domain tag and the deterministic CBOR of the token ids, so a client
// holding its prompt and output recomputes both without knowing anything else.
//
//   request_hash  = SHA-256("cpipe-air-v1/request"  || 0x00 ||
//                           CBOR [ [prompt token ids...], max_new_tokens, sampling ])
//   response_hash = SHA-256("cpipe-air-v1/response" || 0x00 || CBOR [ generated token ids... ])
//
// Token ids are CBOR uints, arrays definite-length, every head shortest-form. `sampling` is
// text: "greedy", or the sampler's parameters as the client sent them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/bytes.h"

namespace cpipe::receipt {

struct InferenceRequestDigest {
  std::vector<uint32_t> prompt_tokens;
  uint32_t max_new_tokens = 0;
  std::string sampling = "greedy";
};

Bytes request_hash(const InferenceRequestDigest& request);
Bytes response_hash(const std::vector<uint32_t>& generated_tokens);

// The exact bytes hashed (exposed for docs and tests).
Bytes request_hash_input(const InferenceRequestDigest& request);
Bytes response_hash_input(const std::vector<uint32_t>& generated_tokens);

}  // namespace cpipe::receipt
