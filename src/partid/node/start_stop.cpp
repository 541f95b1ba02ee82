#include "partid/node/start_stop.h"

#include "parti/manager/manager.h"
#include "partid/node/startup_retry.h"

namespace partid::node {

void StartStop::request(int signal) {
  {
    std::lock_guard lock(mu_);
    if (signal_ == 0) signal_ = signal;
    cv_.notify_all();
  }
  // Manager::stop takes seconds at most (it releases the worker's keys);
  // neither thread involved is an event loop.
  std::lock_guard lock(manager_mu_);
  if (watched_ != nullptr) watched_->stop();
}

void StartStop::throw_if_requested() {
  if (signal_ != 0) throw StartInterrupted(signal_);
}

void StartStop::pause(Clock::duration d) {
  await([] { return false; }, d);
}

bool StartStop::await(const std::function<bool()>& done, Clock::duration patience) {
  std::unique_lock lock(mu_);
  const bool held = cv_.wait_for(lock, patience, [&] { return signal_ != 0 || done(); });
  throw_if_requested();
  return held;
}

void StartStop::notify() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void StartStop::watch(parti::Manager* manager) {
  std::lock_guard manager_lock(manager_mu_);
  std::lock_guard lock(mu_);
  throw_if_requested();
  watched_ = manager;
}

void StartStop::forget() {
  std::lock_guard manager_lock(manager_mu_);
  watched_ = nullptr;
  std::lock_guard lock(mu_);
  throw_if_requested();
}

}  // namespace partid::node
