// core: a callback run on a loop every interval until stopped. It exists so
// the node's samplers and tickers share one correct start/stop/re-arm dance:
// stop() makes a wait that is already due a no-op, even if its completion was
// queued before the cancel, which a bare steady_timer does not guarantee.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "parti/core/async.h"

namespace parti {

class Periodic {
 public:
  // `fn` runs on `loop`, first one interval after start(), then every interval.
  Periodic(asio::any_io_executor loop, std::chrono::milliseconds interval, std::function<void()> fn)
      : timer_(loop), interval_(interval), fn_(std::move(fn)) {}
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void start() { arm(); }
  // Loop only. After it returns `fn` never runs again.
  void stop() {
    *alive_ = false;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_after(interval_);
    timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (ec || !*alive) return;
      fn_();
      arm();
    });
  }

  asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::function<void()> fn_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parti
