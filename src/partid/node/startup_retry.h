// node: a starting node's patience with NATS. Connecting, opening the node's
// buckets and reading the cluster's format and layout happen once, before the
// node serves. What a live server may answer for a moment (no server yet, a
// timeout while JetStream starts or is busy, no responders) must not end the
// start: a node killed by it at a loaded moment left its cluster one short.
// What the server will keep answering (credentials refused, a value that does
// not decode) ends the start at once.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

#include "parti/coord/connection.h"

namespace partid::node {

// Thrown by a start that a stop request ended (the daemon's SIGINT or
// SIGTERM; StartStop): a node waiting for NATS or for its worker ID stops at
// once, not at the end of its patience.
class StartInterrupted : public std::runtime_error {
 public:
  explicit StartInterrupted(int signal)
      : std::runtime_error("signal " + std::to_string(signal) + " while starting"),
        signal(signal) {}
  const int signal;
};

class StartupRetry {
 public:
  using Clock = std::chrono::steady_clock;
  // The machine's clock and a real sleep by default; tests pass their own,
  // and a node a pause that a stop request ends (StartStop::pause).
  struct Hooks {
    std::function<Clock::time_point()> now;
    std::function<void(Clock::duration)> sleep;
  };

  // One deadline, `patience` from now, for every step of the start.
  StartupRetry(Clock::duration patience, Clock::duration pause, Hooks hooks = {});

  // Runs `step` until it returns. A transient parti::coord::CoordError is
  // retried every `pause` until the deadline, then thrown; any other error
  // is thrown at once.
  template <class Step>
  auto run(const std::string& what, Step step) -> decltype(step()) {
    for (;;) {
      try {
        return step();
      } catch (const parti::coord::CoordError& e) {
        if (!wait_to_retry(what, e)) throw;
      }
    }
  }

 private:
  // Pauses and says true when `e` may pass and the deadline allows a retry.
  bool wait_to_retry(const std::string& what, const parti::coord::CoordError& e);

  Hooks hooks_;
  Clock::time_point deadline_;
  Clock::duration pause_;
  std::string warned_;  // the step last warned about: one warning per step
};

}  // namespace partid::node
