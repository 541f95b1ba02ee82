#include "parti/membership/heartbeat_publisher.h"
#include "parti/core/spawn.h"

namespace parti {

HeartbeatPublisher::HeartbeatPublisher(asio::any_io_executor loop, asio::thread_pool& pool,
                                       std::shared_ptr<coord::KvBucket> bucket, Millis interval,
                                       OnResult on_result)
    : pool_(pool),
      bucket_(std::move(bucket)),
      interval_(interval),
      on_result_(std::move(on_result)),
      wake_(loop) {}

void HeartbeatPublisher::start(NodeRecord record, Refresh refresh) {
  record_ = std::move(record);
  refresh_ = std::move(refresh);
  record_.hlc = hlc_.tick(wall_clock_ms());
  running_ = true;
  asio::co_spawn(wake_.get_executor(), run(), log_failure("the heartbeat publisher"));
}

bool HeartbeatPublisher::apply(const std::function<void(NodeRecord&)>& change) {
  NodeRecord before = record_;
  change(record_);
  if (record_ == before) return false;
  record_.hlc = hlc_.tick(wall_clock_ms());
  return true;
}

void HeartbeatPublisher::update(const std::function<void(NodeRecord&)>& change) {
  if (!apply(change)) return;
  dirty_ = true;
  wake_.cancel();
}

asio::awaitable<void> HeartbeatPublisher::run() {
  while (running_) {
    dirty_ = false;
    if (refresh_) apply(refresh_);
    const std::string key = record_.id;
    const std::string value = encode(record_);
    auto status = co_await run_blocking(
        pool_, [b = bucket_.get(), k = &key, v = &value] { return b->put(*k, *v).status; });
    if (!running_) break;
    ++publishes_;
    on_result_(status);
    if (dirty_) continue;  // changed while we were publishing
    wake_.expires_after(interval_);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> HeartbeatPublisher::stop() {
  if (!running_) co_return;
  running_ = false;
  wake_.cancel();
  const std::string key = record_.id;
  co_await run_blocking(pool_, [b = bucket_.get(), k = &key] { return b->erase(*k); });
}

}  // namespace parti
