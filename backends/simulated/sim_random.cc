// ChaCha20 keystream generator (libsodium's crypto_stream_chacha20_ietf is the RFC 8439 block
// function: deterministic and identical everywhere) and the libsodium randombytes redirection.
#include "backends/simulated/sim_random.h"

#include <sodium.h>

#include <cassert>
#include <cstring>
#include <string>

namespace cpipe::sim {
namespace {

SimRandom::Key hash_key(std::string_view domain, const SimRandom::Key& key, ByteSpan data) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_hash_sha256_update(&st, key.data(), key.size());
  crypto_hash_sha256_update(&st, data.data(), data.size());
  SimRandom::Key out;
  crypto_hash_sha256_final(&st, out.data());
  return out;
}

// The Random libsodium draws from while a SodiumRandomScope is alive.
runtime::Random* g_sodium_random = nullptr;
// What to restore when the outermost scope ends.
randombytes_implementation* g_default_impl = nullptr;

const char* sim_impl_name() { return "cpipe-sim"; }
uint32_t sim_impl_random() {
  uint8_t b[4];
  g_sodium_random->fill(b);
  return load_u32_le(b);
}
void sim_impl_stir() {}
void sim_impl_buf(void* buf, size_t size) {
  g_sodium_random->fill(MutableByteSpan(static_cast<uint8_t*>(buf), size));
}
int sim_impl_close() { return 0; }

randombytes_implementation g_sim_impl = {
    sim_impl_name, sim_impl_random, sim_impl_stir, nullptr, sim_impl_buf, sim_impl_close,
};

}  // namespace

uint64_t SimRandom::splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

SimRandom::SimRandom(uint64_t seed) {
  uint64_t state = seed;
  for (int i = 0; i < 4; ++i) store_u64_le(key_.data() + 8 * i, splitmix64(state));
}

SimRandom::SimRandom(const Key& key, const Nonce& nonce, uint32_t counter)
    : key_(key), nonce_(nonce), counter_(counter) {}

SimRandom SimRandom::from_key(const Key& key, const Nonce& nonce, uint32_t counter) {
  return SimRandom(key, nonce, counter);
}

void SimRandom::refill() {
  static const uint8_t kZero[64] = {};
  crypto_stream_chacha20_ietf_xor_ic(block_.data(), kZero, sizeof kZero, nonce_.data(), counter_,
                                     key_.data());
  used_ = 0;
  if (++counter_ == 0) {
    // 256 GiB drawn under one nonce: move to the next nonce rather than repeat the keystream.
    for (uint8_t& b : nonce_) {
      if (++b != 0) break;
    }
  }
}

void SimRandom::fill(MutableByteSpan out) {
  size_t done = 0;
  while (done < out.size()) {
    if (used_ == block_.size()) refill();
    size_t n = std::min(out.size() - done, block_.size() - used_);
    std::memcpy(out.data() + done, block_.data() + used_, n);
    used_ += n;
    done += n;
  }
  drawn_ += out.size();
}

std::unique_ptr<SimRandom> SimRandom::fork(std::string_view label) const {
  Key child = hash_key("cpipe.sim.fork",  key_,
                       ByteSpan(reinterpret_cast<const uint8_t*>(label.data()), label.size()));
  return std::unique_ptr<SimRandom>(new SimRandom(child, Nonce{}, 0));
}

void SimRandom::mix(ByteSpan data) {
  key_ = hash_key("cpipe.sim.mix", key_, data);
  nonce_ = Nonce{};
  counter_ = 0;
  used_ = block_.size();
}

SodiumRandomScope::SodiumRandomScope(runtime::Random& random) : previous_(g_sodium_random) {
  if (sodium_init() < 0) std::abort();  // libsodium cannot work at all; nothing sane to do
  if (previous_ == nullptr) {
    std::string name = randombytes_implementation_name();
    g_default_impl = name == randombytes_sysrandom_implementation.implementation_name()
                         ? &randombytes_sysrandom_implementation
                         : &randombytes_internal_implementation;
  }
  g_sodium_random = &random;
  randombytes_set_implementation(&g_sim_impl);
}

SodiumRandomScope::~SodiumRandomScope() {
  g_sodium_random = previous_;
  if (previous_ == nullptr) randombytes_set_implementation(g_default_impl);
}

}  // namespace cpipe::sim
