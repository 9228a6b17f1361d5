// MappedFile: a read-only memory map of a whole file (model weights are used in place from the
// page cache, never copied unless their format has to change).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cpipe::model {

class MappedFile {
 public:
  // IO_ERROR / NOT_FOUND when the file cannot be opened or mapped. An empty file maps to an
  // empty span.
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
  // Wraps bytes held in memory (tests, sealed models decrypted into RAM).
  static std::shared_ptr<MappedFile> from_bytes(std::vector<uint8_t> bytes);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Tells the kernel the pages of [offset, offset+len) are no longer needed (after a tensor was
  // converted into another layout) so they leave the resident set. A mapping reads them back
  // from the file if touched again; in-memory data (a cold start's decrypted buffer, owned
  // here) reads back as zeros, so callers release only ranges nothing else points into.
  // Releasing as the engine converts tensor by tensor is what keeps a sealed model's load at
  // about one copy of the model (docs/sealed-model.md "Memory").
  void release(size_t offset, size_t len) const;
  bool owned() const { return !mapped_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;
  std::string path_;
};

}  // namespace cpipe::model
