#include "parti/coord/watched_keys.h"
#include "parti/core/spawn.h"

#include <spdlog/spdlog.h>

namespace parti::coord {

WatchedKeys::WatchedKeys(asio::any_io_executor loop, asio::thread_pool& pool,
                         std::shared_ptr<KvBucket> bucket, std::string pattern,
                         Millis poll_interval, Fetch fetch, Callbacks callbacks)
    : loop_(loop),
      pool_(pool),
      bucket_(std::move(bucket)),
      pattern_(std::move(pattern)),
      poll_interval_(poll_interval),
      fetch_(std::move(fetch)),
      cb_(std::move(callbacks)),
      poll_timer_(loop),
      audit_timer_(loop) {}

WatchedKeys::~WatchedKeys() { stop(); }

void WatchedKeys::start() {
  // A pump event may be posted after this object is gone if its owner skipped
  // stop(); `alive` turns such late handlers into no-ops.
  std::weak_ptr<bool> alive = alive_;
  pump_ = std::make_unique<WatchPump>(bucket_, pattern_, [this, alive](WatchEvent ev) {
    asio::post(loop_, [this, alive, ev = std::move(ev)]() mutable {
      if (alive.lock()) on_watch_event(std::move(ev));
    });
  });
  pump_->start();
  watch_broken();  // poll until the watch has delivered its initial state
  if (audit_interval_.count() > 0) {
    asio::co_spawn(loop_, audit_loop(alive_), log_failure("a watched-keys audit loop"));
  }
}

void WatchedKeys::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (pump_) pump_->stop();
  alive_.reset();
  poll_timer_.cancel();
  audit_timer_.cancel();
}

void WatchedKeys::connection_lost() { watch_broken(); }

void WatchedKeys::watch_broken() {
  watch_healthy_ = false;
  snapshot_needed_ = true;
  if (polling_ || stopped_) return;
  polling_ = true;
  asio::co_spawn(loop_, poll_loop(alive_), log_failure("a watched-keys poll loop"));
}

void WatchedKeys::on_watch_event(WatchEvent ev) {
  if (stopped_) return;
  switch (ev.kind) {
    case WatchEvent::Kind::InitialDone:
      watch_healthy_ = true;
      break;
    case WatchEvent::Kind::Entry:
      watch_healthy_ = true;
      delivered_ = std::max(delivered_, ev.entry.revision);
      cb_.on_entry(ev.entry);
      break;
    case WatchEvent::Kind::Error:
      spdlog::debug("watch on {} broken: {}", bucket_->name(), ev.status.message);
      watch_broken();
      break;
    default:
      break;
  }
}

// Spawned: it may first run after this object is gone, so it checks the
// token it was given before touching `this`.
asio::awaitable<void> WatchedKeys::poll_loop(std::weak_ptr<bool> alive) {
  while (alive.lock() && !stopped_ && (!watch_healthy_ || snapshot_needed_)) {
    auto result = co_await run_blocking(pool_, [f = &fetch_] { return (*f)(); });
    if (!alive.lock() || stopped_) co_return;
    if (result.ok()) {
      ++polls_;
      snapshot_needed_ = false;
      cb_.on_snapshot(result.value);
    }
    if (watch_healthy_ && !snapshot_needed_) break;
    poll_timer_.expires_after(poll_interval_);
    boost::system::error_code ec;
    co_await poll_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (alive.lock()) polling_ = false;
}

// Spawned, like poll_loop.
asio::awaitable<void> WatchedKeys::audit_loop(std::weak_ptr<bool> alive) {
  while (alive.lock() && !stopped_) {
    audit_timer_.expires_after(audit_interval_);
    boost::system::error_code ec;
    co_await audit_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!alive.lock() || stopped_) co_return;
    if (polling_) {
      audited_ = 0;  // polls feed the keys; the watch is judged once it is back
      continue;
    }
    // In the frame: the pool may still run it after this object is gone.
    const Probe probe = probe_;
    auto newest = co_await run_blocking(pool_, [p = &probe] { return (*p)(); });
    if (!alive.lock() || stopped_) co_return;
    if (newest.ok()) audit(newest.value);
  }
}

void WatchedKeys::audit(uint64_t newest) {
  ++audits_;
  if (audited_ > delivered_ && !polling_) {
    ++renewals_;
    spdlog::warn(
        "watch on {} is stuck: revision {} was there an audit ago, and it has delivered "
        "only up to {}; making it again",
        bucket_->name(), audited_, delivered_);
    pump_->renew();
    watch_broken();  // the polls bring what it missed
  }
  audited_ = newest;
}

}  // namespace parti::coord
