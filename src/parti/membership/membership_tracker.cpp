#include "parti/membership/membership_tracker.h"

#include <spdlog/spdlog.h>

namespace parti {

MembershipTracker::MembershipTracker(asio::any_io_executor loop, asio::thread_pool& pool,
                                     std::shared_ptr<coord::KvBucket> bucket,
                                     const Timings& timings, OnChange on_change)
    : loop_(loop),
      pool_(pool),
      bucket_(std::move(bucket)),
      timings_(timings),
      on_change_(std::move(on_change)),
      view_(timings.heartbeat_ttl),
      deadline_timer_(loop),
      debounce_timer_(loop) {}

MembershipTracker::~MembershipTracker() { stop(); }

void MembershipTracker::start() {
  // The pump thread may outlive a posted handler's owner only if stop() was
  // skipped; `alive_` makes such late handlers harmless.
  std::weak_ptr<bool> alive = alive_;
  pump_ = std::make_unique<coord::WatchPump>(bucket_, ">", [this, alive](coord::WatchEvent ev) {
    asio::post(loop_, [this, alive, ev = std::move(ev)]() mutable {
      if (alive.lock()) on_watch_event(std::move(ev));
    });
  });
  pump_->start();
  watch_broken();  // poll until the watch has delivered its initial state
}

void MembershipTracker::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (pump_) pump_->stop();
  alive_.reset();
  deadline_timer_.cancel();
  debounce_timer_.cancel();
}

void MembershipTracker::rewatch() {
  if (pump_) pump_->restart();
  watch_broken();
}

void MembershipTracker::watch_broken() {
  watch_healthy_ = false;
  if (polling_ || stopped_) return;
  polling_ = true;
  asio::co_spawn(loop_, poll_loop(), asio::detached);
}

void MembershipTracker::on_watch_event(coord::WatchEvent ev) {
  if (stopped_) return;
  const auto now = Clock::now();
  switch (ev.kind) {
    case coord::WatchEvent::Kind::InitialDone:
      watch_healthy_ = true;
      break;
    case coord::WatchEvent::Kind::Error:
      spdlog::debug("heartbeat watch broken: {}", ev.status.message);
      watch_broken();
      break;
    case coord::WatchEvent::Kind::Entry: {
      if (ev.entry.deleted) {
        emit(view_.on_delete(ev.entry.key, ev.entry.revision, now));
        break;
      }
      std::string why;
      auto record = decode_node_record(ev.entry.value, &why);
      if (!record || record->id != ev.entry.key) {
        spdlog::warn("ignoring malformed node record under '{}': {}", ev.entry.key, why);
        break;
      }
      emit(view_.on_put(*record, ev.entry.revision, now));
      break;
    }
    default:
      break;
  }
  arm_deadline();
}

asio::awaitable<void> MembershipTracker::poll_loop() {
  std::weak_ptr<bool> alive = alive_;
  asio::steady_timer timer(loop_);
  while (alive.lock() && !stopped_ && !watch_healthy_) {
    auto result = co_await run_blocking(pool_, [b = bucket_.get()] { return b->entries(); });
    if (!alive.lock() || stopped_) co_return;
    if (result.ok() && !watch_healthy_) {
      ++polls_;
      std::vector<std::pair<NodeRecord, uint64_t>> snapshot;
      for (const auto& e : result.value) {
        if (auto r = decode_node_record(e.value, nullptr); r && r->id == e.key) {
          snapshot.emplace_back(std::move(*r), e.revision);
        }
      }
      emit(view_.on_snapshot(snapshot, Clock::now()));
      arm_deadline();
    }
    timer.expires_after(timings_.poll_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (alive.lock()) polling_ = false;
}

void MembershipTracker::arm_deadline() {
  auto next = view_.next_deadline();
  if (!next) {
    deadline_timer_.cancel();
    return;
  }
  deadline_timer_.expires_at(*next);
  deadline_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || !alive.lock() || stopped_) return;
        emit(view_.on_tick(Clock::now()));
        arm_deadline();
      });
}

void MembershipTracker::emit(std::vector<MemberEvent> events) {
  if (events.empty()) return;
  pending_.insert(pending_.end(), events.begin(), events.end());
  if (debounce_armed_) return;  // coalesced into the delivery at the window's end
  flush();
  debounce_armed_ = true;
  debounce_timer_.expires_after(timings_.watch_debounce);
  debounce_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (!alive.lock()) return;
        debounce_armed_ = false;
        if (!ec && !pending_.empty()) flush();
      });
}

void MembershipTracker::flush() {
  auto events = std::move(pending_);
  pending_.clear();
  ++deliveries_;
  on_change_(events);
}

}  // namespace parti
