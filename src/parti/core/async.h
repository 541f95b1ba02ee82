// core: the bridge between an Asio event loop and blocking I/O. run_blocking()
// runs a callable on a thread pool and resumes the awaiting coroutine on its
// own executor, so loop-owned state is only ever touched by the loop thread.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <memory>
#include <type_traits>

namespace parti {

namespace asio = boost::asio;

// GCC 12 corrupts lambdas with non-trivial captures (strings, shared_ptrs)
// that are created inside a coroutine and handed to a co_await expression: we
// saw captured strings freed twice. So jobs may only capture trivially
// destructible values (raw pointers into the awaiting coroutine's frame or to
// objects that outlive the pool, numbers); the static_assert enforces it.
template <class F>
auto run_blocking(asio::thread_pool& pool, F&& f) {
  using Job = std::decay_t<F>;
  using R = decltype(std::declval<Job&>()());
  static_assert(std::is_trivially_destructible_v<Job>,
                "run_blocking jobs must capture only pointers and plain values (GCC 12 bug)");
  Job* job = new Job(std::forward<F>(f));
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [&pool, job](auto handler) {
        asio::post(pool, [h = std::move(handler), owned = std::unique_ptr<Job>(job)]() mutable {
          R result = (*owned)();
          owned.reset();
          auto ex = asio::get_associated_executor(h);
          asio::post(ex, [h = std::move(h), r = std::move(result)]() mutable { h(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace parti
