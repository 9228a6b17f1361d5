// Tensor frame encoding and strict decoding (layout in docs/protocol.md, "Tensor frames").
#include "core/codec/tensor_frame.h"

#include <limits>

namespace cpipe::codec {
namespace {

// magic(2) "TF", version(1), dtype(1), ndim(1), reserved(1), name_len(2 LE); then name,
// ndim x u64 LE dims, u64 LE data length.
constexpr uint8_t kMagic0 = 'T';
constexpr uint8_t kMagic1 = 'F';
constexpr uint8_t kVersion = 1;
constexpr size_t kFixedSize = 8;

Status check_header(const TensorHeader& h) {
  if (!dtype_valid(static_cast<uint8_t>(h.dtype)))
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR, "unknown tensor dtype " +
                                                         std::to_string(int(h.dtype)));
  if (h.shape.size() > kMaxTensorDims)
    return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED,
                      "tensor has " + std::to_string(h.shape.size()) + " dims (max 8)");
  if (h.name.size() > kMaxTensorNameSize)
    return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED, "tensor name longer than 1024 bytes");
  return Status::Ok();
}

}  // namespace

bool dtype_valid(uint8_t code) { return code >= 1 && code <= 7; }

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::U32: return 4;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::U32: return "U32";
  }
  return "INVALID";
}

Result<uint64_t> tensor_data_size(const TensorHeader& header) {
  CPIPE_RETURN_IF_ERROR(check_header(header));
  uint64_t n = dtype_size(header.dtype);
  for (uint64_t d : header.shape) {
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / d)
      return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED, "tensor size overflows 64 bits");
    n *= d;
  }
  return n;
}

size_t tensor_header_size(const TensorHeader& header) {
  return kFixedSize + header.name.size() + 8 * header.shape.size() + 8;
}

Status encode_tensor_header(const TensorHeader& header, uint64_t data_size, Bytes& out) {
  CPIPE_ASSIGN_OR_RETURN(uint64_t expect, tensor_data_size(header));
  if (expect != data_size)
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR,
                      "tensor data is " + std::to_string(data_size) + " bytes, shape needs " +
                          std::to_string(expect));
  size_t at = out.size();
  out.resize(at + tensor_header_size(header));
  uint8_t* p = out.data() + at;
  p[0] = kMagic0;
  p[1] = kMagic1;
  p[2] = kVersion;
  p[3] = static_cast<uint8_t>(header.dtype);
  p[4] = static_cast<uint8_t>(header.shape.size());
  p[5] = 0;
  p[6] = uint8_t(header.name.size());
  p[7] = uint8_t(header.name.size() >> 8);
  p += kFixedSize;
  for (char c : header.name) *p++ = static_cast<uint8_t>(c);
  for (uint64_t d : header.shape) {
    store_u64_le(p, d);
    p += 8;
  }
  store_u64_le(p, data_size);
  return Status::Ok();
}

Result<Bytes> encode_tensor(const TensorHeader& header, ByteSpan data) {
  Bytes out;
  out.reserve(tensor_header_size(header) + data.size());
  CPIPE_RETURN_IF_ERROR(encode_tensor_header(header, data.size(), out));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Result<TensorView> decode_tensor(ByteSpan frame) {
  if (frame.size() < kFixedSize)
    return make_error(ErrorCode::CODEC_TRUNCATED, "tensor frame shorter than its fixed header");
  const uint8_t* p = frame.data();
  if (p[0] != kMagic0 || p[1] != kMagic1)
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR, "tensor frame magic is not 'TF'");
  if (p[2] != kVersion)
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR,
                      "tensor frame version " + std::to_string(p[2]) + " (expected 1)");
  if (!dtype_valid(p[3]))
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR, "unknown tensor dtype " + std::to_string(p[3]));
  size_t ndim = p[4];
  if (ndim > kMaxTensorDims)
    return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED,
                      "tensor has " + std::to_string(ndim) + " dims (max 8)");
  if (p[5] != 0) return make_error(ErrorCode::CHANNEL_BAD_TENSOR, "tensor reserved byte not 0");
  size_t name_len = size_t(p[6]) | (size_t(p[7]) << 8);
  if (name_len > kMaxTensorNameSize)
    return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED, "tensor name longer than 1024 bytes");
  size_t header_size = kFixedSize + name_len + 8 * ndim + 8;
  if (frame.size() < header_size)
    return make_error(ErrorCode::CODEC_TRUNCATED, "tensor frame header is truncated");
  TensorView view;
  view.header.dtype = static_cast<DType>(p[3]);
  view.header.name.assign(reinterpret_cast<const char*>(p + kFixedSize), name_len);
  const uint8_t* q = p + kFixedSize + name_len;
  view.header.shape.resize(ndim);
  for (size_t i = 0; i < ndim; ++i, q += 8) view.header.shape[i] = load_u64_le(q);
  uint64_t data_len = load_u64_le(q);
  CPIPE_ASSIGN_OR_RETURN(uint64_t expect, tensor_data_size(view.header));
  if (data_len != expect)
    return make_error(ErrorCode::CHANNEL_BAD_TENSOR,
                      "tensor data length " + std::to_string(data_len) + " != shape size " +
                          std::to_string(expect));
  uint64_t avail = frame.size() - header_size;
  if (avail < data_len)
    return make_error(ErrorCode::CODEC_TRUNCATED, "tensor data is truncated");
  if (avail > data_len)
    return make_error(ErrorCode::CODEC_TRAILING_DATA, "bytes after the tensor data");
  view.data = frame.subspan(header_size, data_len);
  return view;
}

}  // namespace cpipe::codec
