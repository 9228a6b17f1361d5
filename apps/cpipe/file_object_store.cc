// FileObjectStore: local files as an ObjectStore (file_object_store.h).
#include "apps/cpipe/file_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cpipe::cli {

FileObjectStore::~FileObjectStore() {
  for (auto& [key, fd] : fds_) ::close(fd);
}

Result<int> FileObjectStore::fd_for(const std::string& key) {
  auto it = fds_.find(key);
  if (it != fds_.end()) return it->second;
  const std::string path = root_.empty() || (!key.empty() && key[0] == '/') ? key : root_ + "/" + key;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errno == ENOENT ? ErrorCode::NOT_FOUND : ErrorCode::IO_ERROR,
                      "cannot open " + path + ": " + std::strerror(errno));
  fds_[key] = fd;
  return fd;
}

runtime::Task<Result<uint64_t>> FileObjectStore::size(std::string key) {
  Result<int> fd = fd_for(key);
  if (!fd.ok()) co_return fd.status();
  struct stat st {};
  if (::fstat(*fd, &st) != 0) co_return make_error(ErrorCode::IO_ERROR, "fstat " + key);
  co_return uint64_t(st.st_size);
}

runtime::Task<Result<size_t>> FileObjectStore::read_range(std::string key, uint64_t offset, MutableByteSpan out) {
  Result<int> fd = fd_for(key);
  if (!fd.ok()) co_return fd.status();
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(*fd, out.data() + done, out.size() - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) co_return make_error(ErrorCode::IO_ERROR, "pread " + key + ": " + std::strerror(errno));
    if (n == 0) break;
    done += size_t(n);
  }
  if (done == 0 && !out.empty()) co_return make_error(ErrorCode::OUT_OF_RANGE, "read past the end of " + key);
  co_return done;
}

}  // namespace cpipe::cli
