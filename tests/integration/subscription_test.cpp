#include <gtest/gtest.h>

#include <mutex>

#include "parti/subscription/subscription_helper.h"
#include "support/cluster.h"
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
  NatsServer server;
  std::shared_ptr<coord::Connection> conn = connect(server);
  std::mutex mu;
  std::vector<std::string> got;
  int fail_first = 0;
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

}  // namespace parti
