#include "partid/peer/channel.h"
#include "parti/core/spawn.h"

#include <spdlog/spdlog.h>

#include <array>
#include <vector>

namespace partid::peer {

Channel::Channel(asio::ip::tcp::socket socket, ChannelLimits limits, std::string label)
    : socket_(std::move(socket)), limits_(limits), label_(std::move(label)) {}

void Channel::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  asio::co_spawn(socket_.get_executor(), read_loop(),
                 parti::log_failure("a peer connection's reader"));
}

asio::awaitable<void> Channel::read_loop() {
  auto self = shared_from_this();
  // Reads as much as the socket has and decodes every whole frame in it: one
  // syscall for many frames under load, instead of two per frame.
  std::string in;
  size_t start = 0;  // first unconsumed byte of `in`
  std::array<char, 64 * 1024> chunk;
  std::string why;
  try {
    while (open_ && !closing_ && why.empty()) {
      const size_t n = co_await socket_.async_read_some(asio::buffer(chunk), asio::use_awaitable);
      in.append(chunk.data(), n);
      while (open_ && !closing_ && in.size() - start >= kFrameHeaderBytes) {
        const auto* header = reinterpret_cast<const unsigned char*>(in.data() + start);
        const uint32_t length = decode_length(header);
        if (length > limits_.max_frame_bytes) {
          why = "frame of " + std::to_string(length) + " bytes exceeds the limit";
          break;
        }
        if (in.size() - start < kFrameHeaderBytes + length) break;  // need more bytes
        auto envelope =
            decode_envelope(std::string_view(in).substr(start + kFrameHeaderBytes, length));
        start += kFrameHeaderBytes + length;
        if (!envelope) {
          why = "frame is not a peer message";
          break;
        }
        if (handlers_.on_message) handlers_.on_message(std::move(*envelope));
      }
      in.erase(0, start);
      start = 0;
    }
  } catch (const boost::system::system_error& e) {
    why = e.code() == asio::error::eof ? "closed by peer" : e.code().message();
  } catch (const std::exception& e) {
    // A detached coroutine's exception vanishes: without this the connection
    // would stay open and never be read again.
    why = std::string("handling a frame failed: ") + e.what();
  }
  if (closing_) co_return;  // the last write closes it
  if (!why.empty() && why != "closed by peer" && open_) {
    spdlog::warn("peer connection {}: {}; closing it", label_, why);
  }
  close(why.empty() ? "closed" : why);
}

bool Channel::send(const pb::Envelope& envelope) {
  if (!open_ || closing_) return false;
  std::string frame = encode_frame(envelope);
  if (queued_bytes_ + frame.size() > limits_.max_queued_bytes) return false;
  queued_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (!writing_) {
    // Write on the next loop turn, not now: the handlers already ready on the
    // loop (other forwarded requests, other replication sends) queue theirs
    // first and all of them leave in one gathered write. Under load this cut
    // the syscalls per forwarded request; idle, it costs one handler hop.
    writing_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_next(); });
  }
  return true;
}

void Channel::write_next() {
  if (out_.empty() || !open_) {
    writing_ = false;
    if (closing_) close(*closing_);
    return;
  }
  writing_ = true;
  // Everything queued goes out in one gathered write.
  auto buffers = std::make_shared<std::vector<asio::const_buffer>>();
  for (const auto& frame : out_) buffers->push_back(asio::buffer(frame));
  asio::async_write(socket_, *buffers,
                    [self = shared_from_this(), buffers](boost::system::error_code ec, size_t) {
                      if (ec) {
                        self->close("write failed: " + ec.message());
                        return;
                      }
                      for (size_t i = 0; i < buffers->size(); ++i) {
                        self->queued_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                      }
                      self->write_next();
                    });
}

void Channel::close_after_flush(const std::string& why) {
  if (!open_ || closing_) return;
  closing_ = why;
  if (!writing_) close(why);
}

void Channel::close(const std::string& why) {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // on_message may be running right now (it may be what called close()), so
  // only the close handler is taken out.
  auto on_closed = std::move(handlers_.on_closed);
  handlers_.on_closed = nullptr;
  if (on_closed) on_closed(why);
}

}  // namespace partid::peer
