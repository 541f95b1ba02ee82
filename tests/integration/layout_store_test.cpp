// partid's layout record as the nodes follow it, against a real nats-server:
// a change reaches a follower through the KV watch (its polling interval is
// an hour here, so nothing else could bring it), and a change made while the
// follower's connection was down is found once NATS is back.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "partid/split/layout_store.h"
#include "support/cluster.h"
#include "support/run_loop.h"
#include "support/wait.h"

namespace parti {
namespace {

using namespace parti::testing;
using partid::routing::LayoutRecord;
using partid::split::LayoutStore;
using namespace std::chrono_literals;

constexpr uint32_t kPartitions = 8;
constexpr const char* kBucket = "layout-test";

// A node's side: a LayoutStore followed on a loop thread of its own, the
// last record it was handed kept for the test thread.
class Follower {
 public:
  Follower(std::shared_ptr<coord::Connection> conn, std::chrono::milliseconds interval)
      : store_(LayoutStore::open(std::move(conn), kBucket, io_.get_executor())) {
    store_->load(kPartitions);
    on_loop([&] {
      store_->follow(interval, [this](const LayoutRecord& r) {
        std::lock_guard lock(mu_);
        seen_ = r;
      });
    });
  }
  ~Follower() {
    on_loop([&] { store_->stop(); });
    work_.reset();
    thread_.join();
  }
  // Whether the last record handed over has a split under way.
  bool sees_a_split() {
    std::lock_guard lock(mu_);
    return seen_.split.has_value();
  }

 private:
  void on_loop(const std::function<void()>& f) { parti::testing::on_loop(io_, f); }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_{[this] { io_.run(); }};
  std::unique_ptr<LayoutStore> store_;
  std::mutex mu_;
  LayoutRecord seen_;
};

// Begins a split through a store of its own (another node's), blocking.
void begin_split(std::shared_ptr<coord::Connection> conn) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);  // the outcome is posted from the store's thread
  auto store = LayoutStore::open(std::move(conn), kBucket, io.get_executor());
  store->load(kPartitions);
  std::optional<std::string> failed;
  bool done = false;
  store->change(
      [](const LayoutRecord& r) -> std::variant<LayoutRecord, std::string> {
        std::string error;
        auto next = r.begin_split(&error);
        if (!next) return error;
        return *next;
      },
      [&](std::variant<LayoutRecord, std::string> outcome) {
        if (auto* why = std::get_if<std::string>(&outcome)) failed = *why;
        done = true;
      });
  while (!done) io.run_one();
  ASSERT_FALSE(failed) << *failed;
}

TEST(LayoutStoreTest, AChangeReachesAFollowerThroughTheWatchWithoutAPoll) {
  NatsServer server;
  Follower follower(connect(server), std::chrono::hours(1));
  begin_split(connect(server));
  EXPECT_TRUE(wait_until([&] { return follower.sees_a_split(); }, 10s));
}

TEST(LayoutStoreTest, AChangeMadeWhileTheFollowerWasCutOffIsFoundWhenNatsIsBack) {
  NatsServer server;
  Follower follower(connect(server), 100ms);
  server.stop();
  server.start();  // same port and store: the follower's connection comes back
  begin_split(connect(server));
  EXPECT_TRUE(wait_until([&] { return follower.sees_a_split(); }, 20s));
}

}  // namespace
}  // namespace parti
