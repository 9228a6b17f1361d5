// cpipe's request_hash / response_hash definitions.
#include "core/receipt/inference_hashes.h"

#include <string_view>

#include "core/codec/cbor/cbor_encode.h"
#include "core/crypto/hash.h"

namespace cpipe::receipt {

namespace {

constexpr std::string_view kRequestTag = "cpipe-air-v1/request";
constexpr std::string_view kResponseTag = "cpipe-air-v1/response";

Bytes tagged(std::string_view tag) {
  Bytes out = to_bytes(tag);
  out.push_back(0);
  return out;
}

void token_array(codec::CborWriter& w, const std::vector<uint32_t>& tokens) {
  w.array_header(tokens.size());
  for (uint32_t t : tokens) w.uint(t);
}

}  // namespace

Bytes request_hash_input(const InferenceRequestDigest& r) {
  Bytes out = tagged(kRequestTag);
  codec::CborWriter w(out);
  w.array_header(3);
  token_array(w, r.prompt_tokens);
  w.uint(r.max_new_tokens);
  w.text(r.sampling);
  return out;
}

Bytes response_hash_input(const std::vector<uint32_t>& tokens) {
  Bytes out = tagged(kResponseTag);
  codec::CborWriter w(out);
  token_array(w, tokens);
  return out;
}

Bytes request_hash(const InferenceRequestDigest& r) { return crypto::sha256(request_hash_input(r)); }
Bytes response_hash(const std::vector<uint32_t>& tokens) { return crypto::sha256(response_hash_input(tokens)); }

}  // namespace cpipe::receipt
