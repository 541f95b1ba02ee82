// peer: one TCP connection to another node, carrying frames both ways. Reads
// run in a coroutine that hands each envelope to `on_message`; writes are
// queued and leave in gathered writes, one in flight at a time. The queue is bounded (backpressure:
// send() refuses when it is full) and a broken frame closes the channel. Both the accepting and the
// connecting side use this class. Threading: everything runs on the loop that owns the socket.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "parti/core/async.h"
#include "partid/peer/frame.h"

namespace partid::peer {

namespace asio = boost::asio;

// The largest frame either side of a handshake needs (a Hello, a proof): what
// a connection may send before it is open.
inline constexpr uint32_t kHandshakeFrameBytes = 64u << 10;

struct ChannelLimits {
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  size_t max_queued_bytes = 64u << 20;
  // What a connection may send before its handshake is done: a stranger holds
  // no large buffers. set_max_frame_bytes restores the real limit once open.
  ChannelLimits before_handshake() const {
    ChannelLimits l = *this;
    l.max_frame_bytes = std::min(max_frame_bytes, kHandshakeFrameBytes);
    return l;
  }
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  struct Handlers {
    std::function<void(pb::Envelope)> on_message;
    std::function<void(const std::string& why)> on_closed;  // called once
  };
  Channel(asio::ip::tcp::socket socket, ChannelLimits limits, std::string label);
  void start(Handlers handlers);
  // Queues one frame; false when the channel is closed or its queue is full.
  bool send(const pb::Envelope& envelope);
  void close(const std::string& why);
  // Sends what is queued, then closes: a refusal must reach the peer before
  // the connection goes. Nothing more is read or queued meanwhile.
  void close_after_flush(const std::string& why);
  const std::string& label() const { return label_; }
  // From the next frame on (a handshake done raises it to the real limit).
  void set_max_frame_bytes(uint32_t bytes) { limits_.max_frame_bytes = bytes; }

 private:
  asio::awaitable<void> read_loop();
  void write_next();

  asio::ip::tcp::socket socket_;
  ChannelLimits limits_;
  std::string label_;
  Handlers handlers_;
  std::deque<std::string> out_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = true;
  std::optional<std::string> closing_;  // close_after_flush's reason
};

}  // namespace partid::peer
