// Tests that speak the peer protocol by hand to a real node, as a stale
// leader or a broken peer would: blocking frame I/O on a raw connection, with
// the handshake every connection must start with (partid/peer/handshake.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "partid/peer/frame.h"
#include "partid/peer/handshake.h"
#include "support/raw_socket.h"

namespace parti::testing {

// The cluster name PartidCluster starts its nodes with, and their secret.
inline const std::string kTestCluster = "test";
inline const std::string kTestSecret = "a-test-cluster-secret-0123456789";

// Greeting::secrets holding `secret` alone, or none when it is empty.
inline std::vector<std::string> secrets_of(const std::string& secret) {
  if (secret.empty()) return {};
  return {secret};
}

inline void write_frame(boost::asio::ip::tcp::socket& s, const partid::pb::Envelope& e) {
  boost::asio::write(s, boost::asio::buffer(partid::peer::encode_frame(e)));
}

// The next frame, or nullopt when the connection closed (or sent garbage).
inline std::optional<partid::pb::Envelope> read_frame(boost::asio::ip::tcp::socket& s) {
  unsigned char header[partid::peer::kFrameHeaderBytes];
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::buffer(header), ec);
  if (ec) return std::nullopt;
  std::string body(partid::peer::decode_length(header), '\0');
  boost::asio::read(s, boost::asio::buffer(body), ec);
  if (ec) return std::nullopt;
  return partid::peer::decode_envelope(body);
}

// A peer connection past the handshake (its proof too, with secrets), as a
// node of `cluster` holding `secrets` (the first proven) opens it.
inline boost::asio::ip::tcp::socket greeted_peer(boost::asio::io_context& io,
                                                 const std::string& address,
                                                 const std::string& cluster,
                                                 std::vector<std::string> secrets) {
  auto s = connect_to(io, address);
  partid::peer::DialerHandshake handshake({partid::peer::kProtocol, cluster, std::move(secrets)});
  write_frame(s, handshake.hello());
  auto answer = read_frame(s);
  if (!answer) throw std::runtime_error("peer " + address + " closed on our Hello");
  auto verdict = handshake.on_answer(*answer);
  if (verdict.refused) {
    throw std::runtime_error("peer " + address + " did not accept our Hello: " + *verdict.refused);
  }
  if (verdict.proof) write_frame(s, *verdict.proof);
  return s;
}

inline boost::asio::ip::tcp::socket greeted_peer(boost::asio::io_context& io,
                                                 const std::string& address,
                                                 const std::string& cluster = kTestCluster,
                                                 const std::string& secret = kTestSecret) {
  return greeted_peer(io, address, cluster, secrets_of(secret));
}

// True when the node at `address` hears a peer holding `secrets`: both ends'
// proofs pass and a Ping gets its Pong.
inline bool heard_with(const std::string& address, std::vector<std::string> secrets) {
  boost::asio::io_context io;
  try {
    auto s = greeted_peer(io, address, kTestCluster, std::move(secrets));
    partid::pb::Envelope ping;
    ping.mutable_ping();
    ping.set_id(1);
    write_frame(s, ping);
    auto pong = read_frame(s);
    return pong && pong->has_pong();
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace parti::testing
