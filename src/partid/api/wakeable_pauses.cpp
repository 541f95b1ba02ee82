#include "partid/api/wakeable_pauses.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace partid::api {

asio::awaitable<bool> WakeablePauses::pause(std::chrono::milliseconds pause) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(pause);
  pausing_.insert(&timer);
  boost::system::error_code woken;  // operation_aborted: wake() ended it
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  pausing_.erase(&timer);
  co_return woken == asio::error::operation_aborted;
}

void WakeablePauses::wake() {
  // cancel() only queues the waits' completions: the set does not change here.
  for (auto* timer : pausing_) timer->cancel();
}

}  // namespace partid::api
