#include "partid/node/start_stop.h"

#include "parti/manager/manager.h"
#include "partid/node/startup_retry.h"

namespace partid::node {

void StartStop::request(int signal) {
  // The lock is held through Manager::stop (seconds at most: it releases the
  // worker's keys) so that forget() cannot return, and the Manager go away,
  // while it runs. Neither thread involved is an event loop.
  std::lock_guard lock(mu_);
  if (signal_ == 0) signal_ = signal;
  cv_.notify_all();
  if (watched_ != nullptr) watched_->stop();
}

void StartStop::pause(Clock::duration d) {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, d, [this] { return signal_ != 0; })) throw StartInterrupted(signal_);
}

void StartStop::watch(parti::Manager* manager) {
  std::lock_guard lock(mu_);
  if (signal_ != 0) throw StartInterrupted(signal_);
  watched_ = manager;
}

void StartStop::forget() {
  std::lock_guard lock(mu_);
  watched_ = nullptr;
  if (signal_ != 0) throw StartInterrupted(signal_);
}

}  // namespace partid::node
