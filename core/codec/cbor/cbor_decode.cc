// CBOR decoder: libcbor's cbor_stream_decode reads one item header at a time and calls back;
// this file keeps its own stack of open containers, checks every limit before storing
// anything, and builds the CborValue tree. cbor_load is not used: it allocates what a declared
// length says before checking it against the input, and has no depth limit.
//
// libcbor 0.8 quirk handled here: its streaming decoder rejects the one-byte tag heads
// 0xC6..0xD4 (tags 6..20) as "unassigned", which includes COSE_Sign1's tag 18 (0xD2).
#include "core/codec/cbor/cbor_decode.h"

#include <cbor.h>

#include <optional>
#include <string>
#include <vector>

namespace cpipe::codec {
namespace {

bool valid_utf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

struct Frame {
  enum Kind { kArray, kMap, kTag, kBytesChunks, kTextChunks };
  explicit Frame(Kind k) : kind(k) {}
  Kind kind;
  bool indefinite = false;
  uint64_t remaining = 0;  // definite containers: items still expected (maps: 2 per entry)
  uint64_t tag = 0;
  std::vector<CborValue> items;
  Bytes chunks;
};

class Decoder {
 public:
  Decoder(ByteSpan input, const CborLimits& limits) : in_(input), lim_(limits) {}

  Result<CborValue> run(size_t* consumed) {
    if (in_.size() > lim_.max_input) {
      return make_error(ErrorCode::CODEC_LIMIT_EXCEEDED,
                        "CBOR input of " + std::to_string(in_.size()) + " bytes exceeds " +
                            std::to_string(lim_.max_input));
    }
    static const cbor_callbacks callbacks = make_callbacks();
    while (!root_) {
      if (pos_ >= in_.size()) {
        return make_error(ErrorCode::CODEC_TRUNCATED,
                          "CBOR input ends at offset " + std::to_string(pos_) + " inside an item");
      }
      uint8_t head = in_[pos_];
      size_t read;
      if (head >= 0xC6 && head <= 0xD4) {
        on_tag(this, uint64_t(head - 0xC0));
        read = 1;
      } else {
        cbor_decoder_result r = cbor_stream_decode(in_.data() + pos_, in_.size() - pos_,
                                                    &callbacks, this);
        if (r.status == CBOR_DECODER_NEDATA) {
          return make_error(ErrorCode::CODEC_TRUNCATED,
                            "CBOR item at offset " + std::to_string(pos_) + " needs more bytes");
        }
        if (r.status != CBOR_DECODER_FINISHED) {
          uint8_t hb[1] = {head};
          return make_error(ErrorCode::CODEC_BAD_FORMAT,
                            "reserved or unsupported CBOR initial byte 0x" + hex_encode(hb) +
                                " at offset " + std::to_string(pos_));
        }
        read = r.read;
      }
      if (!error_.ok()) return error_;
      pos_ += read;
    }
    *consumed = pos_;
    return std::move(*root_);
  }

 private:
  static cbor_callbacks make_callbacks() {
    cbor_callbacks cb = cbor_empty_callbacks;
    cb.uint8 = [](void* c, uint8_t v) { self(c)->scalar(CborValue::uint(v)); };
    cb.uint16 = [](void* c, uint16_t v) { self(c)->scalar(CborValue::uint(v)); };
    cb.uint32 = [](void* c, uint32_t v) { self(c)->scalar(CborValue::uint(v)); };
    cb.uint64 = [](void* c, uint64_t v) { self(c)->scalar(CborValue::uint(v)); };
    cb.negint8 = [](void* c, uint8_t v) { self(c)->scalar(CborValue::negint_raw(v)); };
    cb.negint16 = [](void* c, uint16_t v) { self(c)->scalar(CborValue::negint_raw(v)); };
    cb.negint32 = [](void* c, uint32_t v) { self(c)->scalar(CborValue::negint_raw(v)); };
    cb.negint64 = [](void* c, uint64_t v) { self(c)->scalar(CborValue::negint_raw(v)); };
    cb.byte_string = [](void* c, cbor_data d, size_t n) { self(c)->string(false, d, n); };
    cb.string = [](void* c, cbor_data d, size_t n) { self(c)->string(true, d, n); };
    cb.byte_string_start = [](void* c) { self(c)->string_start(false); };
    cb.string_start = [](void* c) { self(c)->string_start(true); };
    cb.array_start = [](void* c, size_t n) { self(c)->container_start(Frame::kArray, n); };
    cb.map_start = [](void* c, size_t n) { self(c)->container_start(Frame::kMap, n); };
    cb.indef_array_start = [](void* c) { self(c)->indef_start(Frame::kArray); };
    cb.indef_map_start = [](void* c) { self(c)->indef_start(Frame::kMap); };
    cb.tag = &on_tag;
    cb.float2 = [](void* c, float f) { self(c)->scalar(CborValue::floating(f)); };
    cb.float4 = [](void* c, float f) { self(c)->scalar(CborValue::floating(f)); };
    cb.float8 = [](void* c, double d) { self(c)->scalar(CborValue::floating(d)); };
    cb.undefined = [](void* c) { self(c)->scalar(CborValue::undefined()); };
    cb.null = [](void* c) { self(c)->scalar(CborValue::null()); };
    cb.boolean = [](void* c, bool b) { self(c)->scalar(CborValue::boolean(b)); };
    cb.indef_break = [](void* c) { self(c)->on_break(); };
    return cb;
  }
  static Decoder* self(void* c) { return static_cast<Decoder*>(c); }
  static void on_tag(void* c, uint64_t tag) {
    Decoder* d = self(c);
    if (!d->begin_item() || !d->check_depth()) return;
    Frame f(Frame::kTag);
    f.remaining = 1;
    f.tag = tag;
    d->stack_.push_back(std::move(f));
  }

  void fail(ErrorCode code, std::string msg) {
    if (error_.ok()) error_ = make_error(code, msg + " (CBOR offset " + std::to_string(pos_) + ")");
  }

  // Every item except string chunks and breaks: not inside a chunked string, within count.
  bool begin_item() {
    if (!error_.ok()) return false;
    if (!stack_.empty() && (stack_.back().kind == Frame::kBytesChunks ||
                            stack_.back().kind == Frame::kTextChunks)) {
      fail(ErrorCode::CODEC_BAD_FORMAT, "indefinite-length string holds a non-string chunk");
      return false;
    }
    if (++items_ > lim_.max_items) {
      fail(ErrorCode::CODEC_LIMIT_EXCEEDED, "more than " + std::to_string(lim_.max_items) + " CBOR items");
      return false;
    }
    return true;
  }

  bool check_depth() {
    if (stack_.size() + 1 > lim_.max_depth) {
      fail(ErrorCode::CODEC_LIMIT_EXCEEDED, "CBOR nesting deeper than " + std::to_string(lim_.max_depth));
      return false;
    }
    return true;
  }

  void scalar(CborValue v) {
    if (!begin_item()) return;
    emit(std::move(v));
  }

  void string(bool text, const uint8_t* data, size_t n) {
    if (!error_.ok()) return;
    // libcbor claimed these bytes from our buffer; keep that an invariant we check.
    if (data < in_.data() || size_t(data - in_.data()) > in_.size() ||
        n > in_.size() - size_t(data - in_.data())) {
      fail(ErrorCode::CODEC_TRUNCATED, "string runs past the end of the input");
      return;
    }
    if (text && !valid_utf8(data, n)) {
      fail(ErrorCode::CODEC_BAD_FORMAT, "text string is not valid UTF-8");
      return;
    }
    if (!stack_.empty() && (stack_.back().kind == Frame::kBytesChunks ||
                            stack_.back().kind == Frame::kTextChunks)) {
      Frame& f = stack_.back();
      if ((f.kind == Frame::kTextChunks) != text) {
        fail(ErrorCode::CODEC_BAD_FORMAT, "indefinite-length string mixes byte and text chunks");
        return;
      }
      if (n > lim_.max_string - f.chunks.size()) {
        fail(ErrorCode::CODEC_LIMIT_EXCEEDED, "string longer than " + std::to_string(lim_.max_string));
        return;
      }
      f.chunks.insert(f.chunks.end(), data, data + n);
      return;
    }
    if (!begin_item()) return;
    if (n > lim_.max_string) {
      fail(ErrorCode::CODEC_LIMIT_EXCEEDED,
           "string of " + std::to_string(n) + " bytes exceeds " + std::to_string(lim_.max_string));
      return;
    }
    Bytes b(data, data + n);
    emit(text ? CborValue::text(std::string(b.begin(), b.end())) : CborValue::bytes(std::move(b)));
  }

  void string_start(bool text) {
    if (!begin_item() || !check_depth()) return;
    Frame f(text ? Frame::kTextChunks : Frame::kBytesChunks);
    f.indefinite = true;
    stack_.push_back(std::move(f));
  }

  void container_start(Frame::Kind kind, size_t n) {
    if (!begin_item()) return;
    if (n > lim_.max_container) {
      fail(ErrorCode::CODEC_LIMIT_EXCEEDED, "container of " + std::to_string(n) +
                                                " elements exceeds " + std::to_string(lim_.max_container));
      return;
    }
    uint64_t want = kind == Frame::kMap ? uint64_t(n) * 2 : n;
    // Every element takes at least one byte: a count the rest of the input cannot hold is a
    // truncation, found before any allocation.
    if (want > in_.size() - pos_ - 1) {
      fail(ErrorCode::CODEC_TRUNCATED, "container declares " + std::to_string(n) +
                                           " elements but the input ends first");
      return;
    }
    if (want == 0) {
      emit(kind == Frame::kMap ? CborValue::map({}) : CborValue::array({}));
      return;
    }
    if (!check_depth()) return;
    Frame f(kind);
    f.remaining = want;
    f.items.reserve(want);
    stack_.push_back(std::move(f));
  }

  void indef_start(Frame::Kind kind) {
    if (!begin_item() || !check_depth()) return;
    Frame f(kind);
    f.indefinite = true;
    stack_.push_back(std::move(f));
  }

  void on_break() {
    if (!error_.ok()) return;
    if (stack_.empty() || !stack_.back().indefinite) {
      fail(ErrorCode::CODEC_BAD_FORMAT, "break (0xff) outside an indefinite-length item");
      return;
    }
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    switch (f.kind) {
      case Frame::kBytesChunks:
        emit(CborValue::bytes(std::move(f.chunks), true));
        return;
      case Frame::kTextChunks:
        emit(CborValue::text(std::string(f.chunks.begin(), f.chunks.end()), true));
        return;
      case Frame::kMap:
        if (f.items.size() % 2 != 0) {
          fail(ErrorCode::CODEC_BAD_FORMAT, "indefinite map ends after a key without a value");
          return;
        }
        emit(CborValue::map(std::move(f.items), true));
        return;
      case Frame::kArray:
        emit(CborValue::array(std::move(f.items), true));
        return;
      case Frame::kTag:
        break;
    }
    fail(ErrorCode::INTERNAL, "break closed a tag");
  }

  // Hands a finished item to the innermost open container, closing containers that complete.
  void emit(CborValue v) {
    while (true) {
      if (stack_.empty()) {
        root_ = std::move(v);
        return;
      }
      Frame& f = stack_.back();
      if (f.kind == Frame::kTag) {
        CborValue t = CborValue::tag(f.tag, std::move(v));
        stack_.pop_back();
        v = std::move(t);
        continue;
      }
      if (f.indefinite && f.items.size() >= 2 * lim_.max_container) {
        fail(ErrorCode::CODEC_LIMIT_EXCEEDED,
             "indefinite container exceeds " + std::to_string(lim_.max_container) + " elements");
        return;
      }
      f.items.push_back(std::move(v));
      if (f.kind == Frame::kMap && f.items.size() % 2 == 1) {
        const CborValue& key = f.items.back();
        for (size_t i = 0; i + 1 < f.items.size(); i += 2) {
          if (f.items[i] == key) {
            fail(ErrorCode::CODEC_BAD_FORMAT, "duplicate map key");
            return;
          }
        }
      }
      if (f.indefinite) {
        if (f.kind == Frame::kArray && f.items.size() > lim_.max_container) {
          fail(ErrorCode::CODEC_LIMIT_EXCEEDED,
               "indefinite array exceeds " + std::to_string(lim_.max_container) + " elements");
        }
        return;
      }
      if (--f.remaining > 0) return;
      CborValue done = f.kind == Frame::kMap ? CborValue::map(std::move(f.items))
                                             : CborValue::array(std::move(f.items));
      stack_.pop_back();
      v = std::move(done);
    }
  }

  ByteSpan in_;
  const CborLimits& lim_;
  size_t pos_ = 0;
  size_t items_ = 0;
  std::vector<Frame> stack_;
  std::optional<CborValue> root_;
  Status error_;
};

}  // namespace

Result<CborValue> cbor_decode_prefix(ByteSpan input, size_t* consumed, const CborLimits& limits) {
  Decoder d(input, limits);
  return d.run(consumed);
}

Result<CborValue> cbor_decode(ByteSpan input, const CborLimits& limits) {
  size_t consumed = 0;
  CPIPE_ASSIGN_OR_RETURN(CborValue v, cbor_decode_prefix(input, &consumed, limits));
  if (consumed != input.size()) {
    return make_error(ErrorCode::CODEC_TRAILING_DATA,
                      std::to_string(input.size() - consumed) + " bytes after the CBOR item");
  }
  return v;
}

}  // namespace cpipe::codec
