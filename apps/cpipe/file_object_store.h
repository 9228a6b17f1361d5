// FileObjectStore: keys::ObjectStore over local files — the object store of a local `cpipe stage
// --sealed` process and of `cpipe bench coldstart` (no S3, no host proxy). An object key is a
// path (relative keys resolve under `root`). Size by fstat, ranges by pread, so a cold start
// reads sealed chunks straight into its decrypt buffers with no extra copy. Nothing read is
// trusted: the sealed-model reader authenticates every byte, exactly as with S3.
#pragma once

#include <map>
#include <string>

#include "core/keys/object_store.h"

namespace cpipe::cli {

class FileObjectStore final : public keys::ObjectStore {
 public:
  explicit FileObjectStore(std::string root = "") : root_(std::move(root)) {}
  ~FileObjectStore() override;
  FileObjectStore(const FileObjectStore&) = delete;
  FileObjectStore& operator=(const FileObjectStore&) = delete;

  runtime::Task<Result<uint64_t>> size(std::string key) override;
  runtime::Task<Result<size_t>> read_range(std::string key, uint64_t offset, MutableByteSpan out) override;

 private:
  // The open descriptor for `key` (opened once, kept until destruction); NOT_FOUND if absent.
  Result<int> fd_for(const std::string& key);
  std::string root_;
  std::map<std::string, int> fds_;
};

}  // namespace cpipe::cli
