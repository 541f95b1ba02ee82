// tests: a real `nats-server -js` on a free loopback port with a temporary
// store directory. stop()/start() restart it on the same port and store, for
// connection-loss tests. The destructor kills it and removes the directory.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "support/free_port.h"

namespace parti::testing {

class NatsServer {
 public:
  NatsServer();
  // With more nats-server flags: credentials or TLS the server demands.
  explicit NatsServer(std::vector<std::string> extra_args);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  void start();
  void stop();
  std::string url() const;
  int port() const { return port_; }

 private:
  std::string launch();  // "" once ready, else why not

  int port_ = 0;
  bool started_ = false;  // once: a restart keeps the port
  std::string dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// Servers in one JetStream cluster on loopback, routed to each other, for
// a control plane that must outlive one of them. Buckets with as many
// replicas as servers can be created once JetStream has elected its meta
// leader, a moment after the servers are ready.
class NatsCluster {
 public:
  explicit NatsCluster(size_t servers = 3);
  NatsServer& server(size_t i) { return *servers_.at(i); }
  // Every server's URL, comma separated (a client's list).
  std::string urls() const;

 private:
  std::vector<std::unique_ptr<NatsServer>> servers_;
};

// Deletes a KV bucket (its JetStream stream) on the server at `url`, as a
// server that lost its store would have it; throws std::runtime_error when
// the server refuses.
void delete_kv_bucket(const std::string& url, const std::string& bucket);

// `argv` run through setpriv(1) so that the process gets SIGKILL when the test
// process dies, even of a signal: a test that aborts leaves no server or node
// behind to load the machine or hold ports for the tests after it. The signal
// follows the thread that spawned the process; tests spawn from their main
// thread.
std::vector<std::string> killed_with_test(std::vector<std::string> argv);

}  // namespace parti::testing
