#include "partid/api/waiting_clients.h"

namespace partid::api {

WaitingClients::Wait::Wait(WaitingClients& all, Phase phase, boost::asio::ip::tcp::socket& socket)
    : phase_(phase), since_(Clock::now()), socket_(socket) {
  all.waits_.push_back(*this);
}

// The first wait of a phase is its oldest (waits are appended as they
// begin): if it has not waited long enough, no other of that phase has.
WaitingClients::Wait* WaitingClients::oldest(Phase phase, Clock::time_point now) {
  const auto threshold = phase == Phase::idle ? thresholds_.idle : thresholds_.reading;
  for (Wait& w : waits_) {
    if (w.phase_ == phase) return w.since_ + threshold <= now ? &w : nullptr;
  }
  return nullptr;
}

std::optional<WaitingClients::Phase> WaitingClients::cut_one(Clock::time_point now) {
  // An idle connection loses nothing by closing (its client reconnects); a
  // reading one loses the request it is sending, so it goes second.
  for (Phase phase : {Phase::idle, Phase::reading}) {
    Wait* w = oldest(phase, now);
    if (!w) continue;
    w->cut_ = true;
    boost::system::error_code ignored;
    if (phase == Phase::idle) {
      w->socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      w->socket_.close(ignored);  // the descriptor is free now
    } else {
      // Its read ends (the socket reads as closed) and its session answers
      // 408, then closes. Not cancel(): under load a cancel was seen to leave
      // the read pending until the client went away (a test caught it).
      w->socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_receive, ignored);
    }
    w->unlink();
    return phase;
  }
  return std::nullopt;
}

}  // namespace partid::api
