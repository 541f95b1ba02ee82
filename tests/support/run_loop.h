// tests: run an event loop on the test's own thread until a condition holds
// or a deadline passes (for components whose callbacks come through the
// loop); the condition is checked after every handler the loop runs.
#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>

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

}  // namespace parti::testing
