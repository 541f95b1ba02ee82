// node: a stop asked for while the node starts. A start may wait a long
// time (a minute for NATS to come up, as long for its old worker ID to be
// released); the daemon's SIGINT or SIGTERM during it must end it at once,
// not when its patience runs out. StartStop carries that request from the
// thread that took the signal to whatever the start is waiting on: the
// pause between tries of a NATS step, libparti's Manager::start, and the
// wait for every worker's record before the ready file.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace parti {
class Manager;
}

namespace partid::node {

class StartStop {
 public:
  using Clock = std::chrono::steady_clock;

  // From any thread. The start ends at the wait it is in or at its next
  // one, with StartInterrupted; a Manager being started is stopped.
  void request(int signal);
  // Sleeps `d`, or throws StartInterrupted once a stop is asked for.
  void pause(Clock::duration d);
  // Waits until `done` holds (checked at the start and at every notify()) or
  // `patience` passes: whether it held. Throws StartInterrupted once a stop
  // is asked for.
  bool await(const std::function<bool()>& done, Clock::duration patience);
  // Has await() check its condition again. From any thread, an event loop's
  // too: it never waits for more than await()'s own check.
  void notify();
  // While `manager` starts, a request stops it (Manager::start then throws).
  // `manager` must outlive the watch; forget() ends it, waiting for a stop
  // already running on it, and throws StartInterrupted if one was asked for
  // (also one that came as the start succeeded).
  void watch(parti::Manager* manager);
  void forget();

 private:
  void throw_if_requested();  // with mu_ held

  // Held briefly: the stop's signal and await()'s wake-ups.
  std::mutex mu_;
  std::condition_variable cv_;
  int signal_ = 0;
  // Held through Manager::stop, so that forget() cannot return (and the
  // Manager go away) while a stop runs on it; never taken by notify().
  std::mutex manager_mu_;
  parti::Manager* watched_ = nullptr;
};

}  // namespace partid::node
