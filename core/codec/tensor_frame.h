// Tensor frames: the wire form of one named tensor (dtype, shape, little-endian element data),
// as sent through the secure channel between pipeline stages. The frame is a small header
// followed by the raw element bytes, so a sender can emit header and data as two spans (the data
// is never re-encoded) and a receiver gets a view whose data points into the received buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::codec {

// Wire codes are stable (docs/protocol.md, "Tensor frames").
enum class DType : uint8_t { F32 = 1, F16 = 2, BF16 = 3, I32 = 4, I64 = 5, U8 = 6, U32 = 7 };

inline constexpr size_t kMaxTensorDims = 8;
inline constexpr size_t kMaxTensorNameSize = 1024;

// True for the seven codes above.
bool dtype_valid(uint8_t code);
// Bytes per element (DType must be valid).
size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);

struct TensorHeader {
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // empty = scalar (one element)
  std::string name;
};

// product(shape) * dtype_size, or CODEC_LIMIT_EXCEEDED on overflow / too many dims,
// CHANNEL_BAD_TENSOR on an invalid dtype.
Result<uint64_t> tensor_data_size(const TensorHeader& header);

// Appends the frame header for a tensor whose element data is `data_size` bytes. The caller
// sends the data right after it. Fails (CHANNEL_BAD_TENSOR / CODEC_LIMIT_EXCEEDED) when the
// header is invalid or data_size != tensor_data_size(header).
Status encode_tensor_header(const TensorHeader& header, uint64_t data_size, Bytes& out);
// Fixed-size part of a header plus the name and dims: what encode_tensor_header appends.
size_t tensor_header_size(const TensorHeader& header);

// Header and data in one buffer (convenience; copies the data once).
Result<Bytes> encode_tensor(const TensorHeader& header, ByteSpan data);

// A decoded frame; `data` points into the decoded buffer.
struct TensorView {
  TensorHeader header;
  ByteSpan data;
};

// Strict: CODEC_TRUNCATED when short, CHANNEL_BAD_TENSOR for an unknown dtype or a data length
// that is not product(shape)*elem_size, CODEC_LIMIT_EXCEEDED for > 8 dims, an over-long name or
// a size that overflows, CODEC_TRAILING_DATA for bytes after the data.
Result<TensorView> decode_tensor(ByteSpan frame);

}  // namespace cpipe::codec
