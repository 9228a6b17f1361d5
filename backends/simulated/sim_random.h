// SimRandom: the simulator's seeded generator. Its stream is defined bit for bit (ChaCha20 of
// RFC 8439, keyed by a SplitMix64 expansion of the 64-bit seed), so a seed means the same run on
// every compiler, standard library and CPU. fork(label) derives an independent child stream per
// simulated process; mix() folds bytes into the key (used for the final "unseed" draw).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/base/bytes.h"
#include "core/runtime/random.h"

namespace cpipe::sim {

class SimRandom final : public runtime::Random {
 public:
  using Key = std::array<uint8_t, 32>;
  using Nonce = std::array<uint8_t, 12>;

  // Key = four SplitMix64 outputs of `seed` (little-endian), nonce = 0, block counter from 0.
  explicit SimRandom(uint64_t seed);
  // The raw ChaCha20 keystream of (key, nonce) from `counter`: lets tests check the stream
  // against RFC 8439 itself.
  static SimRandom from_key(const Key& key, const Nonce& nonce, uint32_t counter = 0);

  void fill(MutableByteSpan out) override;

  // A child stream keyed by SHA-256("cpipe.sim.fork" || key || label). It depends only on this
  // stream's key and the label, not on how much was drawn, so adding draws in one process never
  // shifts another's stream. The same label gives the same child: use distinct labels
  // ("stage1", "stage1#restart2").
  std::unique_ptr<SimRandom> fork(std::string_view label) const;

  // Rekeys with SHA-256("cpipe.sim.mix" || key || data) and restarts the block counter.
  void mix(ByteSpan data);

  // Bytes drawn so far (what unseed folds in for each stream).
  uint64_t bytes_drawn() const { return drawn_; }

  static uint64_t splitmix64(uint64_t& state);

 private:
  SimRandom(const Key& key, const Nonce& nonce, uint32_t counter);
  void refill();

  Key key_{};
  Nonce nonce_{};
  uint32_t counter_ = 0;
  std::array<uint8_t, 64> block_{};
  size_t used_ = 64;  // bytes of block_ already handed out
  uint64_t drawn_ = 0;
};

// Routes libsodium's randombytes_* (and so every libsodium key generation) to `random` while
// alive, restoring libsodium's default implementation afterwards. libsodium keeps ONE global
// implementation pointer for the whole process: only one scope may be active at a time per
// thread-free process (nested scopes restore in LIFO order), and nothing may use libsodium on
// another thread meanwhile. The simulator is single-threaded, so this holds there.
class SodiumRandomScope {
 public:
  explicit SodiumRandomScope(runtime::Random& random);
  ~SodiumRandomScope();
  SodiumRandomScope(const SodiumRandomScope&) = delete;
  SodiumRandomScope& operator=(const SodiumRandomScope&) = delete;

 private:
  runtime::Random* previous_;
};

}  // namespace cpipe::sim
