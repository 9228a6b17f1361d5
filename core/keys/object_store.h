// ObjectStore: the read side of a blob store (S3) as a stage's cold start needs it — an object's
// size and byte ranges of it. The store is reached through the untrusted host, so nothing read
// here is trusted: the sealed-model reader authenticates every byte before it is used.
// Implementations: HttpObjectStore (S3 REST over a StreamConnector: the simulator's SimS3, or
// AWS S3 over TLS through the vsock proxy), test doubles.
#pragma once

#include <cstdint>
#include <string>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/task.h"

namespace cpipe::keys {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The object's size in bytes (HEAD). NOT_FOUND when it does not exist.
  virtual runtime::Task<Result<uint64_t>> size(std::string key) = 0;

  // Reads up to out.size() bytes at `offset` into `out`, like pread: fewer only when the object
  // ends first; the number read is returned. OUT_OF_RANGE when offset is at or past the end (and
  // out is not empty), NOT_FOUND for a missing object. Reading into the caller's buffer lets a
  // cold start fetch sealed chunks straight into the memory it decrypts in place.
  virtual runtime::Task<Result<size_t>> read_range(std::string key, uint64_t offset, MutableByteSpan out) = 0;

  // The same into a new buffer (shorter than `length` when the object ends first).
  runtime::Task<Result<Bytes>> get_range(std::string key, uint64_t offset, size_t length);
};

}  // namespace cpipe::keys
