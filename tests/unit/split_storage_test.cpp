// The rules every replica applies to a split's steps (storage/split_apply.cpp),
// on a real RocksDB, each op decoded from its log entry as replication does:
// the freeze refuses writes to moving keys and is refused itself while a
// transaction is prepared, a copy keeps its version and never replaces a newer
// one, the cleanup drops the moved keys for good, and the rule travels in a
// snapshot and survives a restart. A merge's freeze refuses every key and
// the transaction steps its copy could miss; a pad changes nothing; an
// adoption takes the merged keys over; a dropped partition leaves nothing.
#include <gtest/gtest.h>

#include "partid/storage/codec.h"
#include "partid/storage/split_space.h"
#include "partid/storage/store_engine.h"
#include "partid/storage/txn_space.h"
#include "support/partition_image.h"
#include "support/temp_dir.h"

namespace partid::storage {
namespace {

using parti::testing::partition_image;
using parti::testing::TempDir;
using routing::Layout;

constexpr uint32_t kSource = 0;
constexpr uint32_t kTarget = 4;
const Layout kBefore = Layout::unsplit(4);
const Layout kAfter = kBefore.after_split();

// Keys of partition 0 of 4: the first `n` that move to 4, or that stay.
std::vector<std::string> keys_of_source(bool moving, size_t n) {
  std::vector<std::string> out;
  for (int i = 0; out.size() < n; ++i) {
    const std::string k = "k" + std::to_string(i);
    if (kBefore.partition_of(k) != kSource) continue;
    if ((kAfter.partition_of(k) == kTarget) == moving) out.push_back(k);
  }
  return out;
}

class SplitStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    engine.reset();
    std::string error;
    engine = StoreEngine::open(dir.sub("db"), {.sync = false}, &error);
    ASSERT_TRUE(engine) << error;
  }
  // Appends one op to `p`'s log and applies it as the next committed entry,
  // decoded from that entry; the refusal's code, if any.
  std::optional<std::string> apply(uint32_t p, WriteOp op) {
    uint64_t& seq = next_[p];
    ++seq;
    op.partition = p;
    op.version.hlc = (1000 + seq) << 16;
    const LogRecord entry{seq, 1, false, encode_item_op(op)};
    auto decoded = decode_item_op(p, entry);
    EXPECT_TRUE(decoded) << "entry " << seq << " does not decode";
    if (!decoded) return "undecodable";
    auto status =
        engine->write_replica({change::AppendLog{p, {entry}}, change::Apply{p, {*decoded}, seq, 1},
                               change::SaveState{p, 1, seq, false}});
    EXPECT_TRUE(status.ok) << status.message;
    if (status.refused.empty()) return std::nullopt;
    return status.refused[0].code;
  }
  static WriteOp put(std::string pk, std::string msg, std::string rk = "r") {
    WriteOp op;
    op.partition_key = std::move(pk);
    op.range_key = std::move(rk);
    op.message = std::move(msg);
    return op;
  }
  static WriteOp freeze() {
    WriteOp op;
    op.kind = WriteOp::Kind::SplitFreeze;
    op.split_rule = {kAfter, kTarget, false};
    return op;
  }
  static WriteOp cleanup() {
    WriteOp op;
    op.kind = WriteOp::Kind::SplitCleanup;
    return op;
  }
  static WriteOp import(const Item& item) {
    WriteOp op = put(item.partition_key, item.message, item.range_key);
    op.kind = WriteOp::Kind::SplitImport;
    op.import_version = item.version;
    return op;
  }
  TempDir dir;
  std::unique_ptr<StoreEngine> engine;
  std::map<uint32_t, uint64_t> next_;
};

TEST_F(SplitStorageTest, AFreezeRefusesWritesToMovingKeysAndOnlyToThem) {
  const auto moving = keys_of_source(true, 2);
  const auto staying = keys_of_source(false, 1);
  ASSERT_FALSE(apply(kSource, put(moving[0], "before")));
  ASSERT_FALSE(apply(kSource, freeze()));
  EXPECT_EQ(engine->partition_meta(kSource).split, (SplitRule{kAfter, kTarget, false}));
  EXPECT_EQ(apply(kSource, put(moving[0], "after")), "partition_splitting");
  EXPECT_EQ(apply(kSource, put(moving[1], "new")), "partition_splitting");
  WriteOp del = put(moving[0], "");
  del.kind = WriteOp::Kind::DeleteAll;
  EXPECT_EQ(apply(kSource, del), "partition_splitting");
  WriteOp prepare;
  prepare.kind = WriteOp::Kind::TxnPrepare;
  prepare.txn = make_txn_id(UINT64_C(0xffffffffff), kSource, 1);
  prepare.txn_home = kSource;
  prepare.txn_writes = {{staying[0], "r", "x"}, {moving[1], "r", "y"}};
  EXPECT_EQ(apply(kSource, prepare), "partition_splitting");
  EXPECT_FALSE(apply(kSource, put(staying[0], "fine")));
  EXPECT_EQ(engine->get(kSource, moving[0], "r")->message, "before");
  EXPECT_FALSE(engine->get(kSource, moving[1], "r"));
  EXPECT_EQ(engine->get(kSource, staying[0], "r")->message, "fine");
  // The same freeze again changes nothing; another split of it is refused.
  EXPECT_FALSE(apply(kSource, freeze()));
  WriteOp other = freeze();
  other.split_rule = {kAfter.after_split(), kTarget + 1, false};
  EXPECT_EQ(apply(kSource, other), "split_in_progress");
}

TEST_F(SplitStorageTest, AFreezeWaitsForPreparedTransactionsToBeResolved) {
  const auto staying = keys_of_source(false, 1);
  WriteOp prepare;
  prepare.kind = WriteOp::Kind::TxnPrepare;
  prepare.txn = make_txn_id(UINT64_C(0xffffffffff), kSource, 2);
  prepare.txn_home = kSource;
  prepare.txn_writes = {{staying[0], "r", "x"}};
  ASSERT_FALSE(apply(kSource, prepare));
  EXPECT_EQ(apply(kSource, freeze()), "txn_in_progress");
  EXPECT_FALSE(engine->partition_meta(kSource).split.active());
  WriteOp resolve;
  resolve.kind = WriteOp::Kind::TxnResolve;
  resolve.txn = prepare.txn;
  resolve.txn_home = kSource;
  resolve.txn_commit = true;
  ASSERT_FALSE(apply(kSource, resolve));
  EXPECT_FALSE(apply(kSource, freeze()));
  EXPECT_TRUE(engine->partition_meta(kSource).split.active());
}

TEST_F(SplitStorageTest, ACopyKeepsItsVersionAndNeverReplacesANewerOne) {
  const auto moving = keys_of_source(true, 1);
  Item copied{moving[0], "r", "old", {(7ull << 16), 40, 3}, false};
  ASSERT_FALSE(apply(kTarget, import(copied)));
  auto item = engine->get(kTarget, moving[0], "r");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->version, copied.version);
  EXPECT_EQ(engine->partition_meta(kTarget).item_count, 1);
  // The new partition's own write (sequence above the start) wins; a late
  // copy of the old version after it changes nothing.
  next_[kTarget] = 100;
  ASSERT_FALSE(apply(kTarget, put(moving[0], "newer")));
  ASSERT_FALSE(apply(kTarget, import(copied)));
  EXPECT_EQ(engine->get(kTarget, moving[0], "r")->message, "newer");
  EXPECT_EQ(engine->partition_meta(kTarget).item_count, 1);
}

TEST_F(SplitStorageTest, ACleanupDropsTheMovedKeysForGoodAndKeepsTheRest) {
  const auto moving = keys_of_source(true, 3);
  const auto staying = keys_of_source(false, 2);
  for (const auto& k : moving) ASSERT_FALSE(apply(kSource, put(k, "m")));
  for (const auto& k : staying) ASSERT_FALSE(apply(kSource, put(k, "s")));
  WriteOp removed = put(moving[2], "");
  removed.kind = WriteOp::Kind::Delete;
  ASSERT_FALSE(apply(kSource, removed));  // a tombstone among the moving keys
  EXPECT_EQ(engine->partition_meta(kSource).item_count, 4);
  EXPECT_EQ(apply(kSource, cleanup()), "no_split");
  ASSERT_FALSE(apply(kSource, freeze()));
  ASSERT_FALSE(apply(kSource, cleanup()));
  EXPECT_EQ(engine->partition_meta(kSource).item_count, 2);
  for (const auto& k : moving) EXPECT_FALSE(engine->get(kSource, k, "r")) << k;
  for (const auto& k : staying) EXPECT_EQ(engine->get(kSource, k, "r")->message, "s") << k;
  size_t left = 0;
  auto scan = engine->scan_partition(kSource);
  for (Item item; scan.next(&item);) left += !is_reserved_key(item.partition_key);
  EXPECT_EQ(left, 2u);  // the moving keys' tombstone went too
  EXPECT_EQ(apply(kSource, put(moving[0], "late")), "partition_moved");
  EXPECT_FALSE(apply(kSource, cleanup()));  // again: nothing changes
  EXPECT_FALSE(apply(kSource, freeze()));   // an old freeze repeated: the keys stay moved
  EXPECT_TRUE(engine->partition_meta(kSource).split.moved);
  EXPECT_EQ(apply(kSource, put(moving[0], "late")), "partition_moved");
  // A later split of the same partition (the base has doubled meanwhile).
  WriteOp next = freeze();
  next.split_rule = {Layout{8, 9}, 8, false};
  EXPECT_FALSE(apply(kSource, next));
}

TEST_F(SplitStorageTest, TheRuleSurvivesARestartAndTravelsInASnapshot) {
  const auto moving = keys_of_source(true, 1);
  ASSERT_FALSE(apply(kSource, put(moving[0], "m")));
  ASSERT_FALSE(apply(kSource, freeze()));
  reopen();
  // In memory at once after opening: the API checks keys without the disk.
  ASSERT_TRUE(engine->cached_partition_meta(kSource));
  EXPECT_TRUE(engine->cached_partition_meta(kSource)->split.excludes(kSource, moving[0]));
  EXPECT_EQ(apply(kSource, put(moving[0], "after restart")), "partition_splitting");
  // A replica rebuilt from a snapshot of this partition freezes the same keys.
  auto image = partition_image(*engine, kSource);
  auto items = items_of(image.items);
  const uint32_t copy = 9;
  ASSERT_TRUE(engine->write_replica({change::ReplaceState{copy, items, 5, 1, false}}).ok);
  EXPECT_EQ(engine->partition_meta(copy).split, engine->partition_meta(kSource).split);
  EXPECT_EQ(engine->partition_meta(copy).item_count, 1);
}

// Partition 4 of a layout {4, 5} merges back into 0 (the layout {4, 4}).
constexpr uint32_t kMerging = 4;
const Layout kSplitOnce{4, 5};

TEST_F(SplitStorageTest, AMergeFreezeRefusesEveryKeyAndTheTransactionStepsItsCopyCouldMiss) {
  const auto keys = keys_of_source(true, 2);  // keys of partition 4 in {4, 5}
  ASSERT_FALSE(apply(kMerging, put(keys[0], "before")));
  WriteOp merge_freeze = freeze();
  merge_freeze.split_rule = {kSplitOnce.after_merge(), kSource, false};
  ASSERT_FALSE(apply(kMerging, merge_freeze));
  EXPECT_TRUE(engine->partition_meta(kMerging).split.merging(kMerging));
  EXPECT_EQ(apply(kMerging, put(keys[0], "after")), "partition_merging");
  EXPECT_EQ(apply(kMerging, put(keys[1], "new")), "partition_merging");
  WriteOp prepare;
  prepare.kind = WriteOp::Kind::TxnPrepare;
  prepare.txn = make_txn_id(UINT64_C(0xffffffffff), kMerging, 3);
  prepare.txn_home = kMerging;
  prepare.txn_writes = {{keys[1], "r", "x"}};
  EXPECT_EQ(apply(kMerging, prepare), "partition_merging");
  WriteOp decide;
  decide.kind = WriteOp::Kind::TxnDecide;
  decide.txn = prepare.txn;
  decide.txn_home = kMerging;
  EXPECT_EQ(apply(kMerging, decide), "partition_merging");
  // Nothing recorded: both are retried where the keys go.
  EXPECT_FALSE(engine->txn_decision(kMerging, prepare.txn));
  EXPECT_TRUE(engine->prepared_txns(kMerging).empty());
  size_t records = 0;
  auto scan = engine->scan_partition(kMerging);
  for (Item item; scan.next(&item);) records += is_txn_record(item);
  EXPECT_EQ(records, 0u);
  EXPECT_EQ(engine->get(kMerging, keys[0], "r")->message, "before");
}

TEST_F(SplitStorageTest, APadChangesNothingAndAnAdoptionTakesTheMergedKeysOver) {
  const auto merged = keys_of_source(true, 1);      // partition 4's in {4, 5}
  const auto elsewhere = keys_of_source(false, 1);  // stays in 0
  ASSERT_FALSE(apply(kSource, put(elsewhere[0], "mine")));
  ASSERT_FALSE(apply(kSource, freeze()));
  ASSERT_FALSE(apply(kSource, cleanup()));  // the split that made 4
  EXPECT_EQ(apply(kSource, put(merged[0], "early")), "partition_moved");
  WriteOp pad;
  pad.kind = WriteOp::Kind::MergePad;
  const PartitionMeta before = engine->partition_meta(kSource);
  ASSERT_FALSE(apply(kSource, pad));
  EXPECT_EQ(engine->partition_meta(kSource).item_count, before.item_count);
  EXPECT_EQ(engine->partition_meta(kSource).split, before.split);
  // The merged partition's items and decisions come in with their versions;
  // a decision is not an item.
  Item decision{std::string(kTxnDecisionKey), "some-txn", "decided", {(9ull << 16), 70, 2}, false};
  ASSERT_FALSE(apply(kSource, import({merged[0], "r", "copied", {(8ull << 16), 60, 2}, false})));
  ASSERT_FALSE(apply(kSource, import(decision)));
  EXPECT_EQ(engine->partition_meta(kSource).item_count, 2);
  WriteOp adopt;
  adopt.kind = WriteOp::Kind::MergeAdopt;
  adopt.split_rule = {kSplitOnce.after_merge(), kSource, true};
  ASSERT_FALSE(apply(kSource, adopt));
  EXPECT_EQ(engine->partition_meta(kSource).split, (SplitRule{Layout{4, 4}, kSource, true}));
  next_[kSource] = 100;  // past the merged versions, as the pads make it
  EXPECT_FALSE(apply(kSource, put(merged[0], "mine now")));
  EXPECT_EQ(engine->get(kSource, merged[0], "r")->version.sequence, 101u);
  // Keys the merged layout sends elsewhere stay refused.
  std::string of_one;
  for (int i = 0; of_one.empty(); ++i) {
    const std::string k = "k" + std::to_string(i);
    if (kSplitOnce.partition_of(k) == 1) of_one = k;
  }
  EXPECT_EQ(apply(kSource, put(of_one, "x")), "partition_moved");
}

TEST_F(SplitStorageTest, ADroppedPartitionLeavesNothingAndCanStartAfresh) {
  const auto keys = keys_of_source(true, 2);
  for (const auto& k : keys) ASSERT_FALSE(apply(kMerging, put(k, "v")));
  ASSERT_TRUE(engine->write_replica({change::DropPartition{kMerging}}).ok);
  for (const auto& k : keys) EXPECT_FALSE(engine->get(kMerging, k, "r")) << k;
  EXPECT_FALSE(engine->cached_partition_meta(kMerging));
  EXPECT_TRUE(engine->load_replica(kMerging).log.empty());
  reopen();
  EXPECT_FALSE(engine->all_partition_meta().contains(kMerging));
  // Dropped and begun again in one write: the new state stays.
  ASSERT_TRUE(
      engine
          ->write_replica({change::DropPartition{kMerging}, change::TrimLog{kMerging, 500, 0},
                           change::SaveState{kMerging, 0, 500, false}})
          .ok);
  EXPECT_EQ(engine->partition_meta(kMerging).base_sequence, 500u);
  reopen();
  EXPECT_EQ(engine->all_partition_meta().at(kMerging).watermark, 500u);
}

}  // namespace
}  // namespace partid::storage
