#include "support/nats_server.h"

#include <fcntl.h>
#include <nats/nats.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "partid/cli/process.h"
#include "support/wait.h"

extern char** environ;

namespace parti::testing {

NatsServer::NatsServer() : NatsServer(std::vector<std::string>{}) {}

NatsServer::NatsServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  char tmpl[] = "/tmp/parti-nats-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_port();
  start();
}

NatsServer::~NatsServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

// Ready is what the server says once it listens for clients; a port that
// merely accepts connections may be another process's (the free port taken
// between free_port() and the bind, by a node of a test running beside this
// one: its client then met that process and was reset), and a server that
// could not bind exits. A first start picks another port then; a restart
// must keep its port, and says why it could not.
void NatsServer::start() {
  if (pid_ > 0) return;
  for (int attempt = 0;; ++attempt) {
    const std::string why = launch();
    if (why.empty()) {
      started_ = true;
      return;
    }
    if (started_ || attempt == 4) throw std::runtime_error(why);
    port_ = free_port();
  }
}

std::string NatsServer::launch() {
  const std::string port = std::to_string(port_);
  std::vector<std::string> server = {"nats-server", "-js", "-a",  "127.0.0.1",
                                     "-p",          port,  "-sd", dir_};
  server.insert(server.end(), extra_args_.begin(), extra_args_.end());
  std::vector<std::string> args = killed_with_test(std::move(server));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_ + "/server.log";
  const auto logged_before = partid::cli::file_size_or_zero(log);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // as partid::cli::spawn_detached
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot spawn nats-server (is it installed?)");
  bool exited = false;
  auto this_run = [&] { return partid::cli::read_from_offset(log, logged_before); };
  const bool ready = wait_until(
      [&] {
        int status = 0;
        exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
        return exited || this_run().find("Server is ready") != std::string::npos;
      },
      std::chrono::seconds(10));
  if (ready && !exited) return "";
  if (exited) {
    pid_ = -1;
  } else {
    stop();
  }
  return "nats-server did not start on port " + port + ": " + this_run();
}

void NatsServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

NatsCluster::NatsCluster(size_t servers) {
  std::vector<int> route_ports;
  for (size_t i = 0; i < servers; ++i) route_ports.push_back(free_port());
  for (size_t i = 0; i < servers; ++i) {
    std::string routes;
    for (size_t j = 0; j < servers; ++j) {
      if (j == i) continue;
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                std::to_string(route_ports[j]);
    }
    servers_.push_back(std::make_unique<NatsServer>(std::vector<std::string>{
        "--server_name", "s" + std::to_string(i), "--cluster_name", "parti-test", "--cluster",
        "nats://127.0.0.1:" + std::to_string(route_ports[i]), "--routes", routes}));
  }
}

std::string NatsCluster::urls() const {
  std::string out;
  for (const auto& s : servers_) out += (out.empty() ? "" : ",") + s->url();
  return out;
}

std::vector<std::string> killed_with_test(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  return argv;
}

void delete_kv_bucket(const std::string& url, const std::string& bucket) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsStatus s = natsConnection_ConnectTo(&nc, url.c_str());
  if (s == NATS_OK) s = natsConnection_JetStream(&js, nc, nullptr);
  if (s == NATS_OK) s = js_DeleteKeyValue(js, bucket.c_str());
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (s != NATS_OK) {
    throw std::runtime_error("deleting bucket " + bucket + ": " + natsStatus_GetText(s));
  }
}

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

}  // namespace parti::testing
