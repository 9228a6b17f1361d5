// BPE over token ids: a piece starts as the ids of its bytes; merges are looked up in an
// open-addressing table keyed by the (left id, right id) pair, so no strings are built while
// merging. Results for short pieces are cached (words repeat a lot in text).
#include "model/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "model/tokenizer/gpt2_pretokenizer.h"

namespace cpipe::model {
namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();

uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// (left, right) -> (rank, merged id). Later inserts of the same pair overwrite earlier ones,
// like the dict(zip(merges, range(...))) of encoder.py.
class PairTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    uint32_t rank = kNoRank;
    TokenId merged = -1;
  };

  void reserve(size_t count) {
    size_t cap = 16;
    while (cap < count * 2) cap <<= 1;
    slots_.assign(cap, Entry{});
    mask_ = cap - 1;
  }

  void put(TokenId a, TokenId b, uint32_t rank, TokenId merged) {
    uint64_t key = pair_key(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        slots_[i] = Entry{key, rank, merged};
        return;
      }
    }
  }

  const Entry* find(TokenId a, TokenId b) const {
    uint64_t key = pair_key(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();
  static size_t hash(uint64_t k) {
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 32;
    return static_cast<size_t>(k);
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Pieces longer than this are not cached (rare, and they would bloat the cache).
constexpr size_t kMaxCachedPiece = 128;
constexpr size_t kMaxCacheEntries = 1 << 16;

// Words shorter than this use the reference loop (faster for them than a heap).
constexpr size_t kHeapMinSymbols = 24;

// encoder.py's bpe(): take the lowest-ranked adjacent pair, merge all its non-overlapping
// occurrences left to right, repeat. O(n^2) in the word length, but each pair is looked up
// once: entry[k] (the pair at k, k+1) is carried over while neither symbol changes.
void bpe_reference(const PairTable& pairs, std::vector<TokenId>& word) {
  const size_t n = word.size();
  std::vector<const PairTable::Entry*> entry(n, nullptr);
  std::vector<uint32_t> src(n);     // for an unchanged symbol: its index before the pass
  std::vector<uint8_t> fresh(n, 0);  // the symbol was produced by this pass
  for (size_t k = 0; k + 1 < n; ++k) entry[k] = pairs.find(word[k], word[k + 1]);
  while (word.size() > 1) {
    // Equal ranks mean the same pair: all its occurrences merge below.
    const PairTable::Entry* best = nullptr;
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      if (entry[k] != nullptr && (best == nullptr || entry[k]->rank < best->rank)) best = entry[k];
    }
    if (best == nullptr) break;
    const auto left = static_cast<TokenId>(best->key >> 32);
    const auto right = static_cast<TokenId>(best->key & 0xFFFFFFFFu);
    const TokenId merged = best->merged;
    size_t w = 0;
    for (size_t r = 0; r < word.size(); ++w) {
      if (r + 1 < word.size() && word[r] == left && word[r + 1] == right) {
        word[w] = merged;
        fresh[w] = 1;
        r += 2;
      } else {
        word[w] = word[r];
        fresh[w] = 0;
        src[w] = static_cast<uint32_t>(r++);
      }
    }
    word.resize(w);
    // src[k] >= k, so entry[src[k]] is still the old value when slot k is rewritten.
    for (size_t k = 0; k + 1 < w; ++k) {
      bool kept = !fresh[k] && !fresh[k + 1] && src[k + 1] == src[k] + 1;
      entry[k] = kept ? entry[src[k]] : pairs.find(word[k], word[k + 1]);
    }
  }
}

// The same result in O(n log n): a heap of candidate pairs ordered by (rank, position), merged
// one occurrence at a time, leftmost first. Equivalent to bpe_reference when merges are
// "ordered" (every merge ranks after the merges that produce its parts, checked at load): then
// a merge never creates a pair ranked below the one being applied, so all occurrences of the
// current pair are merged, left to right, before anything else — exactly one reference round.
void bpe_heap(const PairTable& pairs, std::vector<TokenId>& word) {
  struct Candidate {
    uint32_t rank;
    uint32_t pos;
    TokenId left;
    TokenId right;
    TokenId merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const auto n = static_cast<int32_t>(word.size());
  std::vector<int32_t> prev(n), next(n);
  std::vector<uint8_t> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    const PairTable::Entry* e = pairs.find(word[i], word[next[i]]);
    if (e != nullptr) heap.push({e->rank, static_cast<uint32_t>(i), word[i], word[next[i]], e->merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    auto i = static_cast<int32_t>(c.pos);
    // Stale if either symbol has merged since (a merge always changes a symbol's id: tokens
    // only grow).
    if (!alive[i] || word[i] != c.left) continue;
    int32_t j = next[i];
    if (j < 0 || word[j] != c.right) continue;
    word[i] = c.merged;
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  size_t w = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) word[w++] = word[i];
  word.resize(w);
}

}  // namespace

struct BpeTokenizer::Impl {
  std::array<TokenId, 256> byte_ids{};
  PairTable pairs;
  bool ordered_merges = false;  // bpe_heap is exact
  std::mutex cache_mu;
  std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> cache;
};

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;

Result<std::shared_ptr<const BpeTokenizer>> BpeTokenizer::create(BpeTokenizerData data) {
  std::shared_ptr<BpeTokenizer> t(new BpeTokenizer());
  if (data.vocab.empty()) return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "empty vocabulary");
  std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> ids;
  ids.reserve(data.vocab.size());
  TokenId max_id = 0;
  for (const auto& [bytes, id] : data.vocab) {
    if (id < 0 || id > (1 << 30)) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "token id " + std::to_string(id) + " out of range");
    }
    if (!ids.emplace(bytes, id).second) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "duplicate token in vocabulary");
    }
    max_id = std::max(max_id, id);
  }
  // Ids index a table: refuse wildly sparse ones instead of allocating gigabytes.
  if (static_cast<size_t>(max_id) >= 2 * data.vocab.size() + 1024) {
    return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "token ids are too sparse (max id " +
                                                          std::to_string(max_id) + " for " +
                                                          std::to_string(data.vocab.size()) + " tokens)");
  }
  t->id_to_bytes_.assign(static_cast<size_t>(max_id) + 1, std::string());
  t->id_present_.assign(static_cast<size_t>(max_id) + 1, false);
  for (const auto& [bytes, id] : data.vocab) {
    if (t->id_present_[id]) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "token id " + std::to_string(id) + " used twice");
    }
    t->id_present_[id] = true;
    t->id_to_bytes_[id] = bytes;
  }
  t->vocab_size_ = data.vocab.size();
  for (int b = 0; b < 256; ++b) {
    auto it = ids.find(std::string(1, static_cast<char>(b)));
    if (it == ids.end()) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER,
                        "byte " + std::to_string(b) + " has no token (not a byte-level vocabulary)");
    }
    t->impl_->byte_ids[b] = it->second;
  }

  auto lookup = [&](const std::string& s) -> TokenId {
    auto it = ids.find(s);
    return it == ids.end() ? -1 : it->second;
  };
  t->impl_->pairs.reserve(data.merges.size() + 64);
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const auto& [a, b] = data.merges[rank];
    TokenId ia = lookup(a), ib = lookup(b), im = lookup(a + b);
    if (ia < 0 || ib < 0 || im < 0) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER,
                        "merge " + std::to_string(rank) + " uses a token missing from the vocabulary");
    }
    t->impl_->pairs.put(ia, ib, static_cast<uint32_t>(rank), im);
  }
  // Ordered merges (see bpe_heap): every merge ranks after all merges producing its parts.
  std::vector<int64_t> produced_at(t->id_to_bytes_.size(), -1);  // highest rank producing the id
  std::vector<std::pair<TokenId, TokenId>> parts(data.merges.size(), {-1, -1});
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const auto& [a, b] = data.merges[rank];
    TokenId ia = lookup(a), ib = lookup(b);
    const PairTable::Entry* e = t->impl_->pairs.find(ia, ib);
    if (e->rank != rank) continue;  // a duplicate; the last one counts
    parts[rank] = {ia, ib};
    produced_at[e->merged] = std::max<int64_t>(produced_at[e->merged], static_cast<int64_t>(rank));
  }
  t->impl_->ordered_merges = true;
  for (size_t rank = 0; rank < parts.size(); ++rank) {
    auto [ia, ib] = parts[rank];
    if (ia < 0) continue;
    if (produced_at[ia] >= static_cast<int64_t>(rank) || produced_at[ib] >= static_cast<int64_t>(rank)) {
      t->impl_->ordered_merges = false;
    }
  }
  t->merge_count_ = data.merges.size();
  t->add_prefix_space_ = data.add_prefix_space;
  for (const auto& [text, id] : data.special_tokens) {
    if (text.empty() || id < 0 || id > max_id || !t->id_present_[id]) {
      return make_error(ErrorCode::MODEL_BAD_TOKENIZER, "special token '" + text + "' has no valid id");
    }
  }
  t->special_ = std::move(data.special_tokens);
  return std::shared_ptr<const BpeTokenizer>(std::move(t));
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  const Impl& impl = *impl_;
  if (piece.size() == 1) {
    out.push_back(impl.byte_ids[static_cast<uint8_t>(piece[0])]);
    return;
  }
  bool cacheable = piece.size() <= kMaxCachedPiece;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(impl_->cache_mu);
    auto it = impl_->cache.find(piece);
    if (it != impl_->cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<TokenId> word;
  word.reserve(piece.size());
  for (char c : piece) word.push_back(impl.byte_ids[static_cast<uint8_t>(c)]);
  if (impl.ordered_merges && word.size() >= kHeapMinSymbols) {
    bpe_heap(impl.pairs, word);
  } else {
    bpe_reference(impl.pairs, word);
  }
  out.insert(out.end(), word.begin(), word.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(impl_->cache_mu);
    if (impl_->cache.size() >= kMaxCacheEntries) impl_->cache.clear();
    impl_->cache.emplace(std::string(piece), std::move(word));
  }
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  std::string prefixed;
  if (add_prefix_space_ && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  std::vector<std::string_view> pieces;
  pieces.reserve(text.size() / 4 + 1);
  gpt2_pretokenize(text, pieces);
  for (std::string_view p : pieces) encode_piece(p, out);
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 1);
  encode_text(text, out);
  return out;
}

std::vector<TokenId> BpeTokenizer::encode_with_special(std::string_view text) const {
  std::vector<TokenId> out;
  size_t pos = 0;
  while (pos < text.size()) {
    // Earliest special token; the longest one where several start at the same place.
    size_t best_at = std::string_view::npos;
    const std::pair<std::string, TokenId>* best = nullptr;
    for (const auto& s : special_) {
      size_t at = text.find(s.first, pos);
      if (at == std::string_view::npos) continue;
      if (at < best_at || (at == best_at && s.first.size() > best->first.size())) {
        best_at = at;
        best = &s;
      }
    }
    if (best == nullptr) break;
    encode_text(text.substr(pos, best_at - pos), out);
    out.push_back(best->second);
    pos = best_at + best->first.size();
  }
  encode_text(text.substr(pos), out);
  return out;
}

bool BpeTokenizer::merges_ordered() const { return impl_->ordered_merges; }

Result<std::string> BpeTokenizer::token_bytes(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_bytes_.size() || !id_present_[id]) {
    return make_error(ErrorCode::OUT_OF_RANGE, "token id " + std::to_string(id) + " is not in the vocabulary");
  }
  return id_to_bytes_[id];
}

Result<std::string> BpeTokenizer::decode(std::span<const TokenId> ids) const {
  std::string out;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= id_to_bytes_.size() || !id_present_[id]) {
      return make_error(ErrorCode::OUT_OF_RANGE, "token id " + std::to_string(id) + " is not in the vocabulary");
    }
    out += id_to_bytes_[id];
  }
  return out;
}

}  // namespace cpipe::model
