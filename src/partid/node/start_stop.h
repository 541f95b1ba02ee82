// node: a stop asked for while the node starts. A start may wait a long
// time (a minute for NATS to come up, as long for its old worker ID to be
// released); the daemon's SIGINT or SIGTERM during it must end it at once,
// not when its patience runs out. StartStop carries that request from the
// thread that took the signal to whatever the start is waiting on: the
// pause between tries of a NATS step, and libparti's Manager::start.
#pragma once

#include <chrono>
#include <condition_variable>
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
  // While `manager` starts, a request stops it (Manager::start then throws).
  // `manager` must outlive the watch; forget() ends it, waiting for a stop
  // already running on it, and throws StartInterrupted if one was asked for
  // (also one that came as the start succeeded).
  void watch(parti::Manager* manager);
  void forget();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int signal_ = 0;
  parti::Manager* watched_ = nullptr;
};

}  // namespace partid::node
