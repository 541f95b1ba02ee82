// A node out of file descriptors: connections it cannot accept wait in the
// listen backlog while the accept loop backs off (no busy loop, no log
// flood), and it accepts them once descriptors are free again. A node also
// raises its soft limit on open files to the hard one at start.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "support/partid_cluster.h"
#include "support/raw_socket.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// "Max open files  <soft>  <hard>  files" from /proc/<pid>/limits.
std::pair<long, long> open_files_limit(pid_t pid) {
  const std::string limits = read_file("/proc/" + std::to_string(pid) + "/limits");
  std::smatch m;
  static const std::regex line(R"(Max open files\s+(\d+)\s+(\d+))");
  if (!std::regex_search(limits, m, line)) return {-1, -1};
  return {std::stol(m[1]), std::stol(m[2])};
}

class PartidFdLimitTest : public ::testing::Test {
 protected:
  NatsServer nats;
  PartidCluster cluster{nats};
};

TEST_F(PartidFdLimitTest, ANodeRaisesItsSoftOpenFilesLimitToTheHardOne) {
  PartidOptions options;
  options.launcher = {"prlimit", "--nofile=256:4096", "--"};
  const size_t n = cluster.start(options);
  EXPECT_EQ(open_files_limit(cluster.node(n).pid), std::make_pair(4096L, 4096L));
}

TEST_F(PartidFdLimitTest, ANodeOutOfDescriptorsBacksOffAndAcceptsAgainOnceSomeAreFree) {
  PartidOptions options;
  options.launcher = {"prlimit", "--nofile=160:160", "--"};
  const size_t n = cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(1, 20s));
  const std::string address = cluster.node(n).api.substr(std::string("http://").size());
  const std::string log = cluster.node(n).log;
  {
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> held;
    // More than the node can hold: the rest wait in its listen backlog.
    for (int i = 0; i < 200; ++i) held.push_back(connect_to(io, address));
    ASSERT_TRUE(
        wait_until([&] { return read_file(log).find("accept failed") != std::string::npos; }, 10s))
        << "the node never ran out of descriptors";
  }  // closed: the node's descriptors are free again
  EXPECT_TRUE(wait_until([&] { return cluster.http(n, "GET", "/health").status == 200; }, 20s));
  const std::string text = read_file(log);
  // Without the back-off the loop retried at once, logging each failure:
  // thousands of lines in the time a test takes.
  EXPECT_LE(count_of(text, "accept failed"), 3u) << text.substr(0, 4000);
  EXPECT_TRUE(
      wait_until([&] { return read_file(log).find("accepting again") != std::string::npos; }, 10s));
  const json write = {{"partition_key", "after"}, {"message", "descriptors"}};
  EXPECT_EQ(cluster.http(n, "POST", "/items", write.dump()).status, 200);
}

}  // namespace
}  // namespace parti::testing
