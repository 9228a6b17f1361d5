// safetensors reader: validates the whole header of a .safetensors file and exposes each tensor
// as a zero-copy view into the mapped file. Format: u64 little-endian header length N, N bytes
// of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}),
// then the data region; offsets are relative to the data region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "model/mapped_file.h"

namespace cpipe::model {

enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

std::string_view dtype_name(DType d);
size_t dtype_size(DType d);
// nullopt-like: false when the name is not a safetensors dtype.
bool dtype_from_name(std::string_view name, DType* out);

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // into the mapped file
  size_t file_offset = 0;         // absolute offset of data in the file

  int64_t numel() const;
  // True when data can be read as T* in place (alignment of the mapping allows it).
  bool aligned_for(size_t alignment) const {
    return reinterpret_cast<uintptr_t>(data.data()) % alignment == 0;
  }
};

struct SafetensorsLimits {
  size_t max_header_bytes = 100u << 20;  // 100 MiB, like the reference implementation
  int max_json_depth = 16;               // a valid header nests 3 deep
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Every structural problem is MODEL_BAD_FILE with the reason.
  static Result<std::shared_ptr<SafetensorsFile>> open(const std::string& path,
                                                       const SafetensorsLimits& limits = {});
  // Validates bytes already in memory (or a mapping made elsewhere).
  static Result<std::shared_ptr<SafetensorsFile>> parse(std::shared_ptr<MappedFile> file,
                                                        const SafetensorsLimits& limits = {});
  // Takes ownership of a file held in memory (a model decrypted by the cold start), without
  // copying it: the tensors view into `bytes`.
  static Result<std::shared_ptr<SafetensorsFile>> from_bytes(std::vector<uint8_t> bytes,
                                                             const SafetensorsLimits& limits = {});

  const TensorView* find(std::string_view name) const;
  const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file the way HF's serializer lays it out: "__metadata__" first, tensors
// sorted by name with data in the same order, header padded with spaces to a multiple of 8.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;
};
Status write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                         const std::map<std::string, std::string>& metadata);

}  // namespace cpipe::model
