// tests: run an event loop on the test's own thread until a condition holds
// or a deadline passes (for components whose callbacks come through the
// loop); the condition is checked after every handler the loop runs. Or, with
// a thread of the test running the loop, run a function on it and wait.
#pragma once

#include <chrono>
#include <functional>
#include <future>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace parti::testing {

inline bool run_until(boost::asio::io_context& loop, const std::function<bool()>& pred,
                      std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    loop.restart();
    loop.run_one_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// Runs `f` on `loop` (run by another thread) and returns once it has: for
// state only the loop may touch.
inline void on_loop(boost::asio::io_context& loop, const std::function<void()>& f) {
  std::promise<void> done;
  boost::asio::post(loop, [&] {
    f();
    done.set_value();
  });
  done.get_future().get();
}

}  // namespace parti::testing
