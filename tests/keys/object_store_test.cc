// HttpObjectStore against SimS3 in a SimWorld: HEAD sizes, ranged reads at every edge (first
// byte, last byte, across the end, past the end), missing objects and buckets, S3's error
// answers mapped to stable codes, injected 500/503 retried with backoff, SigV4 checked by the
// service, and connection reuse.
#include <gtest/gtest.h>

#include <memory>

#include "backends/simulated/sim_s3.h"
#include "backends/simulated/sim_world.h"
#include "core/keys/http_object_store.h"
#include "core/runtime/connector.h"

namespace cpipe::keys {
namespace {

using runtime::Endpoint;
using runtime::Task;

const AwsCredentials kCreds{"AKIDSIMS3EXAMPLE", "sim-secret-key-for-tests", ""};

struct S3World {
  explicit S3World(uint64_t seed = 5, sim::SimS3Config sc = default_config(), S3StoreConfig cc = client_config())
      : world(seed),
        enclave(world.add_node("enclave")),
        s3_node(world.add_node("s3")),
        env(enclave.env()),
        s3(s3_node, std::move(sc)),
        connector(env.network, Endpoint::tcp("s3", 80), std::chrono::seconds(2)),
        store(env, connector, std::move(cc)) {
    EXPECT_TRUE(s3.start().ok());
    object = pattern(300000);
    s3.put_object("models/m.sealed", object);
    s3.put_object("empty", {});
  }
  ~S3World() {
    store.close_idle_connections();  // so SimS3's connection handlers see EOF and finish
    s3.stop();
    (void)world.run_until_idle();
  }
  static sim::SimS3Config default_config() {
    sim::SimS3Config c;
    c.credentials = kCreds;
    return c;
  }
  static S3StoreConfig client_config() {
    S3StoreConfig c;
    c.bucket = "cpipe-models";
    c.credentials = kCreds;
    return c;
  }
  static Bytes pattern(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 7 + (i >> 9));
    return b;
  }
  // Runs `task` on the enclave node until the world is idle.
  void run(Task<void> task) {
    runtime::spawn(enclave, std::move(task));
    Status s = world.run_until_idle();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  sim::SimWorld world;
  sim::SimNode& enclave;
  sim::SimNode& s3_node;
  runtime::Env env;
  sim::SimS3 s3;
  runtime::NetworkConnector connector;
  HttpObjectStore store;
  Bytes object;
};

Task<void> do_size(ObjectStore* store, std::string key, Result<uint64_t>* out) {
  *out = co_await store->size(std::move(key));
}
Task<void> do_get(ObjectStore* store, std::string key, uint64_t offset, size_t length, Result<Bytes>* out) {
  *out = co_await store->get_range(std::move(key), offset, length);
}

Result<uint64_t> size_of(S3World& w, std::string key) {
  Result<uint64_t> r = make_error(ErrorCode::INTERNAL, "not run");
  w.run(do_size(&w.store, std::move(key), &r));
  return r;
}
Result<Bytes> get(S3World& w, std::string key, uint64_t offset, size_t length) {
  Result<Bytes> r = make_error(ErrorCode::INTERNAL, "not run");
  w.run(do_get(&w.store, std::move(key), offset, length, &r));
  return r;
}
Bytes slice(const Bytes& b, size_t off, size_t n) { return Bytes(b.begin() + off, b.begin() + off + n); }

TEST(ObjectStoreTest, HeadGivesTheSizeAndMissingKeysAreNotFound) {
  S3World w;
  auto s = size_of(w, "models/m.sealed");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(*s, 300000u);
  auto e = size_of(w, "empty");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, 0u);
  auto missing = size_of(w, "models/other.sealed");
  EXPECT_EQ(missing.code(), ErrorCode::NOT_FOUND);
}

TEST(ObjectStoreTest, RangedReadsAtEveryEdge) {
  S3World w;
  struct Case {
    uint64_t offset;
    size_t length;
    size_t expect;
  } cases[] = {{0, 1, 1},           {0, 100, 100},          {12345, 70000, 70000}, {299999, 1, 1},
               {299990, 10, 10},    {299990, 100, 10},      {0, 300000, 300000},   {0, 400000, 300000},
               {150000, 150000, 150000}};
  for (const Case& c : cases) {
    auto r = get(w, "models/m.sealed", c.offset, c.length);
    ASSERT_TRUE(r.ok()) << c.offset << "+" << c.length << ": " << r.status().to_string();
    EXPECT_EQ(*r, slice(w.object, c.offset, c.expect)) << c.offset << "+" << c.length;
  }
  // Keep-alive: every read above went over the one connection.
  EXPECT_EQ(w.store.stats().connections_opened, 1u);
  EXPECT_EQ(w.s3.stats().connections, 1u);
  EXPECT_EQ(w.store.stats().bytes_received, 70000u + 100 + 1 + 1 + 10 + 10 + 300000 + 300000 + 150000);
}

TEST(ObjectStoreTest, PastTheEndIs416OutOfRangeAndEmptyReadsSendNothing) {
  S3World w;
  auto r = get(w, "models/m.sealed", 300000, 10);
  EXPECT_EQ(r.code(), ErrorCode::OUT_OF_RANGE);
  EXPECT_NE(r.status().message().find("InvalidRange"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("bytes */300000"), std::string::npos) << r.status().message();
  auto e = get(w, "empty", 0, 10);
  EXPECT_EQ(e.code(), ErrorCode::OUT_OF_RANGE);
  const uint64_t before = w.s3.stats().requests;
  auto none = get(w, "models/m.sealed", 5, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(w.s3.stats().requests, before);
}

TEST(ObjectStoreTest, MissingKeyIsNoSuchKeyAndWrongBucketIsNoSuchBucket) {
  S3World w;
  auto r = get(w, "nope", 0, 10);
  EXPECT_EQ(r.code(), ErrorCode::NOT_FOUND);
  EXPECT_NE(r.status().message().find("NoSuchKey"), std::string::npos) << r.status().message();

  S3StoreConfig other = S3World::client_config();
  other.bucket = "someone-elses";
  S3World w2(5, S3World::default_config(), other);
  auto b = get(w2, "models/m.sealed", 0, 10);
  EXPECT_EQ(b.code(), ErrorCode::NOT_FOUND);
  EXPECT_NE(b.status().message().find("NoSuchBucket"), std::string::npos) << b.status().message();
}

TEST(ObjectStoreTest, PathStyleAddressingWorksToo) {
  S3StoreConfig c = S3World::client_config();
  c.path_style = true;
  S3World w(5, S3World::default_config(), c);
  auto r = get(w, "models/m.sealed", 1000, 5000);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, slice(w.object, 1000, 5000));
}

TEST(ObjectStoreTest, InjectedInternalErrorsAreRetriedWithBackoffThenSucceed) {
  S3World w;
  w.s3.fail_next(2, 500);
  const runtime::MonoTime t0 = w.world.now();
  auto r = get(w, "models/m.sealed", 0, 1000);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, slice(w.object, 0, 1000));
  EXPECT_EQ(w.store.stats().retries, 2u);
  EXPECT_EQ(w.store.stats().requests, 3u);
  EXPECT_EQ(w.s3.stats().injected, 2u);
  EXPECT_GT(w.world.now() - t0, runtime::Duration(0));
}

TEST(ObjectStoreTest, ErrorsBeyondTheAttemptBudgetSurfaceAsUnavailable) {
  S3StoreConfig c = S3World::client_config();
  c.max_attempts = 1;
  S3World w(5, S3World::default_config(), c);
  w.s3.fail_next(1, 500);
  auto r = get(w, "models/m.sealed", 0, 1000);
  EXPECT_EQ(r.code(), ErrorCode::UNAVAILABLE);
  EXPECT_NE(r.status().message().find("InternalError"), std::string::npos) << r.status().message();
  w.s3.fail_next(1, 503);
  auto s = get(w, "models/m.sealed", 0, 1000);
  EXPECT_EQ(s.code(), ErrorCode::UNAVAILABLE);
  EXPECT_NE(s.status().message().find("SlowDown"), std::string::npos) << s.status().message();
  // The next request (no fault left) works on a fresh connection.
  auto ok = get(w, "models/m.sealed", 0, 1000);
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
}

TEST(ObjectStoreTest, TheServiceChecksTheSignature) {
  S3StoreConfig c = S3World::client_config();
  c.credentials.secret_access_key = "not-the-secret";
  S3World w(5, S3World::default_config(), c);
  auto r = get(w, "models/m.sealed", 0, 10);
  EXPECT_EQ(r.code(), ErrorCode::KEYS_STORE_DENIED);
  EXPECT_NE(r.status().message().find("SignatureDoesNotMatch"), std::string::npos) << r.status().message();

  S3StoreConfig k = S3World::client_config();
  k.credentials.access_key_id = "AKIDSOMEONEELSE";
  S3World w2(5, S3World::default_config(), k);
  EXPECT_EQ(get(w2, "models/m.sealed", 0, 10).code(), ErrorCode::KEYS_STORE_DENIED);
  EXPECT_EQ(size_of(w2, "models/m.sealed").code(), ErrorCode::KEYS_STORE_DENIED);
}

TEST(ObjectStoreTest, TheHostsSkewedClockIsRefused) {
  S3World w;
  w.enclave.set_wall_offset(std::chrono::hours(1));
  auto r = get(w, "models/m.sealed", 0, 10);
  EXPECT_EQ(r.code(), ErrorCode::KEYS_STORE_DENIED);
  EXPECT_NE(r.status().message().find("RequestTimeTooSkewed"), std::string::npos) << r.status().message();
}

TEST(ObjectStoreTest, UnreachableServiceIsATransportErrorAfterRetries) {
  S3World w;
  w.s3.stop();
  auto r = get(w, "models/m.sealed", 0, 10);
  EXPECT_EQ(r.code(), ErrorCode::TRANSPORT_REFUSED) << r.status().to_string();
  EXPECT_EQ(w.store.stats().retries, 3u);
}

TEST(ObjectStoreTest, TimingFollowsTheLatencyAndBandwidthModelDeterministically) {
  auto run_once = [](uint64_t seed) {
    S3World w(seed);
    const runtime::MonoTime t0 = w.world.now();
    auto r = get(w, "models/m.sealed", 0, 300000);
    EXPECT_TRUE(r.ok());
    return (w.world.now() - t0).count();
  };
  const int64_t a = run_once(11), b = run_once(11);
  EXPECT_EQ(a, b);
  // 300 kB at 90 MB/s is 3.3 ms of transfer on top of a first byte of at least 8 ms.
  EXPECT_GT(a, (std::chrono::milliseconds(8) + std::chrono::microseconds(3300)).count());
}

}  // namespace
}  // namespace cpipe::keys
