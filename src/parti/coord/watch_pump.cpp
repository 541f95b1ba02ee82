#include "parti/coord/watch_pump.h"

namespace parti::coord {

WatchPump::WatchPump(std::shared_ptr<KvBucket> bucket, std::string pattern, OnEvent on_event)
    : bucket_(std::move(bucket)), pattern_(std::move(pattern)), on_event_(std::move(on_event)) {}

WatchPump::~WatchPump() { stop(); }

void WatchPump::start() {
  thread_ = std::thread([this] { run(); });
}

void WatchPump::restart() {
  std::lock_guard lock(mu_);
  restart_requested_ = true;
  if (current_ != nullptr) current_->stop();
  cv_.notify_all();
}

void WatchPump::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->stop();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool WatchPump::wait_backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_ || restart_requested_; });
  restart_requested_ = false;
  return !stopping_;
}

void WatchPump::run() {
  std::chrono::milliseconds backoff{50};
  while (true) {
    auto created = bucket_->watch(pattern_);
    if (!created.ok()) {
      on_event_({WatchEvent::Kind::Error, {}, created.status});
      if (!wait_backoff(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      current_ = created.value.get();
      restart_requested_ = false;
    }
    bool broken = false;
    while (!broken) {
      WatchEvent ev = created.value->next(std::chrono::milliseconds(500));
      switch (ev.kind) {
        case WatchEvent::Kind::Timeout:
          break;
        case WatchEvent::Kind::Entry:
        case WatchEvent::Kind::InitialDone:
          backoff = std::chrono::milliseconds(50);
          on_event_(std::move(ev));
          break;
        case WatchEvent::Kind::Stopped:
          broken = true;
          break;
        case WatchEvent::Kind::Error:
          on_event_(std::move(ev));
          broken = true;
          break;
      }
    }
    {
      std::lock_guard lock(mu_);
      current_ = nullptr;
      if (stopping_) return;
      if (restart_requested_) {
        restart_requested_ = false;
        continue;  // a requested restart needs no backoff
      }
    }
    on_event_({WatchEvent::Kind::Error, {}, {KvErrc::Unavailable, "watch stopped"}});
    if (!wait_backoff(backoff)) return;
  }
}

}  // namespace parti::coord
