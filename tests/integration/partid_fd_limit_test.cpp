// A node's file descriptors: it raises its soft open-files limit to the hard
// one and shares it out (clients at most half, storage at most a quarter);
// a client connection over the cap is answered 503 too_many_connections
// unless one waiting on its client (idle, or sending a request too slowly)
// can be closed to make room, so no number of clients takes the descriptors
// a RocksDB flush needs, nor keeps new clients out for long; and when
// descriptors do run out (a cap set too high), connections it cannot accept
// wait in the listen backlog while the accept loop backs off (no busy loop,
// no log flood) until descriptors are free again.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "support/kept_alive_connection.h"
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
  // Starts one node with `args` and returns its API's host:port.
  std::string start_node(std::vector<std::string> args) {
    PartidOptions options;
    options.extra_args = std::move(args);
    node = cluster.start(options);
    EXPECT_TRUE(cluster.wait_converged(1, 20s));
    return cluster.node(node).api.substr(std::string("http://").size());
  }
  // `count` kept-alive connections, each served once.
  std::vector<std::unique_ptr<KeptAliveConnection>> hold(const std::string& address, size_t count) {
    std::vector<std::unique_ptr<KeptAliveConnection>> held;
    for (size_t i = 0; i < count; ++i) {
      held.push_back(std::make_unique<KeptAliveConnection>(io, address));
      EXPECT_EQ(held.back()->request("GET", "/health").status, 200) << i;
    }
    return held;
  }
  // True when a new connection is served, not answered once over the cap.
  bool admitted(const std::string& address) {
    const HttpAnswer a = KeptAliveConnection(io, address).request("GET", "/health");
    return a.status == 200 && a.keep_alive;
  }
  NatsServer nats;
  PartidCluster cluster{nats};
  size_t node = 0;
  boost::asio::io_context io;
};

TEST_F(PartidFdLimitTest, ANodeRaisesItsSoftOpenFilesLimitToTheHardOne) {
  PartidOptions options;
  options.launcher = {"prlimit", "--nofile=256:4096", "--"};
  const size_t n = cluster.start(options);
  EXPECT_EQ(open_files_limit(cluster.node(n).pid), std::make_pair(4096L, 4096L));
  EXPECT_NE(read_file(cluster.node(n).log)
                .find("open files: limit 4096; up to 2048 client connections, up to 1024 storage "
                      "files"),
            std::string::npos);
}

// Connections that wait on their client are not reclaimed here: every
// connection over the cap is refused.
TEST_F(PartidFdLimitTest, AConnectionOverTheCapIsAnswered503UntilOneCloses) {
  const std::string address = start_node({"--max-client-connections", "4", "--reclaim-idle-ms",
                                          "600000", "--reclaim-slow-request-ms", "600000"});
  auto held = hold(address, 4);
  KeptAliveConnection extra(io, address);
  const HttpAnswer refused = extra.request("GET", "/items/over-the-cap");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "too_many_connections") << refused.body;
  EXPECT_EQ(refused.retry_after, "1");
  EXPECT_FALSE(refused.keep_alive);
  EXPECT_TRUE(extra.closed_by_node());
  // What an operator needs of a node at its cap is still answered, once.
  KeptAliveConnection monitor(io, address);
  const HttpAnswer health = monitor.request("GET", "/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_FALSE(health.keep_alive);
  EXPECT_TRUE(monitor.closed_by_node());
  // The connections served go on being served, and say what happened.
  const HttpAnswer metrics = held[0]->request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("partid_http_connections 4\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("partid_http_connections_refused_total 1\n"), std::string::npos);
  held.pop_back();  // one closes: a new connection is served
  EXPECT_TRUE(wait_until([&] { return admitted(address); }, 10s));
  const std::string log = read_file(cluster.node(node).log);
  EXPECT_EQ(count_of(log, "refusing more with 503"), 1u);
  EXPECT_NE(log.find("under the client-connection cap again, after "), std::string::npos);
}

TEST_F(PartidFdLimitTest, AtTheCapTheLongestIdleConnectionIsClosedToAdmitANewOne) {
  const std::string address =
      start_node({"--max-client-connections", "4", "--reclaim-idle-ms", "0"});
  auto held = hold(address, 4);
  KeptAliveConnection newcomer(io, address);
  const json item = {{"partition_key", "room"}, {"message", "made"}};
  const HttpAnswer wrote = newcomer.request("POST", "/items", item.dump());
  EXPECT_EQ(wrote.status, 200) << wrote.body;
  EXPECT_TRUE(wrote.keep_alive) << "admitted, not refused";
  EXPECT_TRUE(held[0]->closed_by_node()) << "the one idle longest made room";
  for (int i = 1; i < 4; ++i) EXPECT_EQ(held[i]->request("GET", "/health").status, 200) << i;
  const HttpAnswer metrics = newcomer.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("partid_http_idle_connections_closed_total 1\n"), std::string::npos);
  EXPECT_EQ(metrics.body.find("partid_http_connections_refused_total"), std::string::npos);
  EXPECT_NE(read_file(cluster.node(node).log).find("to make room for new ones"), std::string::npos);
}

// A slowloris client: its request never finishes arriving. At the cap it is
// answered 408 (and closed) when a new connection needs its place.
TEST_F(PartidFdLimitTest, AtTheCapARequestArrivingTooSlowlyIsAnswered408ToAdmitANewOne) {
  const std::string address = start_node({"--max-client-connections", "2", "--reclaim-idle-ms",
                                          "600000", "--reclaim-slow-request-ms", "0"});
  auto held = hold(address, 1);
  KeptAliveConnection slow(io, address);
  slow.send("POST /items HTTP/1.1\r\nHost: test\r\nContent-Length: 40\r\n\r\n{\"partition_");
  // Until the node has read the slow request's first bytes it counts as
  // idle, which is not reclaimed here: a newcomer is refused until then.
  // Seen to fail once in a loaded full run, not since: the node's log says
  // what it did with each connection.
  EXPECT_TRUE(wait_until([&] { return admitted(address); }, 10s))
      << "no newcomer was admitted; the node's log:\n"
      << read_file(cluster.node(node).log);
  const HttpAnswer cut = slow.answer();
  EXPECT_EQ(cut.status, 408) << cut.body << "\nthe node's log:\n"
                             << read_file(cluster.node(node).log);
  EXPECT_EQ(json::parse(cut.body)["error"]["code"], "request_timeout") << cut.body;
  EXPECT_FALSE(cut.keep_alive);
  EXPECT_TRUE(slow.closed_by_node());
  EXPECT_EQ(held[0]->request("GET", "/health").status, 200) << "the idle one was left alone";
}

// Without the cap, these connections took every descriptor and the flush
// that 3 MiB of writes into 1-MiB memtables needs could not open its file.
TEST_F(PartidFdLimitTest, ClientsCannotTakeTheDescriptorsStorageNeeds) {
  PartidOptions options;
  options.launcher = {"prlimit", "--nofile=160:160", "--"};
  // Not reclaimed: all 200 stay held, whatever the pace of the test.
  options.extra_args = {"--memtable-mib", "1", "--reclaim-idle-ms", "600000"};
  const size_t n = cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(1, 20s));
  EXPECT_NE(read_file(cluster.node(n).log)
                .find("open files: limit 160; up to 80 client connections, up to 64 storage files"),
            std::string::npos);
  const std::string address = cluster.node(n).api.substr(std::string("http://").size());
  KeptAliveConnection writer(io, address);
  ASSERT_EQ(writer.request("GET", "/health").status, 200);
  std::vector<boost::asio::ip::tcp::socket> held;
  for (int i = 0; i < 200; ++i) held.push_back(connect_to(io, address));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(cluster.node(n).log).find("refusing more") != std::string::npos; },
      10s));
  const std::string message(1000, 'm');
  for (int batch = 0; batch < 6; ++batch) {
    json items = json::array();
    for (int i = 0; i < 500; ++i) {
      items.push_back(
          {{"partition_key", "k" + std::to_string(batch * 500 + i)}, {"message", message}});
    }
    const HttpAnswer wrote = writer.request("POST", "/items/batch", json{{"items", items}}.dump());
    ASSERT_EQ(wrote.status, 200) << "batch " << batch << ": " << wrote.body;
  }
  EXPECT_EQ(json::parse(writer.request("GET", "/items/k2999").body)["items"][0]["message"],
            message);
  EXPECT_EQ(read_file(cluster.node(n).log).find("accept failed"), std::string::npos);
}

TEST_F(PartidFdLimitTest, ANodeOutOfDescriptorsBacksOffAndAcceptsAgainOnceSomeAreFree) {
  PartidOptions options;
  options.launcher = {"prlimit", "--nofile=160:160", "--"};
  options.extra_args = {"--max-client-connections", "1000"};  // more than it can hold
  const size_t n = cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(1, 20s));
  const std::string address = cluster.node(n).api.substr(std::string("http://").size());
  const std::string log = cluster.node(n).log;
  EXPECT_NE(read_file(log).find("over half the open-files limit"), std::string::npos);
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
