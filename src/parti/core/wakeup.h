// core: a loop's "sleep until the next tick or until someone has news". A
// wake() that arrives while the loop is busy elsewhere (awaiting a KV request
// on the pool) is kept, not lost: the next sleep returns at once. A bare
// steady_timer::cancel() only interrupts a wait already in progress, which
// cost a crashed leader's successor a whole election tick. Loop thread only.
#pragma once

#include <chrono>

#include "parti/core/async.h"

namespace parti {

class Wakeup {
 public:
  explicit Wakeup(asio::io_context& loop) : timer_(loop) {}

  void wake() {
    pending_ = true;
    timer_.cancel();
  }

  // Returns after `d`, or at once when woken since the last sleep returned.
  template <class Rep, class Period>
  asio::awaitable<void> sleep(std::chrono::duration<Rep, Period> d) {
    if (!pending_) {
      timer_.expires_after(d);
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    pending_ = false;
  }

 private:
  asio::steady_timer timer_;
  bool pending_ = false;
};

}  // namespace parti
