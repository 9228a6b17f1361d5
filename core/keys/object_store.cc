// ObjectStore::get_range over read_range.
#include "core/keys/object_store.h"

namespace cpipe::keys {

runtime::Task<Result<Bytes>> ObjectStore::get_range(std::string key, uint64_t offset, size_t length) {
  Bytes out(length);
  Result<size_t> n = co_await read_range(std::move(key), offset, out);
  if (!n.ok()) co_return n.status();
  out.resize(*n);
  co_return out;
}

}  // namespace cpipe::keys
