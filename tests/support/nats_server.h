// tests: a real `nats-server -js` on a free loopback port with a temporary
// store directory. stop()/start() restart it on the same port and store, for
// connection-loss tests. The destructor kills it and removes the directory.
#pragma once

#include <sys/types.h>

#include <string>

namespace parti::testing {

class NatsServer {
 public:
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  void start();
  void stop();
  std::string url() const;
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

int free_port();

}  // namespace parti::testing
