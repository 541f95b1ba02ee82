// core: the bridge between an Asio event loop and blocking I/O. run_blocking()
// runs a callable on a thread pool and resumes the awaiting coroutine on its
// own executor, so loop-owned state is only ever touched by the loop thread.
#pragma once

#include <boost/asio.hpp>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

namespace parti {

namespace asio = boost::asio;

template <class F>
auto run_blocking(asio::thread_pool& pool, F f) {
  using R = decltype(f());
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [&pool](auto handler, F fn) {
        asio::post(pool, [h = std::move(handler), fn = std::move(fn)]() mutable {
          R result = fn();
          auto ex = asio::get_associated_executor(h);
          asio::post(ex, [h = std::move(h), r = std::move(result)]() mutable { h(std::move(r)); });
        });
      },
      asio::use_awaitable, std::move(f));
}

}  // namespace parti
