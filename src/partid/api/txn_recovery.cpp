#include "partid/api/txn_recovery.h"

#include <spdlog/spdlog.h>

namespace partid::api {
namespace {

std::chrono::milliseconds interval_for(std::chrono::milliseconds timeout) {
  return std::clamp(timeout / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

// One pass: finish what coordinators left, then erase what old transactions
// left that nothing needs any more.
asio::awaitable<size_t> recover(ApiService& api, std::chrono::milliseconds timeout) {
  const size_t resolved = co_await api.txns().resolve_stale_txns(timeout);
  co_await api.txns().forget_old_txns();
  co_return resolved;
}

}  // namespace

TxnRecovery::TxnRecovery(asio::any_io_executor loop, ApiService& api,
                         std::chrono::milliseconds timeout)
    : loop_(loop),
      api_(api),
      timeout_(timeout),
      periodic_(loop, interval_for(timeout), [this] { pass(); }) {}

void TxnRecovery::stop() {
  *alive_ = false;
  periodic_.stop();
}

void TxnRecovery::pass() {
  if (running_) return;
  running_ = true;
  asio::co_spawn(loop_, recover(api_, timeout_),
                 [this, alive = alive_](std::exception_ptr e, size_t) {
                   if (!*alive) return;
                   running_ = false;
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::warn("transaction recovery pass failed: {}", ex.what());
                     }
                   }
                 });
}

}  // namespace partid::api
