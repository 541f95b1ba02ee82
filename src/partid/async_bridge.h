// partid: turns a callback-style operation of a loop-owned component (the
// write pipeline, the peer client) into something a coroutine can co_await.
// `op` receives the completion callback and must capture only pointers and
// plain values (GCC 12 miscompiles non-trivial captures handed to co_await;
// see parti/core/async.h). The coroutine resumes through a post to its own
// executor, never inside `op`, so an operation that completes at once is safe.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>

#include "parti/core/async.h"

namespace partid {

namespace asio = boost::asio;

template <class R, class Op>
auto await_callback(Op op) {
  static_assert(std::is_trivially_destructible_v<Op>,
                "await_callback ops must capture only pointers and plain values (GCC 12 bug)");
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [op](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        op(std::function<void(R)>([h](R result) {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, r = std::move(result)]() mutable { (*h)(std::move(r)); });
        }));
      },
      asio::use_awaitable);
}

}  // namespace partid
