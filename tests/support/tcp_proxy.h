// tests: a loopback TCP proxy in front of a server, for cutting clients off
// (network partitions on one machine). cut() drops every connection and
// refuses new ones until heal(). stall() keeps connections open but relays
// nothing until unstall(), which delivers what was held: to its clients the
// server then looks like a SIGSTOPped process (connects and writes succeed,
// nothing answers), and to the server the clients look gone quiet, as across
// a partition that heals within TCP's retransmission timeouts. stall_from()
// does the same to the connections of one client address only (each partid
// node connects from an address of its own, --peer-source), and while a
// connection is stalled its close is held too: nothing crosses, not even a
// FIN. throttle() relays each direction of every connection at most at a
// given rate (a slow link: a large transfer takes long, small messages still
// pass). Runs its own Asio thread.
#pragma once

#include <memory>
#include <string>

namespace parti::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const;
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port()); }
  void cut();
  void heal();
  void stall();
  void unstall();
  // Stalls, then delivers, only the connections whose client connected from
  // `address` (an IP address such as "127.0.0.3").
  void stall_from(const std::string& address);
  void unstall_from(const std::string& address);
  // Each direction of each connection relays at most `bytes_per_second`
  // from now on; 0 lifts the limit.
  void throttle(size_t bytes_per_second);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parti::testing
