#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "parti/subscription/durable_consumer.h"
#include "parti/subscription/subscription_helper.h"
#include "support/cluster.h"
#include "support/tcp_proxy.h"
#include "support/wait.h"

namespace parti {
using namespace parti::testing;
using namespace std::chrono_literals;

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "WORK";
    const char* subjects[] = {"work.>"};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_AddStream(&si, conn->jetstream(), &sc, nullptr, nullptr), NATS_OK);
    jsStreamInfo_Destroy(si);
  }
  void publish(const std::string& subject, const std::string& data) {
    ASSERT_EQ(js_Publish(nullptr, conn->jetstream(), subject.c_str(), data.data(), int(data.size()),
                         nullptr, nullptr),
              NATS_OK);
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu);
    return got;
  }
  // A handler that records each message as "<who>:<partition>:<data>".
  SubscriptionHelper::Handler recorder(const std::string& who) {
    return [this, who](const std::string& p, std::string_view, std::string_view d) {
      std::lock_guard lock(mu);
      got.push_back(who + ":" + p + ":" + std::string(d));
      return true;
    };
  }
  // In a handler, with `lock` on mu: says a message is held, then holds it
  // until open_gate() (at most `limit`).
  void hold_until_gate_opens(std::unique_lock<std::mutex>& lock, std::chrono::seconds limit) {
    held = true;
    gate_cv.notify_all();
    gate_cv.wait_for(lock, limit, [&] { return gate_open; });
  }
  bool wait_until_held(std::chrono::seconds limit) {
    std::unique_lock lock(mu);
    return gate_cv.wait_for(lock, limit, [&] { return held; });
  }
  void open_gate() {
    {
      std::lock_guard lock(mu);
      gate_open = true;
    }
    gate_cv.notify_all();
  }
  bool gate_is_open() {
    std::lock_guard lock(mu);
    return gate_open;
  }
  // Declared after the helpers, it is destroyed before them: a failed
  // assertion must not leave a handler held while they release.
  struct OpenGateOnExit {
    SubscriptionTest* test;
    ~OpenGateOnExit() { test->open_gate(); }
  };

  NatsServer server;
  std::shared_ptr<coord::Connection> conn = connect(server);
  std::mutex mu;
  std::vector<std::string> got;
  int fail_first = 0;
  std::condition_variable gate_cv;
  bool held = false, gate_open = false;
};

TEST_F(SubscriptionTest, FollowsThePartitionSetAndKeepsUnconsumedMessages) {
  SubscriptionHelper helper(conn, {"WORK"},
                            [&](const std::string& p, std::string_view, std::string_view d) {
                              std::lock_guard lock(mu);
                              if (fail_first > 0) {
                                --fail_first;
                                return false;  // nak: must come back
                              }
                              got.push_back(p + ":" + std::string(d));
                              return true;
                            });
  EXPECT_TRUE(helper.update({"p-1", "p-2"}).empty());
  EXPECT_EQ(helper.active(), (std::set<std::string>{"p-1", "p-2"}));
  publish("work.p-1", "a");
  publish("work.p-3", "c");  // not ours yet
  ASSERT_TRUE(wait_until([&] { return seen().size() == 1; }, 5s));
  EXPECT_EQ(seen()[0], "p-1:a");
  // p-3 arrives: its durable consumer starts from the message published earlier.
  EXPECT_TRUE(helper.update({"p-1", "p-3"}).empty());
  ASSERT_TRUE(wait_until([&] { return seen().size() == 2; }, 5s));
  EXPECT_EQ(seen()[1], "p-3:c");
  {
    std::lock_guard lock(mu);
    fail_first = 1;
  }
  publish("work.p-1", "retry");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 3; }, 10s));  // redelivered after the nak
  EXPECT_EQ(seen()[2], "p-1:retry");
  helper.update({});
  EXPECT_TRUE(helper.active().empty());
}

// Two workers on one stream, as two processes would be (a connection each):
// the server binds a durable push consumer to one subscription at a time, so
// the new owner of a partition is refused while the old one holds it; the
// partition stays wanted, and a retry binds it once the old owner let go.
TEST_F(SubscriptionTest, AHandedOverPartitionIsBoundOnceItsPreviousOwnerLetsGo) {
  SubscriptionHelper old_owner(conn, {"WORK"}, recorder("old"));
  SubscriptionHelper new_owner(connect(server), {"WORK"}, recorder("new"));
  EXPECT_TRUE(old_owner.update({"p-1"}).empty());
  const auto refused = new_owner.update({"p-1", "p-2"});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].find("p-1"), std::string::npos) << refused[0];
  EXPECT_EQ(new_owner.active(), std::set<std::string>{"p-2"});
  EXPECT_EQ(new_owner.pending(), std::set<std::string>{"p-1"});
  EXPECT_EQ(new_owner.retry().size(), 1u);  // still held
  publish("work.p-1", "a");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 1; }, 5s));
  EXPECT_EQ(seen()[0], "old:p-1:a");

  old_owner.update({});
  EXPECT_TRUE(new_owner.retry().empty());
  EXPECT_TRUE(new_owner.pending().empty());
  EXPECT_EQ(new_owner.active(), (std::set<std::string>{"p-1", "p-2"}));
  publish("work.p-1", "b");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 2; }, 5s));
  EXPECT_EQ(seen()[1], "new:p-1:b");
}

// Messages the old owner had received but not handled when it released the
// partition are handled by it (the release drains), not dropped to come back
// to the new owner only after ack_wait (a minute here, past the test's wait).
TEST_F(SubscriptionTest, AReleaseHandlesTheMessagesAlreadyReceived) {
  SubscriptionHelper::Options options{"WORK"};
  options.ack_wait = std::chrono::minutes(1);
  SubscriptionHelper old_owner(conn, options,
                               [&](const std::string& p, std::string_view, std::string_view d) {
                                 std::unique_lock lock(mu);
                                 got.push_back("old:" + p + ":" + std::string(d));
                                 hold_until_gate_opens(lock, 30s);
                                 return true;
                               });
  SubscriptionHelper new_owner(connect(server), options,
                               [&](const std::string& p, std::string_view, std::string_view d) {
                                 std::lock_guard lock(mu);
                                 got.push_back("new:" + p + ":" + std::string(d));
                                 return true;
                               });
  OpenGateOnExit open_on_exit{this};
  EXPECT_TRUE(old_owner.update({"p-1"}).empty());
  for (int i = 0; i < 5; ++i) publish("work.p-1", std::to_string(i));
  // The first message is in the handler; the other four wait behind it.
  ASSERT_TRUE(wait_until_held(10s));
  std::thread release([&] { old_owner.update({}); });
  // The new owner binds once the old one's interest is gone: the four
  // messages are still queued behind the held handler then.
  EXPECT_TRUE(wait_until([&] { return new_owner.update({"p-1"}).empty(); }, 10s));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(got.size(), 1u);
  }
  open_gate();
  release.join();
  ASSERT_TRUE(wait_until([&] { return seen().size() >= 5; }, 10s)) << seen().size();
  const std::vector<std::string> expected = {"old:p-1:0", "old:p-1:1", "old:p-1:2", "old:p-1:3",
                                             "old:p-1:4"};
  EXPECT_EQ(seen(), expected);
  publish("work.p-1", "5");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 6; }, 5s));
  EXPECT_EQ(seen().back(), "new:p-1:5");
}

// Partitions released together drain side by side: a handler still busy with
// one partition's message does not keep another released partition from its
// new owner (released one after another, p-2 would wait out p-1's drain,
// a minute here).
TEST_F(SubscriptionTest, ReleasedPartitionsDrainSideBySide) {
  SubscriptionHelper::Options options{"WORK"};
  options.ack_wait = std::chrono::minutes(2);
  options.drain_timeout = std::chrono::minutes(1);
  SubscriptionHelper old_owner(conn, options,
                               [&](const std::string&, std::string_view, std::string_view) {
                                 std::unique_lock lock(mu);
                                 hold_until_gate_opens(lock, 90s);
                                 return true;
                               });
  SubscriptionHelper new_owner(
      connect(server), options,
      [](const std::string&, std::string_view, std::string_view) { return true; });
  OpenGateOnExit open_on_exit{this};
  EXPECT_TRUE(old_owner.update({"p-1", "p-2"}).empty());
  publish("work.p-1", "held");
  ASSERT_TRUE(wait_until_held(10s));
  std::thread release([&] { old_owner.update({}); });
  EXPECT_TRUE(wait_until([&] { return new_owner.update({"p-2"}).empty(); }, 20s));
  EXPECT_FALSE(gate_is_open());  // p-1's message was still in its handler
  open_gate();
  release.join();
  EXPECT_TRUE(new_owner.update({"p-1", "p-2"}).empty());
  EXPECT_EQ(new_owner.active(), (std::set<std::string>{"p-1", "p-2"}));
}

// An old owner that hangs (its connection open, nothing answered: a stalled
// proxy between it and the server) keeps its binding until the server's pings
// give up on it, minutes later. Refused for take_over_after, the new owner
// takes the partition over from the consumer's ack floor: what the hung owner
// had not acknowledged comes again, to the new owner, and nothing published
// after the take-over reaches the hung owner once it wakes.
TEST_F(SubscriptionTest, AHungOwnersPartitionIsTakenOverFromItsAckFloor) {
  TcpProxy proxy(server.port());
  coord::Connection::Options hung_options;
  hung_options.url = proxy.url();
  hung_options.ping_interval = std::chrono::minutes(10);  // it must not notice the stall
  SubscriptionHelper::Options options{"WORK"};
  options.ack_wait = std::chrono::minutes(1);
  options.take_over_after = 1s;
  auto hung_conn = coord::Connection::connect(hung_options);
  SubscriptionHelper old_owner(hung_conn, options, recorder("old"));
  SubscriptionHelper new_owner(connect(server), options, recorder("new"));
  auto ack_floor = [&] {
    subscription::ConsumerSpec spec;
    spec.stream = "WORK";
    spec.durable = "parti-p-1";
    subscription::ConsumerState state;
    EXPECT_EQ(subscription::read_consumer(conn->jetstream(), spec, &state), "");
    return state.ack_floor;
  };
  ASSERT_TRUE(old_owner.update({"p-1"}).empty());
  publish("work.p-1", "a");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 1 && ack_floor() >= 1; }, 5s));
  proxy.stall();
  publish("work.p-1", "b");  // pushed towards the hung owner, never acknowledged
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(new_owner.update({"p-1"}).size(), 1u);  // still bound to the hung owner
  ASSERT_TRUE(wait_until([&] { return new_owner.retry().empty(); }, 20s));
  EXPECT_GE(std::chrono::steady_clock::now() - asked, options.take_over_after);
  ASSERT_TRUE(wait_until([&] { return seen().size() == 2; }, 5s));
  EXPECT_EQ(seen()[1], "new:p-1:b");  // again, from the ack floor
  publish("work.p-1", "c");
  ASSERT_TRUE(wait_until([&] { return seen().size() == 3; }, 5s));
  EXPECT_EQ(seen()[2], "new:p-1:c");

  proxy.unstall();  // the hung owner wakes and gets what was on its way: "b"
  publish("work.p-1", "d");
  auto seen_both = [&] {
    const auto s = seen();
    return std::count(s.begin(), s.end(), "old:p-1:b") == 1 &&
           std::count(s.begin(), s.end(), "new:p-1:d") == 1;
  };
  // The two handlers run on their own threads: in either order.
  ASSERT_TRUE(wait_until(seen_both, 10s)) << fmt::format("{}", fmt::join(seen(), " "));
  ASSERT_EQ(natsConnection_FlushTimeout(hung_conn->nats(), 5000), NATS_OK);
  for (const auto& m : seen()) {
    EXPECT_NE(m, "old:p-1:c");
    EXPECT_NE(m, "old:p-1:d");
  }
}

}  // namespace parti
