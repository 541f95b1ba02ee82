// GroupCommit: batches of storage changes written on a disk pool, callbacks
// back on the loop; under load a batch is held open (CommitDelay) for the
// writers of the last one, never for a lone write or a read.
#include "partid/replication/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "support/run_loop.h"
#include "support/temp_dir.h"

namespace partid::replication {
namespace {

using namespace std::chrono_literals;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    store = storage::StoreEngine::open(dir.sub("db"), {.sync = false}, &error);
    ASSERT_TRUE(store) << error;
  }
  void TearDown() override { disk.join(); }

  std::unique_ptr<GroupCommit> make(CommitDelay delay) {
    return make_on(disk, delay,
                   [this](const auto& changes) { return store->write_replica(changes); });
  }
  std::unique_ptr<GroupCommit> make_on(boost::asio::thread_pool& pool, CommitDelay delay,
                                       GroupCommit::Write write) {
    return std::make_unique<GroupCommit>(
        loop.get_executor(), pool, std::move(write), [](const std::string& why) { FAIL() << why; },
        GroupCommit::OnRefused{}, delay);
  }
  // One step saving partition p's watermark; counts its callback.
  void step(GroupCommit& commit, uint32_t p, uint64_t watermark) {
    commit.add(p, {storage::change::SaveState{p, 1, watermark, false}}, [this] { ++done; });
  }
  // Runs the loop until `pred` holds or `budget` passes; true if it held.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds budget) {
    return parti::testing::run_until(loop, pred, budget);
  }
  bool run_until_done(int n, std::chrono::milliseconds budget) {
    return run_until([&] { return done >= n; }, budget);
  }
  // A first batch of `n` steps added in one loop turn: the load the next
  // batch is measured against.
  void first_batch(GroupCommit& commit, int n) {
    for (int i = 0; i < n; ++i) step(commit, static_cast<uint32_t>(i), 1);
    ASSERT_TRUE(run_until_done(n, 5s));
    ASSERT_EQ(commit.writes(), 1u);
    ASSERT_EQ(commit.steps_written(), static_cast<uint64_t>(n));
  }

  parti::testing::TempDir dir;
  std::unique_ptr<storage::StoreEngine> store;
  boost::asio::io_context loop;
  boost::asio::thread_pool disk{1};
  int done = 0;
};

constexpr auto kLong = std::chrono::duration_cast<std::chrono::microseconds>(60s);

TEST_F(GroupCommitTest, ALoneWriteIsNotHeld) {
  auto commit = make({.delay = kLong, .siblings = 4});
  step(*commit, 0, 1);
  EXPECT_TRUE(run_until_done(1, 5s));  // not the 60 s delay
  EXPECT_EQ(store->partition_meta(0).watermark, 1u);
}

TEST_F(GroupCommitTest, UnderLoadABatchIsHeldUntilTheLastBatchsWritersAreBack) {
  auto commit = make({.delay = kLong, .siblings = 2});
  first_batch(*commit, 3);
  step(*commit, 0, 2);
  EXPECT_FALSE(run_until_done(4, 100ms));  // held: one of the three is here
  EXPECT_EQ(commit->writes(), 1u);
  step(*commit, 1, 2);
  step(*commit, 2, 2);  // the third: cut at once, not after 60 s
  EXPECT_TRUE(run_until_done(6, 5s));
  EXPECT_EQ(commit->writes(), 2u);
  EXPECT_EQ(commit->steps_written(), 6u);
  EXPECT_EQ(store->partition_meta(2).watermark, 2u);
}

TEST_F(GroupCommitTest, AHeldBatchIsCutAtTheDelay) {
  auto commit = make({.delay = 20ms, .siblings = 2});
  first_batch(*commit, 3);
  const auto added = std::chrono::steady_clock::now();
  step(*commit, 0, 2);
  ASSERT_TRUE(run_until_done(4, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - added, 20ms);  // a timer never fires early
  EXPECT_EQ(commit->writes(), 2u);
  EXPECT_EQ(store->partition_meta(0).watermark, 2u);
}

TEST_F(GroupCommitTest, AReadBetweenWritesIsNotHeldBehindAHeldBatch) {
  auto commit = make({.delay = kLong, .siblings = 2});
  first_batch(*commit, 3);
  step(*commit, 0, 2);
  EXPECT_FALSE(run_until_done(4, 50ms));
  bool read = false;
  commit->read_between_writes([] {}, [&] { read = true; });
  EXPECT_TRUE(run_until([&] { return read; }, 5s));  // not after 60 s
  EXPECT_EQ(done, 3);                                // the batch still waits for its writers
  step(*commit, 1, 2);
  step(*commit, 2, 2);
  EXPECT_TRUE(run_until_done(6, 5s));
  EXPECT_EQ(commit->writes(), 2u);
}

TEST_F(GroupCommitTest, WithoutADelayNothingIsHeld) {
  auto commit = make({.delay = 0us, .siblings = 1});
  first_batch(*commit, 3);
  step(*commit, 0, 2);
  EXPECT_TRUE(run_until_done(4, 5s));
  EXPECT_EQ(commit->writes(), 2u);
}

// What the replication tick reads to tell a stalled disk: how long the write
// in flight has been out, from its posting to the disk pool until it is back;
// a read between writes, however long, is not a write waiting.
TEST_F(GroupCommitTest, AWriteInFlightSaysHowLongItHasWaitedForTheDisk) {
  auto commit = make({});
  std::promise<void> disk_free;
  boost::asio::post(disk, [ready = disk_free.get_future().share()] { ready.wait(); });
  EXPECT_EQ(commit->write_waiting(std::chrono::steady_clock::now()).count(), 0);
  step(*commit, 0, 1);
  ASSERT_TRUE(run_until([&] { return !commit->idle(); }, 1s));
  loop.restart();
  loop.poll();  // the batch is cut and posted behind the blocked job
  const auto later = std::chrono::steady_clock::now() + 30s;
  EXPECT_GE(commit->write_waiting(later), 30s);
  disk_free.set_value();
  ASSERT_TRUE(run_until_done(1, 5s));
  EXPECT_EQ(commit->write_waiting(later).count(), 0);

  std::promise<void> read_free;
  bool read = false;
  commit->read_between_writes([ready = read_free.get_future().share()] { ready.wait(); },
                              [&] { read = true; });
  loop.restart();
  loop.poll();
  EXPECT_EQ(commit->write_waiting(later).count(), 0);
  read_free.set_value();
  EXPECT_TRUE(run_until([&] { return read; }, 5s));
}

// The slow-disk judgment hears commits: a write that installs a snapshot
// (many megabytes on a node being rebuilt) is neither heard when done nor
// counted while in flight, though the stall watch still sees it waiting.
TEST_F(GroupCommitTest, AWriteThatInstallsASnapshotIsNotHeardAsACommit) {
  auto commit = make({});
  std::vector<std::chrono::steady_clock::duration> heard;
  commit->observe_writes([&](std::chrono::steady_clock::duration took) { heard.push_back(took); });
  step(*commit, 0, 1);
  ASSERT_TRUE(run_until_done(1, 5s));
  ASSERT_EQ(heard.size(), 1u);

  std::promise<void> disk_free;
  boost::asio::post(disk, [ready = disk_free.get_future().share()] { ready.wait(); });
  storage::change::ReplaceState install;
  install.partition = 5;
  install.items = storage::items_of({});
  commit->add(5, {install}, [this] { ++done; });
  ASSERT_TRUE(run_until([&] { return !commit->idle(); }, 1s));
  loop.restart();
  loop.poll();  // the batch is cut and posted behind the blocked job
  const auto later = std::chrono::steady_clock::now() + 30s;
  EXPECT_GE(commit->write_waiting(later), 30s);
  EXPECT_EQ(commit->commit_waiting(later).count(), 0);
  disk_free.set_value();
  ASSERT_TRUE(run_until_done(2, 5s));
  EXPECT_EQ(heard.size(), 1u);

  step(*commit, 0, 2);
  ASSERT_TRUE(run_until_done(3, 5s));
  EXPECT_EQ(heard.size(), 2u);
}

// A disk of two threads whose writes are recorded in the order they reach
// it ("b<p>": a batch, first partition; "i<p>": an install) and can be held:
// the installs, or the batches, wait until released.
class HeldDisk {
 public:
  explicit HeldDisk(storage::StoreEngine& store) : store_(store) {}
  GroupCommit::Write writer() {
    return [this](const std::vector<storage::ReplicaChange>& changes) {
      const bool install = installs_snapshot(changes);
      const uint32_t p = std::visit([](const auto& c) { return c.partition; }, changes.front());
      std::shared_future<void> gate;
      {
        std::lock_guard lock(mu_);
        calls_.push_back((install ? "i" : "b") + std::to_string(p));
        gate = install ? installs_ : batches_;
      }
      gate.wait();
      return store_.write_replica(changes);
    };
  }
  void hold_installs() { installs_ = install_gate_.get_future().share(); }
  void hold_batches() { batches_ = batch_gate_.get_future().share(); }
  void release_installs() { install_gate_.set_value(); }
  void release_batches() { batch_gate_.set_value(); }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  boost::asio::thread_pool pool{2};

 private:
  static std::shared_future<void> open() {
    std::promise<void> p;
    p.set_value();
    return p.get_future().share();
  }
  storage::StoreEngine& store_;
  std::promise<void> install_gate_, batch_gate_;
  std::shared_future<void> installs_ = open(), batches_ = open();
  std::mutex mu_;
  std::vector<std::string> calls_;
};

storage::change::ReplaceState install_of(uint32_t partition) {
  storage::change::ReplaceState install;
  install.partition = partition;
  install.items = storage::items_of({});
  install.through = 3;
  return install;
}

// A replica being rebuilt keeps acknowledging its other partitions: while a
// snapshot's install is on the disk, other partitions' steps are written and
// answered, and a read between writes waits for the install without holding
// them; the installing partition's own later step waits for the install.
TEST_F(GroupCommitTest, AnInstallHoldsOnlyItsOwnPartition) {
  HeldDisk held(*store);
  held.hold_installs();
  auto commit = make_on(held.pool, {}, held.writer());
  std::vector<uint32_t> heard;
  commit->observe_installs([&](uint32_t p, auto, auto) { heard.push_back(p); });
  bool installed = false, parked_done = false, read = false;
  commit->add(5, {install_of(5)}, [&] { installed = true; });
  step(*commit, 0, 1);
  ASSERT_TRUE(run_until_done(1, 5s));  // answered while the install is held
  EXPECT_FALSE(installed);
  commit->add(5, {storage::change::SaveState{5, 1, 7, false}}, [&] {
    EXPECT_TRUE(installed);
    parked_done = true;
  });
  commit->read_between_writes([] {}, [&] { read = true; });
  step(*commit, 1, 1);
  ASSERT_TRUE(run_until_done(2, 5s));  // a waiting read does not stop the batches
  EXPECT_FALSE(read);
  EXPECT_FALSE(parked_done);
  EXPECT_GE(commit->write_waiting(std::chrono::steady_clock::now() + 30s), 30s);
  EXPECT_EQ(commit->commit_waiting(std::chrono::steady_clock::now() + 30s).count(), 0);
  // The install and the first batch start on the pool's two threads, in
  // either order; the batches keep theirs.
  auto batches_only = [](std::vector<std::string> calls) {
    std::erase(calls, "i5");
    return calls;
  };
  const auto started = held.calls();
  EXPECT_EQ(std::count(started.begin(), started.end(), "i5"), 1);
  EXPECT_EQ(batches_only(started), (std::vector<std::string>{"b0", "b1"}));

  held.release_installs();
  ASSERT_TRUE(run_until([&] { return parked_done && read; }, 5s));
  const auto all = held.calls();
  EXPECT_EQ(std::count(all.begin(), all.end(), "i5"), 1);
  EXPECT_EQ(batches_only(all), (std::vector<std::string>{"b0", "b1", "b5"}));
  EXPECT_EQ(store->partition_meta(5).watermark, 7u);
  EXPECT_EQ(store->partition_meta(5).base_sequence, 3u);
  EXPECT_EQ(heard, std::vector<uint32_t>{5});
  EXPECT_TRUE(commit->idle());
}

// An install lands after everything its partition added before it: it is not
// written while an earlier batch is on the disk.
TEST_F(GroupCommitTest, AnInstallWaitsForTheStepsAddedBeforeIt) {
  HeldDisk held(*store);
  held.hold_batches();
  auto commit = make_on(held.pool, {}, held.writer());
  bool installed = false;
  step(*commit, 5, 9);
  ASSERT_TRUE(run_until([&] { return held.calls().size() == 1; }, 5s));
  commit->add(5, {install_of(5)}, [&] {
    EXPECT_EQ(done, 1);
    installed = true;
  });
  EXPECT_FALSE(run_until([&] { return installed; }, 100ms));
  EXPECT_EQ(held.calls(), std::vector<std::string>{"b5"});
  held.release_batches();
  ASSERT_TRUE(run_until([&] { return installed; }, 5s));
  EXPECT_EQ(held.calls(), (std::vector<std::string>{"b5", "i5"}));
  EXPECT_EQ(store->partition_meta(5).base_sequence, 3u);
}

}  // namespace
}  // namespace partid::replication
