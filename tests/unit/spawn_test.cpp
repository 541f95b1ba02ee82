// parti::log_failure: what ends a coroutine nobody awaits is logged.
#include "parti/core/spawn.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <stdexcept>

#include "parti/core/async.h"

namespace parti {
namespace {

// The default logger writes to `out` while this lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::ostringstream out;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

asio::awaitable<void> fails() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw std::runtime_error("a handler bug");
}

asio::awaitable<int> succeeds() { co_return 7; }

TEST(LogFailureTest, AnExceptionThatEndsACoroutineIsLoggedWithWhatItWas) {
  CapturedLog log;
  asio::io_context loop;
  asio::co_spawn(loop, fails(), log_failure("a test coroutine"));
  asio::co_spawn(loop, succeeds(), log_failure("a coroutine that returns"));
  loop.run();
  const std::string text = log.out.str();
  EXPECT_NE(text.find("a test coroutine ended by an exception: a handler bug"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("a coroutine that returns"), std::string::npos) << text;
}

}  // namespace
}  // namespace parti
