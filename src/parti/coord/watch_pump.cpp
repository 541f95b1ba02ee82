#include "parti/coord/watch_pump.h"

#include <utility>

#include "parti/core/thread_names.h"

namespace parti::coord {

namespace {
// How long one KvWatcher::next may block: bounds how late stop() takes effect.
constexpr std::chrono::milliseconds kNextTimeout{100};
}  // namespace

WatchPump::WatchPump(std::shared_ptr<KvBucket> bucket, std::string pattern, OnEvent on_event)
    : bucket_(std::move(bucket)), pattern_(std::move(pattern)), on_event_(std::move(on_event)) {}

WatchPump::~WatchPump() { stop(); }

void WatchPump::start() {
  thread_ = std::thread([this] {
    name_this_thread("parti-watch");
    run();
  });
}

void WatchPump::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void WatchPump::renew() {
  std::lock_guard lock(mu_);
  renew_ = true;
}

bool WatchPump::take_renew() {
  std::lock_guard lock(mu_);
  return std::exchange(renew_, false);
}

bool WatchPump::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool WatchPump::wait_backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

WatchPump::Outcome WatchPump::follow(KvWatcher& watcher, std::chrono::milliseconds& backoff) {
  while (!stopping()) {
    if (take_renew()) return Outcome::renewed;
    WatchEvent ev = watcher.next(kNextTimeout);
    if (ev.kind == WatchEvent::Kind::Timeout) continue;
    const bool broken = ev.kind == WatchEvent::Kind::Error;
    if (!broken) backoff = std::chrono::milliseconds(50);
    on_event_(std::move(ev));
    if (broken) return Outcome::broken;
  }
  return Outcome::stopping;
}

void WatchPump::run() {
  std::chrono::milliseconds backoff{50};
  while (!stopping()) {
    take_renew();  // asked before this watcher exists: this one is new
    auto created = bucket_->watch(pattern_);
    if (created.ok()) {
      const Outcome outcome = follow(*created.value, backoff);
      if (outcome == Outcome::stopping) return;
      if (outcome == Outcome::renewed) continue;
    } else {
      on_event_({WatchEvent::Kind::Error, {}, created.status});
    }
    if (!wait_backoff(backoff)) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace parti::coord
