// Env: the bundle of runtime interfaces one actor (a stage, the orchestrator, a client) runs on.
// Core code takes an Env& and reaches the outside world only through it (LevelDB's Env idea).
// The simulator hands each simulated process its own Env (its own clock skew, network identity,
// randomness stream, event component); the posix backend builds one per process.
#pragma once

#include "core/base/event.h"
#include "core/runtime/attestation.h"
#include "core/runtime/clock.h"
#include "core/runtime/compute.h"
#include "core/runtime/executor.h"
#include "core/runtime/random.h"
#include "core/runtime/transport.h"

namespace cpipe::runtime {

struct Env {
  Executor* executor = nullptr;
  Clock* clock = nullptr;
  Random* random = nullptr;
  Network* network = nullptr;
  Compute* compute = nullptr;
  EventSink* events = nullptr;  // never null once built; NullEventSink when nobody listens

  Logger logger(std::string component) const { return Logger(events, std::move(component)); }
};

}  // namespace cpipe::runtime
