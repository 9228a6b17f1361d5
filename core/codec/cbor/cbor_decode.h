// Strict CBOR decoding into CborValue, over libcbor's streaming decoder with cpipe's own limit
// checks applied before anything is allocated. Accepts definite and indefinite lengths (real NSM
// documents use both), all tags, bool/null/undefined and floats; rejects reserved initial bytes,
// unassigned simple values, misplaced breaks, mixed-type or nested string chunks, invalid UTF-8
// in text strings and duplicate map keys. Non-shortest integer/length encodings are accepted
// (COSE signs the bytes as sent; nothing here re-encodes what it verifies).
//
// Errors: CODEC_TRUNCATED (input ends inside an item), CODEC_BAD_FORMAT (malformed),
// CODEC_LIMIT_EXCEEDED (a CborLimits bound), CODEC_TRAILING_DATA (bytes after the item).
#pragma once

#include <cstddef>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/codec/cbor/cbor_value.h"

namespace cpipe::codec {

struct CborLimits {
  size_t max_input = 1 << 20;      // total encoded bytes
  size_t max_depth = 16;           // nested arrays/maps/tags open at once
  size_t max_items = 1 << 16;      // data items in total (a map entry counts as two)
  size_t max_container = 1 << 12;  // elements of one array, entries of one map
  size_t max_string = 1 << 18;     // bytes of one byte/text string (indefinite: all chunks)
};

// Decodes exactly one item that spans all of `input`.
Result<CborValue> cbor_decode(ByteSpan input, const CborLimits& limits = {});

// Decodes the item at the start of `input`; sets *consumed to its encoded length.
Result<CborValue> cbor_decode_prefix(ByteSpan input, size_t* consumed,
                                     const CborLimits& limits = {});

}  // namespace cpipe::codec
