// api: pauses on the loop that an event can end early. A request that waits
// for something to change (a lock to go, a partition to be served again)
// pauses with a growing backoff; the event it waits for ends every pause
// under way at once, so it is retried as soon as it can pass rather than at
// the end of its pause.
// Threading: loop only.
#pragma once

#include <utility>  // before awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <set>

namespace partid::api {

namespace asio = boost::asio;

class WakeablePauses {
 public:
  // Waits `pause`, or until wake(); true when wake() ended it.
  asio::awaitable<bool> pause(std::chrono::milliseconds pause);
  // Ends every pause under way.
  void wake();

 private:
  std::set<asio::steady_timer*> pausing_;
};

}  // namespace partid::api
