// The examples are documentation that runs: each is run here, as a process of
// its own against a real nats-server, and its output checked, so an example
// that no longer works fails CI instead of a reader.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "support/cluster.h"
#include "support/partid_cluster.h"
#include "support/temp_dir.h"
#include "support/wait.h"

extern char** environ;

namespace parti {
using namespace parti::testing;
using namespace std::chrono_literals;

namespace {

// An example running as a child process, its stdout and stderr in a file.
// The destructor kills it if it still runs.
class Example {
 public:
  Example(const std::string& binary, const std::vector<std::string>& args, std::string out)
      : out_(std::move(out)) {
    std::vector<std::string> all{binary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // Not the test's own descriptors (its NATS connections, the server's log).
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Example() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Example(const Example&) = delete;
  Example& operator=(const Example&) = delete;

  bool started() const { return pid_ > 0; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // Its exit code once it exits within `timeout`; nullopt if it does not
  // (or was killed by a signal).
  std::optional<int> exit_code(std::chrono::milliseconds timeout) {
    int status = 0;
    if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) {
      return std::nullopt;
    }
    pid_ = -1;
    if (!WIFEXITED(status)) return std::nullopt;
    return WEXITSTATUS(status);
  }
  std::string output() const { return read_file(out_); }

 private:
  std::string out_;
  pid_t pid_ = -1;
};

// The partitions a worker example said it owns last ("owns {p-0,p-3}").
std::optional<std::set<std::string>> last_owned(const std::string& output) {
  static const std::regex owns(R"(owns \{([^}]*)\})");
  std::optional<std::set<std::string>> last;
  for (std::sregex_iterator m(output.begin(), output.end(), owns), end; m != end; ++m) {
    std::set<std::string> set;
    std::istringstream in((*m)[1].str());
    for (std::string p; std::getline(in, p, ',');) set.insert(p);
    last = std::move(set);
  }
  return last;
}

}  // namespace

class ExamplesTest : public ::testing::Test {
 protected:
  std::string example(const std::string& name) const {
    return std::string(EXAMPLES_DIR) + "/parti_" + name;
  }
  NatsServer nats;
  TempDir dir;
};

TEST_F(ExamplesTest, MetricsPrintsOneLeaderOwningEveryPartitionAndNoTrouble) {
  Example metrics(example("metrics"), {"--nats", nats.url()}, dir.sub("metrics.out"));
  ASSERT_TRUE(metrics.started());
  ASSERT_EQ(metrics.exit_code(60s), 0) << metrics.output();
  const std::string out = metrics.output();
  for (const char* line :
       {"\nparti_leader 1\n", "\nparti_partitions_owned 16\n", "\nparti_assignment_version 1\n",
        "\nparti_errors_total 0\n", "\nparti_heartbeats_failed_total 0\n",
        "\nparti_watch_renewals_total 0\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " in\n" << out;
  }
}

// A fleet of three workers: the strategy puts every "vip-" partition on the
// lowest worker ID and spreads the others by consistent hashing.
TEST_F(ExamplesTest, CustomStrategyPinsTheVipPartitionsToTheLowestWorkerAndSpreadsTheRest) {
  Example pinned(example("custom_strategy"), {"--nats", nats.url(), "--workers", "3"},
                 dir.sub("pinned.out"));
  ASSERT_TRUE(pinned.started());
  ASSERT_EQ(pinned.exit_code(60s), 0) << pinned.output();
  const std::string out = pinned.output();
  static const std::regex placed(R"(\n((?:p|vip)-\d+) -> (\S+))");
  std::map<std::string, std::string> where;
  std::set<std::string> workers, spread;
  for (std::sregex_iterator m(out.begin(), out.end(), placed), end; m != end; ++m) {
    where[(*m)[1]] = (*m)[2];
    workers.insert((*m)[2]);
    if ((*m)[1].str().rfind("p-", 0) == 0) spread.insert((*m)[2]);
  }
  ASSERT_EQ(where.size(), 11u) << out;  // p-0..p-7 and vip-0..vip-2
  ASSERT_FALSE(workers.empty());
  const std::string lowest = *workers.begin();
  for (const char* vip : {"vip-0", "vip-1", "vip-2"}) EXPECT_EQ(where[vip], lowest) << out;
  EXPECT_GE(spread.size(), 2u) << out;
}

// Two copies of the smallest worker split the partitions between them, each
// owned once, and leave cleanly on SIGTERM (exit 0, "stopped cleanly").
TEST_F(ExamplesTest, TwoWorkersShareThePartitionsAndStopCleanlyOnSigterm) {
  std::vector<std::unique_ptr<Example>> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<Example>(
        example("worker"),
        std::vector<std::string>{"--nats", nats.url(), "--partitions", "12", "--fast"},
        dir.sub("worker-" + std::to_string(i) + ".out")));
    ASSERT_TRUE(workers.back()->started());
  }
  auto split_between_them = [&] {
    std::set<std::string> all;
    size_t owned = 0;
    for (const auto& w : workers) {
      const std::string out = w->output();
      // Started (Manager::start returned): a stop before then ends the start.
      if (out.find("] stable, leader=") == std::string::npos) return false;
      const auto set = last_owned(out);
      if (!set || set->empty()) return false;
      owned += set->size();
      all.insert(set->begin(), set->end());
    }
    return owned == 12 && all.size() == 12;
  };
  EXPECT_TRUE(wait_until(split_between_them, 60s)) << workers[0]->output() << "\n---\n"
                                                   << workers[1]->output();
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) {
    EXPECT_EQ(w->exit_code(30s), 0) << w->output();
    EXPECT_NE(w->output().find("stopped cleanly"), std::string::npos) << w->output();
  }
}

// Two stream consumers share the stream's partitions: every message
// published to a partition is consumed (printed) by exactly one of them.
TEST_F(ExamplesTest, TwoStreamConsumersConsumeEachMessageOnce) {
  std::vector<std::unique_ptr<Example>> consumers;
  for (int i = 0; i < 2; ++i) {
    consumers.push_back(std::make_unique<Example>(
        example("stream_consumer"),
        std::vector<std::string>{"--nats", nats.url(), "--partitions", "4"},
        dir.sub("consumer-" + std::to_string(i) + ".out")));
    ASSERT_TRUE(consumers.back()->started());
  }
  static const std::regex consuming(R"(consuming (\d+) partitions)");
  auto consuming_now = [](const std::string& out) {
    int n = -1;
    for (std::sregex_iterator m(out.begin(), out.end(), consuming), end; m != end; ++m) {
      n = std::stoi((*m)[1]);
    }
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        const int a = consuming_now(consumers[0]->output());
        const int b = consuming_now(consumers[1]->output());
        return a > 0 && b > 0 && a + b == 4;
      },
      60s))
      << consumers[0]->output() << "\n---\n"
      << consumers[1]->output();
  auto conn = connect(nats);
  std::vector<std::string> bodies;
  for (int p = 0; p < 4; ++p) {
    for (int k = 0; k < 3; ++k) {
      bodies.push_back("order-" + std::to_string(p) + "-" + std::to_string(k));
      const std::string subject = "orders.p-" + std::to_string(p);
      ASSERT_EQ(js_Publish(nullptr, conn->jetstream(), subject.c_str(), bodies.back().data(),
                           static_cast<int>(bodies.back().size()), nullptr, nullptr),
                NATS_OK);
    }
  }
  auto times_consumed = [&](const std::string& body) {
    size_t n = 0;
    for (const auto& c : consumers) {
      const std::string out = c->output();
      for (size_t at = out.find("] " + body + "\n"); at != std::string::npos;
           at = out.find("] " + body + "\n", at + 1)) {
        ++n;
      }
    }
    return n;
  };
  for (const auto& body : bodies) {
    EXPECT_TRUE(wait_until([&] { return times_consumed(body) >= 1; }, 30s))
        << body << "\n"
        << consumers[0]->output() << "\n---\n"
        << consumers[1]->output();
  }
  for (auto& c : consumers) c->signal(SIGTERM);
  for (auto& c : consumers) EXPECT_EQ(c->exit_code(30s), 0) << c->output();
  for (const auto& body : bodies) EXPECT_EQ(times_consumed(body), 1u) << body;
}

}  // namespace parti
