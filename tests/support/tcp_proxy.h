// tests: a loopback TCP proxy in front of a server, for cutting one client off
// (a network partition of that client only). cut() drops every connection and
// refuses new ones until heal(). stall() keeps connections open but relays
// nothing until unstall(), which delivers what was held: to its clients the
// server then looks like a SIGSTOPped process (connects and writes succeed,
// nothing answers). Runs its own Asio thread.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parti::testing
