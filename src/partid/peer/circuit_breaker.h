// peer: a circuit breaker for the requests to one peer. A peer can be
// connected and still not answer (stopped, overloaded, partitioned one way):
// without a breaker every forwarded request to it waits its full timeout.
// After `failures_to_open` consecutive failures (timeouts, lost connections)
// the circuit opens and calls fail at once; once the cooldown has passed one
// call goes through (half-open): its success closes the circuit, its failure
// opens it again for twice the cooldown (up to max_cooldown).
// Pure logic (the caller passes the time): no I/O, no clock, no threads.
#pragma once

#include <chrono>
#include <cstdint>

namespace partid::peer {

struct BreakerOptions {
  uint32_t failures_to_open = 5;
  std::chrono::milliseconds cooldown{500};
  std::chrono::milliseconds max_cooldown{10000};
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { closed, open, half_open };

  explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

  // May a call go out now? While half-open only the one probe may.
  bool allow(Clock::time_point now);
  void on_success();
  void on_failure(Clock::time_point now);

  State state() const { return state_; }
  uint64_t times_opened() const { return opened_; }
  std::chrono::milliseconds cooldown() const { return cooldown_; }

 private:
  void open(Clock::time_point now);

  BreakerOptions options_;
  State state_ = State::closed;
  uint32_t failures_ = 0;  // consecutive, while closed
  std::chrono::milliseconds cooldown_{0};
  Clock::time_point open_until_{};
  bool probe_out_ = false;
  uint64_t opened_ = 0;
};

}  // namespace partid::peer
