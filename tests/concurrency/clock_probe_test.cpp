// ClockProbe over real loopback TCP: a peer answers pings with a wall clock
// 3 s ahead of this process's, and a forward from a node never measured
// waits for that node's first measurement (when_measured), bounded by a
// patience, and never past the probe's stop.
#include "partid/node/clock_probe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "partid/api/forward_deadline.h"
#include "partid/peer/peer_server.h"
#include "support/peer_wire.h"
#include "support/run_loop.h"
#include "support/wait.h"

namespace partid::node {
namespace {

using namespace std::chrono_literals;
using parti::testing::wait_until;

constexpr int64_t kAhead = 3'000;

class ClockProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const peer::Greeting greeting{peer::kProtocol, "c", parti::testing::secrets_of("")};
    server = std::make_unique<peer::PeerServer>(
        loop.get_executor(), peer::ChannelLimits{1024, 1 << 20}, greeting,
        [this](pb::Envelope request, peer::PeerServer::Reply reply) {
          if (!request.has_ping()) return;
          ++pings;
          pb::Envelope pong;
          pong.mutable_pong()->set_node_id("peer");
          pong.mutable_pong()->set_unix_ms(api::unix_ms(std::chrono::system_clock::now()) + kAhead);
          reply(std::move(pong));
        });
    server->listen("127.0.0.1", 0);
    peer::ClientOptions o;
    o.greeting = greeting;
    client = std::make_unique<peer::PeerClient>(loop.get_executor(), o);
    topology = std::make_shared<routing::Topology>();
    topology->nodes["self"] = {"", "127.0.0.1:1"};
    topology->nodes["peer"] = {"", "127.0.0.1:" + std::to_string(server->port())};
    probe = std::make_unique<ClockProbe>(
        loop.get_executor(), *client, clocks, metrics, "self",
        [this] { return std::shared_ptr<const routing::Topology>(topology); }, 500ms);
    runner = std::thread([this] { loop.run(); });
  }
  void TearDown() override {
    on_loop([this] {
      probe->stop();
      client->stop();
      server->stop();
    });
    guard.reset();
    runner.join();
  }
  void on_loop(const std::function<void()>& f) { parti::testing::on_loop(loop, f); }
  // Waits on the loop for `node`'s measurement; returns whether this node
  // held one for it when the wait ended.
  bool wait_for(const std::string& node, std::chrono::milliseconds patience) {
    std::promise<bool> measured;
    on_loop([&] {
      probe->when_measured(node, patience, [&] {
        measured.set_value(clocks.offset(node, peer::PeerClocks::Steady::now()).has_value());
      });
    });
    return measured.get_future().get();
  }
  std::optional<peer::ClockOffset> offset_of(const std::string& node) {
    std::optional<peer::ClockOffset> o;
    on_loop([&] { o = clocks.offset(node, peer::PeerClocks::Steady::now()); });
    return o;
  }

  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  std::unique_ptr<peer::PeerServer> server;
  std::unique_ptr<peer::PeerClient> client;
  peer::PeerClocks clocks{500ms};
  api::Metrics metrics;
  std::shared_ptr<routing::Topology> topology;  // replaced, never changed, on the loop
  std::unique_ptr<ClockProbe> probe;
  std::thread runner;
  std::atomic<int> pings{0};
};

TEST_F(ClockProbeTest, AWaitForANodeNeverMeasuredEndsWithItsMeasurement) {
  // The probe is not started: the wait pings the node itself. A patience of
  // an hour would hang the test if the wait ended on it instead.
  ASSERT_TRUE(wait_for("peer", 1h));
  const auto o = offset_of("peer");
  ASSERT_TRUE(o.has_value());
  EXPECT_NEAR(static_cast<double>(o->offset_ms), kAhead, 100.0);
  EXPECT_EQ(pings.load(), 1);
}

TEST_F(ClockProbeTest, AWaitForANodeMeasuredAlreadyEndsAtOnceWithoutAPing) {
  on_loop([this] { clocks.record("peer", {kAhead, 1}, peer::PeerClocks::Steady::now()); });
  EXPECT_TRUE(wait_for("peer", 1h));
  EXPECT_EQ(pings.load(), 0);
}

TEST_F(ClockProbeTest, AWaitForANodeOutOfReachEndsUnmeasuredAndTheNextAtOnce) {
  on_loop([this] {
    auto t = std::make_shared<routing::Topology>(*topology);
    t->nodes["gone"] = {"", "127.0.0.1:1"};  // nothing listens there
    topology = t;
  });
  EXPECT_FALSE(wait_for("gone", 1h)) << "its refused ping ends the wait";
  EXPECT_FALSE(wait_for("unknown", 50ms)) << "not in the topology: the patience ends it";
  // For an interval after, a wait for either ends at once (an hour would hang).
  EXPECT_FALSE(wait_for("gone", 1h));
  EXPECT_FALSE(wait_for("unknown", 1h));
}

TEST_F(ClockProbeTest, StoppingTheProbeEndsEveryWait) {
  // A listener that accepts and never answers the Hello: the ping hangs.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  on_loop([&] {
    auto t = std::make_shared<routing::Topology>(*topology);
    t->nodes["silent"] = {"", "127.0.0.1:" + std::to_string(silent.local_endpoint().port())};
    topology = t;
  });
  std::promise<void> ended;
  on_loop([&] { probe->when_measured("silent", 1h, [&] { ended.set_value(); }); });
  on_loop([&] { probe->stop(); });
  EXPECT_EQ(ended.get_future().wait_for(10s), std::future_status::ready);
}

TEST_F(ClockProbeTest, ANodeThatJoinsIsMeasuredWithinATick) {
  on_loop([this] {
    auto t = std::make_shared<routing::Topology>(*topology);
    t->nodes.erase("peer");
    topology = t;
    probe->start();
  });
  on_loop([this] {
    auto t = std::make_shared<routing::Topology>(*topology);
    t->nodes["peer"] = {"", "127.0.0.1:" + std::to_string(server->port())};
    topology = t;
  });
  EXPECT_TRUE(wait_until([&] { return offset_of("peer").has_value(); }, 10s));
  EXPECT_NEAR(static_cast<double>(offset_of("peer")->offset_ms), kAhead, 100.0);
}

}  // namespace
}  // namespace partid::node
