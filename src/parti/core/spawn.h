// core: the completion for a coroutine nobody awaits. asio::detached drops
// the exception that ends such a coroutine without a word: a peer
// connection's reader once ended that way and left the connection open and
// never read again, with nothing in the log. log_failure says what ended and
// why; what the coroutine owned is released as with detached.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>

namespace parti {

// co_spawn(executor, coroutine(), log_failure("what it is")).
inline auto log_failure(const char* what) {
  return [what](std::exception_ptr failure, auto&&...) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      spdlog::error("{} ended by an exception: {}", what, e.what());
    } catch (...) {
      spdlog::error("{} ended by an exception of an unknown type", what);
    }
  };
}

}  // namespace parti
