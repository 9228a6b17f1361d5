// make_posix_env: one process's Env, wired and usable end to end (network + compute + events).
#include "backends/posix/posix_env.h"

#include <gtest/gtest.h>

#include <optional>

namespace cpipe::posix {
namespace {

using namespace std::chrono_literals;
using runtime::Task;

// Accepts one connection and answers one byte with that byte + 1, computed on a worker.
Task<void> serve_once(runtime::Env env, runtime::Listener* listener) {
  auto s = co_await listener->accept();
  if (!s.ok()) co_return;
  uint8_t b = 0;
  if (!(co_await runtime::read_exact(**s, MutableByteSpan(&b, 1))).ok()) co_return;
  uint8_t* p = &b;
  co_await runtime::run_compute(*env.compute, *env.executor, [p] { *p = uint8_t(*p + 1); });
  (void)co_await (*s)->write_all(ByteSpan(&b, 1));
  env.logger("test").info("served", {{"value", std::to_string(b)}});
}

Task<Result<uint8_t>> ask(runtime::Env env, runtime::Endpoint ep, uint8_t value) {
  CPIPE_CO_ASSIGN_OR_RETURN(std::shared_ptr<runtime::Stream> s, co_await env.network->connect(ep, 5s));
  CPIPE_CO_RETURN_IF_ERROR(co_await s->write_all(ByteSpan(&value, 1)));
  uint8_t answer = 0;
  CPIPE_CO_RETURN_IF_ERROR(co_await runtime::read_exact(*s, MutableByteSpan(&answer, 1), 5s));
  co_return answer;
}

TEST(PosixEnvTest, BuildsAWorkingEnv) {
  CollectingEventSink events;
  PosixEnvOptions options;
  options.compute_threads = 2;
  options.event_sink = &events;
  auto posix = make_posix_env(options);
  runtime::Env env = posix->env;
  ASSERT_NE(env.executor, nullptr);
  ASSERT_NE(env.clock, nullptr);
  ASSERT_NE(env.random, nullptr);
  ASSERT_NE(env.network, nullptr);
  ASSERT_NE(env.compute, nullptr);
  ASSERT_EQ(env.events, &events);
  EXPECT_EQ(env.compute->threads(), 2);

  auto listener = env.network->listen(runtime::Endpoint::tcp("127.0.0.1", 0));
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  runtime::spawn(*env.executor, serve_once(env, listener->get()));
  Result<uint8_t> answer = posix->loop.block_on(ask(env, (*listener)->local_endpoint(), 41));
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(*answer, 42);
  ASSERT_TRUE(posix->loop.run_until([&events] { return events.contains("served"); }));
}

TEST(PosixEnvTest, DefaultSinkIsStderr) {
  auto posix = make_posix_env();
  EXPECT_EQ(posix->env.events, &posix->stderr_sink);
  EXPECT_GE(posix->env.compute->threads(), 1);
}

}  // namespace
}  // namespace cpipe::posix
