// api: the client connections that are waiting on their client, oldest
// first: idle between requests, or with a request that is still arriving.
// A node at its connection cap makes room by closing the one that has waited
// longest past its phase's threshold, so idle clients (a pool's spare
// connections, or a stranger that connects and sends nothing) and slow ones
// (a slowloris dribbling its header) hold a slot only until someone needs
// it. A connection whose request is being served is never here: what it
// asked is never cut short. Threading: loop only.
#pragma once

#include <chrono>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/intrusive/list.hpp>

namespace partid::api {

class WaitingClients {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Phase { idle, reading };
  // How long a wait of each phase lasts before it may be cut to make room.
  struct Thresholds {
    std::chrono::milliseconds idle{1000};
    std::chrono::milliseconds reading{5000};
  };

  // One connection's wait, registered for as long as it exists (a local of
  // the session coroutine, so it needs no allocation and cannot dangle).
  class Wait : public boost::intrusive::list_base_hook<
                   boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
   public:
    Wait(WaitingClients& all, Phase phase, boost::asio::ip::tcp::socket& socket);
    Wait(const Wait&) = delete;
    Wait& operator=(const Wait&) = delete;
    // True once cut to make room: an idle connection's socket is closed; a
    // reading one's socket is shut for reading, and its session answers 408.
    bool cut() const { return cut_; }

   private:
    friend class WaitingClients;
    Phase phase_;
    Clock::time_point since_;
    boost::asio::ip::tcp::socket& socket_;
    bool cut_ = false;
  };

  explicit WaitingClients(Thresholds thresholds) : thresholds_(thresholds) {}
  // Cuts the longest idle wait past its threshold, else the longest reading
  // one past its own; returns the phase cut, or nothing if no wait qualifies.
  std::optional<Phase> cut_one(Clock::time_point now);

 private:
  Wait* oldest(Phase phase, Clock::time_point now);

  Thresholds thresholds_;
  // Appended as waits begin, so ordered by their start.
  boost::intrusive::list<Wait, boost::intrusive::constant_time_size<false>> waits_;
};

}  // namespace partid::api
