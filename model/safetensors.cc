// safetensors header validation and writer.
#include "model/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/base/bytes.h"

namespace cpipe::model {
namespace {

struct DTypeInfo {
  DType d;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::I16, "I16", 2},         {DType::U16, "U16", 2},   {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::I32, "I32", 4},   {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},         {DType::F64, "F64", 8},   {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
};

Status bad(const std::string& why) { return make_error(ErrorCode::MODEL_BAD_FILE, "safetensors: " + why); }

// nlohmann's parser recurses per nesting level; refuse deep inputs before handing them over.
bool depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::string_view dtype_name(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.name;
  return "?";
}
size_t dtype_size(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.size;
  return 0;
}
bool dtype_from_name(std::string_view name, DType* out) {
  for (const auto& i : kDTypes) {
    if (name == i.name) {
      *out = i.d;
      return true;
    }
  }
  return false;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path,
                                                               const SafetensorsLimits& limits) {
  CPIPE_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  auto r = parse(std::move(file), limits);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::from_bytes(std::vector<uint8_t> bytes,
                                                                     const SafetensorsLimits& limits) {
  return parse(MappedFile::from_bytes(std::move(bytes)), limits);
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::parse(std::shared_ptr<MappedFile> file,
                                                                const SafetensorsLimits& limits) {
  auto bytes = file->bytes();
  if (bytes.size() < 8) return bad("file is shorter than the 8-byte header length");
  const uint64_t n = load_u64_le(bytes.data());
  if (n > limits.max_header_bytes)
    return bad("header length " + std::to_string(n) + " exceeds the limit of " +
               std::to_string(limits.max_header_bytes) + " bytes");
  if (n > bytes.size() - 8)
    return bad("header length " + std::to_string(n) + " runs past the end of the file (" +
               std::to_string(bytes.size()) + " bytes)");
  if (n < 2) return bad("header is too short to be a JSON object");
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), n);
  if (text[0] != '{') return bad("header does not start with '{'");
  if (!depth_within(text, limits.max_json_depth))
    return bad("header JSON nests deeper than " + std::to_string(limits.max_json_depth));

  // Duplicate top-level keys would silently shadow each other: detect them while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev,
                                             nlohmann::json& parsed) {
    if (ev == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json h = nlohmann::json::parse(text, cb, /*allow_exceptions=*/false);
  if (h.is_discarded()) return bad("header is not valid JSON");
  if (!duplicate.empty()) return bad("duplicate header key \"" + duplicate + "\"");
  if (!h.is_object()) return bad("header is not a JSON object");

  auto out = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  out->file_ = file;
  const size_t data_start = 8 + n;
  const uint64_t data_len = bytes.size() - data_start;

  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return bad("__metadata__ value \"" + m.key() + "\" is not a string");
        out->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\": ";
    if (name.empty()) return bad("a tensor has an empty name");
    if (!v.is_object()) return bad(where + "entry is not an object");
    for (auto f = v.begin(); f != v.end(); ++f) {
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        return bad(where + "unknown field \"" + f.key() + "\"");
    }
    if (!v.contains("dtype") || !v["dtype"].is_string()) return bad(where + "missing or non-string dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) return bad(where + "missing or non-array shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      return bad(where + "data_offsets must be an array of two integers");
    TensorView t;
    t.name = name;
    if (!dtype_from_name(v["dtype"].get<std::string>(), &t.dtype))
      return bad(where + "unknown dtype \"" + v["dtype"].get<std::string>() + "\"");
    // Element count with overflow checks: shape entries are non-negative integers.
    unsigned __int128 count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) return bad(where + "shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      if (dim > uint64_t(INT64_MAX)) return bad(where + "shape dimension too large");
      count *= dim;
      if (count > (unsigned __int128)UINT64_MAX) return bad(where + "shape element count overflows");
      t.shape.push_back(int64_t(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return bad(where + "data_offsets must be non-negative integers");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) return bad(where + "data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
    if (end > data_len)
      return bad(where + "data_offsets end " + std::to_string(end) + " is past the data region (" +
                 std::to_string(data_len) + " bytes)");
    unsigned __int128 expect = count * dtype_size(t.dtype);
    if (expect != (unsigned __int128)(end - begin))
      return bad(where + "byte size " + std::to_string(end - begin) + " does not match shape x dtype (" +
                 std::to_string(uint64_t(expect)) + ")");
    t.file_offset = data_start + begin;
    t.data = bytes.subspan(t.file_offset, end - begin);
    out->tensors_.push_back(std::move(t));
  }

  // The data region must be covered exactly once: sort by offset, no gaps, no overlaps.
  std::vector<const TensorView*> by_offset;
  for (const auto& t : out->tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorView* a, const TensorView* b) {
    return a->file_offset != b->file_offset ? a->file_offset < b->file_offset
                                            : a->data.size() < b->data.size();
  });
  uint64_t cursor = data_start;
  for (const TensorView* t : by_offset) {
    if (t->file_offset < cursor)
      return bad("tensor \"" + t->name + "\" overlaps the previous tensor (offset " +
                 std::to_string(t->file_offset - data_start) + " < " + std::to_string(cursor - data_start) + ")");
    if (t->file_offset > cursor)
      return bad("gap in the data region before tensor \"" + t->name + "\" (bytes " +
                 std::to_string(cursor - data_start) + ".." + std::to_string(t->file_offset - data_start) + " unused)");
    cursor = t->file_offset + t->data.size();
  }
  if (cursor != bytes.size())
    return bad("data region has " + std::to_string(bytes.size() - cursor) + " trailing bytes not covered by any tensor");

  std::sort(out->tensors_.begin(), out->tensors_.end(),
            [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  return out;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

Status write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorToWrite& a, const TensorToWrite& b) { return a.name < b.name; });
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t count = 1;
    for (int64_t s : t.shape) count *= uint64_t(s);
    if (count * dtype_size(t.dtype) != t.data.size())
      return make_error(ErrorCode::INVALID_ARGUMENT, "tensor " + t.name + ": data size does not match shape");
    h[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                 {"shape", t.shape},
                 {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = h.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(ErrorCode::IO_ERROR, "cannot create " + path + ": " + std::strerror(errno));
  uint8_t len[8];
  store_u64_le(len, text.size());
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const auto& t : tensors) {
    if (!ok) break;
    ok = std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
  }
  if (std::fclose(f) != 0) ok = false;
  if (!ok) return make_error(ErrorCode::IO_ERROR, "write failed for " + path);
  return Status::Ok();
}

}  // namespace cpipe::model
