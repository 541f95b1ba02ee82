#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "parti/coord/kv_bucket.h"
#include "parti/membership/membership_tracker.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace parti {
using namespace parti::testing;
using namespace std::chrono_literals;

// A MembershipTracker on its own loop thread, fed by a real heartbeat bucket.
class MembershipTest : public ::testing::Test {
 protected:
  template <class F>
  decltype(std::declval<F>()()) on_loop(F f) {
    std::promise<decltype(f())> p;
    asio::post(loop, [&] { p.set_value(f()); });
    return p.get_future().get();
  }
  void SetUp() override {
    timings = fast_timings();
    timings.heartbeat_ttl = 30000ms;  // these tests are about watch and poll, not expiry
    timings.watch_debounce = 200ms;
    bucket = coord::KvBucket::open_or_create(conn, {"hb", Millis(60000), 1}).value;
    ASSERT_TRUE(bucket);
    tracker = std::make_unique<MembershipTracker>(loop.get_executor(), pool, bucket, timings,
                                                  [this](const std::vector<MemberEvent>& ev) {
                                                    std::lock_guard lock(mu);
                                                    ++deliveries;
                                                    for (const auto& e : ev) ++counts[e.id][e.kind];
                                                  });
    runner = std::thread([this] { loop.run(); });
    on_loop([&] {
      tracker->start();
      return 0;
    });
  }
  void TearDown() override {
    on_loop([&] {
      tracker->stop();
      return 0;
    });
    guard.reset();
    runner.join();
    pool.join();
  }
  void put(const std::string& id) {
    NodeRecord r;
    r.id = id;
    r.state = NodeState::Active;
    ASSERT_TRUE(bucket->put(id, encode(r)).ok());
  }
  int count(const std::string& id, MemberEvent::Kind k) {
    std::lock_guard lock(mu);
    return counts[id][k];
  }
  bool healthy() {
    return on_loop([&] { return tracker->watch_healthy(); });
  }

  NatsServer server;
  std::shared_ptr<coord::Connection> conn = connect(server);
  std::shared_ptr<coord::KvBucket> bucket;
  Timings timings;
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  asio::thread_pool pool{2};
  std::thread runner;
  std::unique_ptr<MembershipTracker> tracker;
  std::mutex mu;
  std::map<std::string, std::map<MemberEvent::Kind, int>> counts;
  int deliveries = 0;
};

TEST_F(MembershipTest, WatchSeesJoinAndCleanLeave) {
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 5s));
  put("node-1");
  ASSERT_TRUE(wait_until([&] { return count("node-1", MemberEvent::Kind::Joined) == 1; }, 2s));
  bucket->erase("node-1");
  ASSERT_TRUE(wait_until([&] { return count("node-1", MemberEvent::Kind::Left) == 1; }, 2s));
}

TEST_F(MembershipTest, WatchAndPollingTogetherNeverDoubleTrigger) {
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 5s));
  // Every round makes the watch and a poll snapshot both report the same keys.
  auto overlap = [&] {
    const uint64_t before = on_loop([&] { return tracker->polls(); });
    on_loop([&] {
      tracker->connection_lost();
      return 0;
    });
    ASSERT_TRUE(wait_until([&] { return on_loop([&] { return tracker->polls(); }) > before; }, 5s));
  };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) put("node-" + std::to_string(i));
    overlap();
  }
  bucket->erase("node-0");
  overlap();
  ASSERT_TRUE(wait_until([&] { return count("node-0", MemberEvent::Kind::Left) >= 1; }, 5s));
  overlap();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(count("node-" + std::to_string(i), MemberEvent::Kind::Joined), 1) << i;
  }
  EXPECT_EQ(count("node-0", MemberEvent::Kind::Left), 1);
}

TEST_F(MembershipTest, ServerRestartFallsBackToPollingThenTheWatchRecovers) {
  put("node-1");
  ASSERT_TRUE(
      wait_until([&] { return healthy() && count("node-1", MemberEvent::Kind::Joined) == 1; }, 5s));
  server.stop();
  on_loop([&] {
    tracker->connection_lost();
    return 0;
  });
  EXPECT_FALSE(healthy());
  server.start();
  const uint64_t polls_before = on_loop([&] { return tracker->polls(); });
  ASSERT_TRUE(wait_until(
      [&] {
        return bucket
            ->put("node-2",
                  [] {
                    NodeRecord r;
                    r.id = "node-2";
                    return encode(r);
                  }())
            .ok();
      },
      10s));
  // Seen first by polling or by the recreated watch; either way exactly once.
  ASSERT_TRUE(wait_until([&] { return count("node-2", MemberEvent::Kind::Joined) == 1; }, 10s));
  EXPECT_TRUE(
      wait_until([&] { return on_loop([&] { return tracker->polls(); }) > polls_before; }, 10s));
  // The lost consumer shows up as missed heartbeats and is recreated.
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 15s));
  put("node-3");
  ASSERT_TRUE(wait_until([&] { return count("node-3", MemberEvent::Kind::Joined) == 1; }, 3s));
  EXPECT_EQ(count("node-2", MemberEvent::Kind::Joined), 1);
}

TEST_F(MembershipTest, BurstsAreCoalescedIntoFewDeliveries) {
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 5s));
  for (int i = 0; i < 20; ++i) put("node-" + std::to_string(i));
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return counts.size() == 20;
      },
      5s));
  std::lock_guard lock(mu);
  // Leading edge delivers the first at once, the rest within one or two windows.
  EXPECT_LE(deliveries, 4);
}

}  // namespace parti
