#include "support/nats_server.h"

#include <fcntl.h>
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

int free_port() {
  const int port = partid::cli::free_tcp_port();
  if (port < 0) throw std::runtime_error("no free port");
  return port;
}

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

void NatsServer::start() {
  if (pid_ > 0) return;
  const std::string port = std::to_string(port_);
  std::vector<std::string> server = {"nats-server", "-js", "-a",  "127.0.0.1",
                                     "-p",          port,  "-sd", dir_};
  server.insert(server.end(), extra_args_.begin(), extra_args_.end());
  std::vector<std::string> args = killed_with_test(std::move(server));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir_ + "/server.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // as partid::cli::spawn_detached
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot spawn nats-server (is it installed?)");
  if (!wait_until([&] { return partid::cli::tcp_port_open(port_); }, std::chrono::seconds(10))) {
    stop();
    throw std::runtime_error("nats-server did not start on port " + port);
  }
}

void NatsServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::vector<std::string> killed_with_test(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  return argv;
}

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

}  // namespace parti::testing
