#include "partid/peer/circuit_breaker.h"

#include <algorithm>

namespace partid::peer {

bool CircuitBreaker::allow(Clock::time_point now) {
  switch (state_) {
    case State::closed:
      return true;
    case State::open:
      if (now < open_until_) return false;
      state_ = State::half_open;
      probe_out_ = true;
      return true;
    case State::half_open:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return true;
}

void CircuitBreaker::on_success() {
  state_ = State::closed;
  failures_ = 0;
  cooldown_ = std::chrono::milliseconds(0);
  probe_out_ = false;
}

void CircuitBreaker::on_failure(Clock::time_point now) {
  if (state_ == State::half_open) return open(now);  // the probe failed
  if (state_ == State::open) return;                 // a call from before it opened
  if (++failures_ >= options_.failures_to_open) open(now);
}

void CircuitBreaker::open(Clock::time_point now) {
  cooldown_ =
      cooldown_.count() == 0 ? options_.cooldown : std::min(options_.max_cooldown, cooldown_ * 2);
  state_ = State::open;
  open_until_ = now + cooldown_;
  probe_out_ = false;
  failures_ = 0;
  ++opened_;
}

}  // namespace partid::peer
