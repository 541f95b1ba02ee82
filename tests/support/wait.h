// tests: wait for a condition with a deadline. The predicate is re-checked on
// a short timed wait; nothing here waits a fixed time for a state to appear.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace parti::testing {

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    cv.wait_for(lock, std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace parti::testing
