// coord::WatchedKeys' audits against a real nats-server: a healthy watch is
// never judged stuck, and a watch that does not deliver a revision an audit
// read is made again, while polls bring the owner what it missed.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "parti/coord/watched_keys.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace parti {
using namespace parti::testing;
using namespace std::chrono_literals;

class WatchedKeysTest : public ::testing::Test {
 protected:
  template <class F>
  decltype(std::declval<F>()()) on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(loop, [&task] { task(); });
    return done.get();
  }
  void TearDown() override {
    if (keys) on_loop([&] { keys->stop(); });
    guard.reset();
    if (runner.joinable()) runner.join();
    pool.join();
  }
  // Watches `pattern`, lists with `fetch`, and every `audit` reads the
  // bucket's last revision for the watch to deliver.
  void follow(const std::string& pattern, coord::WatchedKeys::Fetch fetch, Millis audit) {
    keys = std::make_unique<coord::WatchedKeys>(
        loop.get_executor(), pool, bucket, pattern, Millis(100), std::move(fetch),
        coord::WatchedKeys::Callbacks{[this](const coord::KvEntry& e) {
                                        std::lock_guard lock(mu);
                                        watched.insert(e.key + "=" + e.value);
                                      },
                                      [this](const coord::KvSnapshot& all) {
                                        std::lock_guard lock(mu);
                                        for (const auto& e : all.entries) {
                                          listed.insert(e.key + "=" + e.value);
                                        }
                                      }});
    keys->audit_every(audit, [b = bucket] { return b->last_revision(); });
    runner = std::thread([this] { loop.run(); });
    on_loop([&] { keys->start(); });
  }
  bool was_watched(const std::string& key_value) {
    std::lock_guard lock(mu);
    return watched.count(key_value) > 0;
  }
  bool was_listed(const std::string& key_value) {
    std::lock_guard lock(mu);
    return listed.count(key_value) > 0;
  }
  uint64_t audits() {
    return on_loop([&] { return keys->audits(); });
  }
  uint64_t renewals() {
    return on_loop([&] { return keys->renewals(); });
  }

  NatsServer server;
  std::shared_ptr<coord::Connection> conn = connect(server);
  std::shared_ptr<coord::KvBucket> bucket =
      coord::KvBucket::open_or_create(conn, {"watched", Millis(0), 1}).value;
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  asio::thread_pool pool{2};
  std::thread runner;
  std::unique_ptr<coord::WatchedKeys> keys;
  std::mutex mu;
  std::set<std::string> watched, listed;
};

TEST_F(WatchedKeysTest, AuditsOfAHealthyWatchUnderWritesFindNothingStuck) {
  ASSERT_TRUE(bucket);
  follow(
      ">", [b = bucket] { return b->entries(); }, Millis(50));
  int n = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string key = "k" + std::to_string(n % 10);
        EXPECT_TRUE(bucket->put(key, std::to_string(n)).ok());
        ++n;
        return audits() >= 20;
      },
      30s));
  const std::string last = "k" + std::to_string((n - 1) % 10) + "=" + std::to_string(n - 1);
  EXPECT_TRUE(wait_until([&] { return was_watched(last); }, 10s)) << last;
  EXPECT_EQ(renewals(), 0u) << n << " writes, " << audits() << " audits";
}

// A watch blind to keys its audits count is, to them, a watch that stopped
// delivering without an error: it is made again, and the polls that follow
// bring the owner what it missed.
TEST_F(WatchedKeysTest, AWatchThatDoesNotDeliverARevisionAnAuditReadIsMadeAgain) {
  ASSERT_TRUE(bucket);
  follow(
      "seen.>", [b = bucket] { return b->entries(); }, Millis(100));
  ASSERT_TRUE(bucket->put("seen.a", "1").ok());
  ASSERT_TRUE(wait_until([&] { return was_watched("seen.a=1"); }, 10s));
  ASSERT_TRUE(bucket->put("unseen.b", "2").ok());
  ASSERT_TRUE(wait_until([&] { return renewals() >= 1; }, 10s));
  EXPECT_TRUE(wait_until([&] { return was_listed("unseen.b=2"); }, 10s));
  EXPECT_FALSE(was_watched("unseen.b=2"));
  // The watch made again delivers; once it has delivered past what the
  // audits listed, it is judged healthy again.
  ASSERT_TRUE(bucket->put("seen.c", "3").ok());
  ASSERT_TRUE(wait_until([&] { return was_watched("seen.c=3"); }, 10s));
  const uint64_t settled = renewals();
  const uint64_t audited = audits();
  ASSERT_TRUE(wait_until([&] { return audits() >= audited + 3; }, 10s));
  EXPECT_EQ(renewals(), settled);
}

}  // namespace parti
