// SnapshotInbox: a snapshot received is read through on the snapshot pool and
// handed on, on the loop, only then; installing it uses that reading (no
// second check); one that does not decode is handed on as nothing; its bytes
// count in the receive budget while anything holds them, and nothing else of
// it is held.
#include "partid/replication/snapshot_inbox.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "partid/replication/wire.h"
#include "support/run_loop.h"

namespace partid::replication {
namespace {

using namespace std::chrono_literals;

class SnapshotInboxTest : public ::testing::Test {
 protected:
  void TearDown() override { pool.join(); }

  // Runs the loop until `pred` holds or `budget` passes; true if it held.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds budget) {
    return parti::testing::run_until(loop, pred, budget);
  }
  static storage::Item item(const std::string& key, uint64_t hlc) {
    return {key, "r", "message of " + key, {hlc, 1, 1}, false};
  }
  static std::vector<storage::Item> all(const storage::ItemSource& source) {
    std::vector<storage::Item> out;
    source.for_each([&](storage::Item& item) {
      out.push_back(item);
      return true;
    });
    return out;
  }
  static core::Message install(const std::string& data, uint64_t seq) {
    return core::InstallSnapshot{3, {{3, seq}, core::snapshot_bytes(data)}, seq, seq};
  }
  // Receives `message` for partition 9 and waits for the inbox to hand it on
  // (to `core`, which may take its items there, as a core installing it does).
  const core::Message* receive(core::Message message,
                               const std::function<void(const core::Message&)>& core = {}) {
    bool answered = false;
    const core::Message* handed = nullptr;
    inbox.receive(9, std::move(message), [&](const core::Message* m) {
      answered = true;
      handed = m;
      if (m) handed_through = snapshot_in(*m)->through;
      if (m && core) core(*m);
    });
    EXPECT_TRUE(run_until([&] { return answered; }, 5s));
    return handed;
  }

  boost::asio::io_context loop;
  boost::asio::thread_pool pool{1};
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::vector<uint64_t> newest;
  SnapshotInbox inbox{loop.get_executor(), pool, [this](uint64_t hlc) { newest.push_back(hlc); },
                      alive};
  core::Position handed_through;
};

TEST_F(SnapshotInboxTest, ASnapshotIsHandedOnCheckedAndInstalledWithoutASecondCheck) {
  const std::vector<storage::Item> items{item("a", 500), item("b", 900), item("c", 700)};
  const std::string data = encode_snapshot(items);
  SnapshotItems installed;
  ASSERT_NE(receive(install(data, 40),
                    [&](const core::Message& m) { installed = inbox.take(9, *snapshot_in(m)); }),
            nullptr);
  EXPECT_EQ(handed_through, (core::Position{3, 40}));
  EXPECT_EQ(newest, std::vector<uint64_t>{900});  // the clock passes its newest item
  ASSERT_TRUE(installed);
  EXPECT_EQ(all(*installed), items);
  EXPECT_EQ(installed->tally().item_count, 3);
  EXPECT_EQ(newest.size(), 1u);  // taken as checked: not checked (nor told) again
}

TEST_F(SnapshotInboxTest, ASnapshotThatDoesNotDecodeIsHandedOnAsNothing) {
  EXPECT_EQ(receive(install("\xff\xff not a snapshot", 40)), nullptr);
  EXPECT_TRUE(newest.empty());
  EXPECT_FALSE(inbox.take(9, {{3, 40}, core::snapshot_bytes("\xff\xff not a snapshot")}));
}

TEST_F(SnapshotInboxTest, ASnapshotNotCheckedOnArrivalIsCheckedWhenInstalled) {
  const std::vector<storage::Item> first{item("a", 100)};
  const std::vector<storage::Item> second{item("a", 100), item("z", 300)};
  ASSERT_NE(receive(install(encode_snapshot(first), 10)), nullptr);
  // The core installs a later one than the inbox kept: checked there.
  SnapshotItems installed = inbox.take(9, {{3, 20}, core::snapshot_bytes(encode_snapshot(second))});
  ASSERT_TRUE(installed);
  EXPECT_EQ(all(*installed), second);
  EXPECT_EQ(newest, (std::vector<uint64_t>{100, 300}));
}

TEST_F(SnapshotInboxTest, AnInstallTheCoreRefusesLeavesNothingKeptAnAdoptionStaysForLater) {
  ASSERT_NE(receive(install(encode_snapshot({item("a", 1)}), 40)), nullptr);
  EXPECT_EQ(inbox.kept(), 0u);  // handed on and not installed: nothing of it kept
  // A sealing leader keeps an adopted snapshot and installs it once its
  // quorum has answered: the reading waits for that.
  const core::Message adoption = core::SyncReply{
      3, 41, {}, core::Snapshot{{3, 40}, core::snapshot_bytes(encode_snapshot({item("b", 2)}))}};
  ASSERT_NE(receive(adoption), nullptr);
  EXPECT_EQ(inbox.kept(), 1u);
  const size_t told = newest.size();
  EXPECT_TRUE(inbox.take(9, *snapshot_in(adoption)));
  EXPECT_EQ(newest.size(), told);  // not checked again
  EXPECT_EQ(inbox.kept(), 0u);
}

// A snapshot can be as large as its partition: what a node being rebuilt
// holds of one is its bytes, counted, and no decoded copy beside them (which
// used to double it). The items an install writes are read from those very
// bytes, so the count lasts until the install drops them.
TEST_F(SnapshotInboxTest, ASnapshotsBytesAloneCountInTheReceiveBudgetUntilTheInstallDropsThem) {
  std::vector<storage::Item> items;
  for (int i = 0; i < 100; ++i) items.push_back(item("key-" + std::to_string(i), 1));
  for (auto& it : items) it.message.assign(1000, 'x');
  const core::Message adoption = core::SyncReply{
      3, 41, {}, core::Snapshot{{3, 40}, core::snapshot_bytes(encode_snapshot(items))}};
  const uint64_t size = snapshot_in(adoption)->size();
  core::Message counted = adoption;  // as it came in one frame: a copy of the bytes
  EXPECT_EQ(inbox.received_bytes_held(), 0u);
  inbox.count(counted);
  EXPECT_EQ(inbox.received_bytes_held(), size);
  ASSERT_NE(receive(std::move(counted)), nullptr);
  EXPECT_EQ(inbox.received_bytes_held(), size);  // kept for the sealing leader: the bytes only
  SnapshotItems installed = inbox.take(9, *snapshot_in(adoption));
  ASSERT_TRUE(installed);
  EXPECT_EQ(inbox.kept(), 0u);
  EXPECT_EQ(inbox.received_bytes_held(), size);  // on its way to disk: read from the bytes
  EXPECT_EQ(installed->encoded_bytes(), size);
  EXPECT_EQ(all(*installed), items);
  installed.reset();
  EXPECT_EQ(inbox.received_bytes_held(), 0u);
  // An install the core refuses leaves nothing counted once handed on.
  core::Message refused = install(encode_snapshot(items), 50);
  inbox.count(refused);
  ASSERT_NE(receive(std::move(refused)), nullptr);
  EXPECT_EQ(inbox.kept(), 0u);
  EXPECT_EQ(inbox.received_bytes_held(), 0u);
}

TEST_F(SnapshotInboxTest, NothingIsHandedOnOnceTheOwnerIsGone) {
  bool answered = false;
  inbox.receive(9, install(encode_snapshot({item("a", 1)}), 5),
                [&](const core::Message*) { answered = true; });
  *alive = false;
  pool.join();  // the reading is done and its answer posted to the loop
  loop.restart();
  loop.poll();
  EXPECT_FALSE(answered);
}

}  // namespace
}  // namespace partid::replication
