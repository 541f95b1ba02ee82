// The rules every replica applies to a transaction's steps (storage/txn_apply.cpp),
// on a real RocksDB: locks, refusals, first decision wins, resolve, and that
// the state travels in a snapshot.
#include <gtest/gtest.h>

#include <random>

#include "partid/storage/codec.h"
#include "partid/storage/partition_check.h"
#include "partid/storage/store_engine.h"
#include "partid/storage/txn_space.h"
#include "support/partition_image.h"
#include "support/temp_dir.h"

namespace partid::storage {
namespace {

using parti::testing::partition_image;
using parti::testing::TempDir;

constexpr uint32_t kP = 4;

class TxnStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    engine = StoreEngine::open(dir.sub("db"), {.sync = false}, &error);
    ASSERT_TRUE(engine) << error;
  }
  // Appends and applies one op as the next committed entry (epoch 1); the
  // refusal, if any.
  std::optional<Refusal> apply(WriteOp op) {
    op.partition = kP;
    op.version = {(now_ms << 16) + seq_, seq_, 1};
    ++seq_;
    const LogRecord entry{op.version.sequence, 1, false, encode_item_op(op)};
    auto status = engine->write_replica({change::AppendLog{kP, {entry}},
                                         change::Apply{kP, {op}, op.version.sequence, 1},
                                         change::SaveState{kP, 1, op.version.sequence, false}});
    EXPECT_TRUE(status.ok) << status.message;
    if (status.refused.empty()) return std::nullopt;
    EXPECT_EQ(status.refused.size(), 1u);
    EXPECT_EQ(status.refused[0].sequence, op.version.sequence);
    return status.refused[0];
  }
  static WriteOp put(std::string pk, std::string rk, std::string msg) {
    WriteOp op;
    op.partition_key = std::move(pk);
    op.range_key = std::move(rk);
    op.message = std::move(msg);
    return op;
  }
  static WriteOp step(WriteOp::Kind kind, std::string txn, bool commit = false,
                      std::vector<TxnWrite> writes = {}) {
    WriteOp op;
    op.kind = kind;
    op.txn = std::move(txn);
    op.txn_home = kP;
    op.txn_commit = commit;
    op.txn_writes = std::move(writes);
    return op;
  }
  static WriteOp prepare(std::string txn, std::vector<TxnWrite> writes) {
    return step(WriteOp::Kind::TxnPrepare, std::move(txn), false, std::move(writes));
  }
  static WriteOp resolve(std::string txn, bool commit) {
    return step(WriteOp::Kind::TxnResolve, std::move(txn), commit);
  }
  static WriteOp decide(std::string txn, bool commit) {
    return step(WriteOp::Kind::TxnDecide, std::move(txn), commit);
  }
  static WriteOp settle(std::string txn) {
    auto op = step(WriteOp::Kind::TxnDecide, std::move(txn), true);
    op.txn_settled = true;
    return op;
  }
  static WriteOp forget(std::vector<std::string> txns, uint64_t before_ms) {
    WriteOp op;
    op.kind = WriteOp::Kind::TxnForget;
    op.txn_forget = std::move(txns);
    op.txn_forget_before_ms = before_ms;
    return op;
  }
  void expect_consistent() {
    auto check = engine->check_partition(kP);
    EXPECT_TRUE(check.problems.empty()) << check.problems.front();
  }
  TempDir dir;
  std::unique_ptr<StoreEngine> engine;
  uint64_t seq_ = 1;
  uint64_t now_ms = 0;  // the clock of the next entry (its HLC's physical part)
};

TEST_F(TxnStorageTest, APrepareLocksItsItemsAndAWriteToOneIsRefused) {
  ASSERT_FALSE(apply(put("acct", "a", "100")));
  ASSERT_FALSE(apply(prepare("4-1", {{"acct", "a", "90", false}, {"acct", "b", "10", false}})));
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 1);
  EXPECT_EQ(engine->txn_lock(kP, "acct", "a"), "4-1");
  EXPECT_EQ(engine->txn_locks(kP, "acct").size(), 2u);
  auto refused = apply(put("acct", "a", "0"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "locked_by_transaction");
  auto whole_key = put("acct", "", "");
  whole_key.kind = WriteOp::Kind::DeleteAll;
  EXPECT_TRUE(apply(whole_key));
  // Nothing of the prepare is visible yet, and nothing was overwritten.
  EXPECT_EQ(engine->get(kP, "acct", "a")->message, "100");
  EXPECT_FALSE(engine->get(kP, "acct", "b"));
  // Another item of the partition is not locked.
  EXPECT_FALSE(apply(put("other", "", "free")));
  // Reserved items are not counted as items.
  EXPECT_EQ(engine->partition_meta(kP).item_count, 2);
  expect_consistent();
}

TEST_F(TxnStorageTest, ACommittedResolveAppliesTheWritesWithThePreparesVersionAndUnlocks) {
  ASSERT_FALSE(apply(put("acct", "a", "100")));
  const uint64_t prepared_at = seq_;
  ASSERT_FALSE(apply(prepare("4-1", {{"acct", "a", "", true}, {"acct", "b", "10", false}})));
  ASSERT_FALSE(apply(resolve("4-1", true)));
  EXPECT_FALSE(engine->get(kP, "acct", "a"));
  auto b = engine->get(kP, "acct", "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->message, "10");
  EXPECT_EQ(b->version.sequence, prepared_at);
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 0);
  EXPECT_EQ(engine->partition_meta(kP).item_count, 1);
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "b"));
  EXPECT_EQ(engine->txn_record(kP, "4-1")->state, TxnRecord::State::Committed);
  EXPECT_TRUE(engine->prepared_txns(kP).empty());
  EXPECT_FALSE(apply(put("acct", "b", "11")));  // unlocked
  // A repeated resolve changes nothing.
  ASSERT_FALSE(apply(resolve("4-1", true)));
  EXPECT_EQ(engine->get(kP, "acct", "b")->message, "11");
  expect_consistent();
}

TEST_F(TxnStorageTest, AnAbortedResolveDropsTheWrites) {
  ASSERT_FALSE(apply(put("acct", "a", "100")));
  ASSERT_FALSE(apply(prepare("4-1", {{"acct", "a", "1", false}})));
  ASSERT_FALSE(apply(resolve("4-1", false)));
  EXPECT_EQ(engine->get(kP, "acct", "a")->message, "100");
  EXPECT_EQ(engine->txn_record(kP, "4-1")->state, TxnRecord::State::Aborted);
  EXPECT_FALSE(apply(put("acct", "a", "101")));
  expect_consistent();
}

TEST_F(TxnStorageTest, APrepareThatMeetsALockIsRefusedAndLocksNothing) {
  ASSERT_FALSE(apply(prepare("4-1", {{"acct", "a", "1", false}})));
  auto refused = apply(prepare("4-2", {{"acct", "c", "3", false}, {"acct", "a", "2", false}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "txn_conflict");
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "c"));
  EXPECT_EQ(engine->txn_record(kP, "4-2")->state, TxnRecord::State::Refused);
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 1);
  // The same prepare again is still refused; the first one's again is a no-op.
  EXPECT_TRUE(apply(prepare("4-2", {{"acct", "c", "3", false}})));
  EXPECT_FALSE(apply(prepare("4-1", {{"acct", "a", "1", false}})));
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 1);
  expect_consistent();
}

TEST_F(TxnStorageTest, APrepareWhoseConditionDoesNotHoldIsRefusedAndLocksNothing) {
  ASSERT_FALSE(apply(put("acct", "a", "100")));
  const uint64_t a_at = seq_ - 1;
  ASSERT_FALSE(apply(put("acct", "gone", "x")));
  auto erase = put("acct", "gone", "");
  erase.kind = WriteOp::Kind::Delete;
  ASSERT_FALSE(apply(erase));
  auto cond = [](std::string rk, std::string msg, uint64_t at) {
    return TxnWrite{"acct", std::move(rk), std::move(msg), false, at};
  };
  // The item moved on since sequence a_at - 1 was read: refused, recorded, nothing locked.
  auto stale = apply(prepare("4-1", {cond("b", "10", 0), cond("a", "90", a_at - 1)}));
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->code, "txn_condition_failed");
  EXPECT_NE(stale->message.find("at sequence " + std::to_string(a_at)), std::string::npos)
      << stale->message;
  EXPECT_EQ(engine->txn_record(kP, "4-1")->state, TxnRecord::State::Refused);
  EXPECT_TRUE(engine->txn_locks(kP, "acct").empty());
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 0);
  // An item expected absent that exists: refused.
  auto present = apply(prepare("4-2", {cond("a", "1", 0)}));
  ASSERT_TRUE(present);
  EXPECT_EQ(present->code, "txn_condition_failed");
  // Conditions that hold: the current sequence, absent for a deleted item
  // and for one never written. Prepared and locked as usual.
  ASSERT_FALSE(
      apply(prepare("4-3", {cond("a", "90", a_at), cond("gone", "back", 0), cond("new", "y", 0)})));
  EXPECT_EQ(engine->txn_locks(kP, "acct").size(), 3u);
  ASSERT_FALSE(apply(resolve("4-3", true)));
  EXPECT_EQ(engine->get(kP, "acct", "a")->message, "90");
  EXPECT_EQ(engine->get(kP, "acct", "gone")->message, "back");
  // A transaction all in one partition: refused whole, and recorded aborted.
  auto single = prepare("4-4", {cond("a", "80", a_at), cond("c", "z", 0)});
  single.txn_single = true;
  auto refused = apply(single);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "txn_condition_failed");
  EXPECT_EQ(engine->txn_decision(kP, "4-4")->state, TxnRecord::State::Aborted);
  EXPECT_FALSE(engine->get(kP, "acct", "c"));
  expect_consistent();
}

TEST_F(TxnStorageTest, TheFirstDecisionStandsAndADifferentOneIsRefused) {
  ASSERT_FALSE(apply(decide("4-1", false)));
  auto refused = apply(decide("4-1", true));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "txn_decided");
  EXPECT_FALSE(apply(decide("4-1", false)));  // the same one again
  EXPECT_EQ(engine->txn_decision(kP, "4-1")->state, TxnRecord::State::Aborted);
  EXPECT_FALSE(engine->txn_decision(kP, "4-2"));
}

TEST_F(TxnStorageTest, APrepareThatArrivesAfterItsResolveIsRefused) {
  ASSERT_FALSE(apply(resolve("4-1", false)));
  auto refused = apply(prepare("4-1", {{"acct", "a", "1", false}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "txn_conflict");
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "a"));
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 0);
}

TEST_F(TxnStorageTest, ATransactionInOnePartitionCommitsInOneEntryOrIsRefused) {
  auto single = prepare("4-1", {{"acct", "a", "1", false}, {"acct", "b", "", true}});
  single.txn_single = true;
  ASSERT_FALSE(apply(put("acct", "b", "old")));
  ASSERT_FALSE(apply(single));
  EXPECT_EQ(engine->get(kP, "acct", "a")->message, "1");
  EXPECT_FALSE(engine->get(kP, "acct", "b"));
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "a"));
  EXPECT_EQ(engine->partition_meta(kP).pending_txns, 0);
  EXPECT_EQ(engine->txn_decision(kP, "4-1")->state, TxnRecord::State::Committed);
  EXPECT_FALSE(apply(single));  // a repeat changes nothing
  EXPECT_FALSE(apply(put("acct", "a", "2")));
  EXPECT_EQ(engine->get(kP, "acct", "a")->message, "2");
  // Meeting a lock: refused, and recorded aborted.
  ASSERT_FALSE(apply(prepare("4-2", {{"acct", "c", "x", false}})));
  auto blocked = prepare("4-3", {{"acct", "c", "y", false}});
  blocked.txn_single = true;
  ASSERT_EQ(apply(blocked)->code, "txn_conflict");
  EXPECT_EQ(engine->txn_decision(kP, "4-3")->state, TxnRecord::State::Aborted);
  // After an abort was recorded it is refused, even with nothing locked.
  ASSERT_FALSE(apply(decide("4-4", false)));
  auto late = prepare("4-4", {{"acct", "d", "z", false}});
  late.txn_single = true;
  ASSERT_EQ(apply(late)->code, "txn_aborted");
  EXPECT_FALSE(engine->get(kP, "acct", "d"));
  expect_consistent();
}

TEST_F(TxnStorageTest, PendingTransactionsTravelInASnapshot) {
  ASSERT_FALSE(apply(put("acct", "a", "100")));
  ASSERT_FALSE(apply(prepare("4-1", {{"acct", "a", "1", false}})));
  auto image = partition_image(*engine, kP);
  TempDir other_dir;
  std::string error;
  auto other = StoreEngine::open(other_dir.sub("db"), {.sync = false}, &error);
  ASSERT_TRUE(other) << error;
  auto items = items_of(image.items);
  ASSERT_TRUE(other->write_replica({change::ReplaceState{kP, items, seq_ - 1, 1, false}}).ok);
  EXPECT_EQ(other->partition_meta(kP).pending_txns, 1);
  EXPECT_EQ(other->partition_meta(kP).item_count, 1);
  EXPECT_EQ(other->txn_lock(kP, "acct", "a"), "4-1");
  ASSERT_EQ(other->prepared_txns(kP).size(), 1u);
  EXPECT_EQ(other->prepared_txns(kP)[0].first, "4-1");
  EXPECT_EQ(other->prepared_txns(kP)[0].second.writes.size(), 1u);
}

TEST_F(TxnStorageTest, PastItsDeadlineAPrepareIsRefusedAndACommitIsRecordedAsAnAbort) {
  const std::string early = make_txn_id(5000, kP, 1), late = make_txn_id(5000, kP, 2);
  now_ms = 4000;
  ASSERT_FALSE(apply(prepare(early, {{"acct", "a", "1", false}})));
  now_ms = 5001;
  auto refused = apply(prepare(late, {{"acct", "b", "1", false}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "txn_expired");
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "b"));
  EXPECT_FALSE(engine->txn_record(kP, late));
  // A repeat of the prepare made in time changes nothing; its commit comes
  // too late and is recorded as an abort, which stands.
  EXPECT_FALSE(apply(prepare(early, {{"acct", "a", "1", false}})));
  auto decided = apply(decide(early, true));
  ASSERT_TRUE(decided);
  EXPECT_EQ(decided->code, "txn_decided");
  EXPECT_EQ(engine->txn_decision(kP, early)->state, TxnRecord::State::Aborted);
  EXPECT_FALSE(apply(decide(early, false)));
  ASSERT_FALSE(apply(resolve(early, false)));
  EXPECT_FALSE(engine->get(kP, "acct", "a"));
  EXPECT_FALSE(engine->txn_lock(kP, "acct", "a"));
  // An abort past the deadline is recorded as asked.
  EXPECT_FALSE(apply(decide(late, false)));
  EXPECT_EQ(engine->txn_decision(kP, late)->state, TxnRecord::State::Aborted);
  expect_consistent();
}

TEST_F(TxnStorageTest, ASettleMarksARecordedCommitAndIsRefusedOtherwise) {
  const std::string committed = make_txn_id(5000, kP, 1), aborted = make_txn_id(5000, kP, 2);
  ASSERT_FALSE(apply(decide(committed, true)));
  EXPECT_FALSE(engine->txn_decision(kP, committed)->settled);
  ASSERT_FALSE(apply(settle(committed)));
  EXPECT_TRUE(engine->txn_decision(kP, committed)->settled);
  EXPECT_EQ(engine->txn_decision(kP, committed)->state, TxnRecord::State::Committed);
  EXPECT_FALSE(apply(settle(committed)));  // again: nothing changes
  ASSERT_FALSE(apply(decide(aborted, false)));
  EXPECT_EQ(apply(settle(aborted))->code, "txn_decided");
  EXPECT_EQ(apply(settle(make_txn_id(5000, kP, 3)))->code, "txn_unknown");
  EXPECT_FALSE(engine->txn_decision(kP, make_txn_id(5000, kP, 3)));
}

TEST_F(TxnStorageTest, ACommitIsSettledOnceThePartitionsItNamesHaveAllConfirmed) {
  const std::string txn = make_txn_id(5000, kP, 1);
  auto commit = decide(txn, true);
  commit.txn_partitions = {1, 2, 3};
  ASSERT_FALSE(apply(commit));
  EXPECT_EQ(engine->txn_decision(kP, txn)->participants, (std::vector<uint32_t>{1, 2, 3}));
  auto some = settle(txn);
  some.txn_partitions = {1, 3, 9};
  ASSERT_FALSE(apply(some));
  auto decision = engine->txn_decision(kP, txn);
  EXPECT_FALSE(decision->settled);
  EXPECT_EQ(decision->participants, std::vector<uint32_t>{2});
  // Listed as unsettled once past its deadline, with what it waits for.
  EXPECT_TRUE(engine->unsettled_commits(kP, 5000, 10).empty());
  auto left = engine->unsettled_commits(kP, 5001, 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].first, txn);
  EXPECT_EQ(left[0].second, std::vector<uint32_t>{2});
  EXPECT_TRUE(engine->forgettable_txns(kP, 5001, 10).empty());
  auto rest = settle(txn);
  rest.txn_partitions = {2};
  ASSERT_FALSE(apply(rest));
  EXPECT_TRUE(engine->txn_decision(kP, txn)->settled);
  EXPECT_TRUE(engine->unsettled_commits(kP, 5001, 10).empty());
  EXPECT_EQ(engine->forgettable_txns(kP, 5001, 10), std::vector<std::string>{txn});
}

TEST_F(TxnStorageTest, ForgetErasesOnlyWhatNothingCanNeedAnyMore) {
  const std::string settled = make_txn_id(5000, kP, 1), unsettled = make_txn_id(5000, kP, 2),
                    prepared = make_txn_id(5000, kP, 3), recent = make_txn_id(9000, kP, 4),
                    single = make_txn_id(5000, kP, 5);
  now_ms = 4000;
  for (const auto& t : {settled, unsettled}) {
    ASSERT_FALSE(apply(prepare(t, {{t, "", "v", false}})));
    ASSERT_FALSE(apply(decide(t, true)));
    ASSERT_FALSE(apply(resolve(t, true)));
  }
  ASSERT_FALSE(apply(settle(settled)));
  ASSERT_FALSE(apply(prepare(prepared, {{"locked", "", "v", false}})));
  ASSERT_FALSE(apply(prepare(recent, {{recent, "", "v", false}})));
  ASSERT_FALSE(apply(decide(recent, false)));
  ASSERT_FALSE(apply(resolve(recent, false)));
  auto one = prepare(single, {{single, "", "v", false}});
  one.txn_single = true;
  ASSERT_FALSE(apply(one));

  // What the leader would list: a resolved record or a forgettable decision,
  // deadline before 8000, oldest first.
  std::vector<std::string> listed{settled, unsettled, single};
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(engine->forgettable_txns(kP, 8000, 100), listed);
  EXPECT_EQ(engine->forgettable_txns(kP, 8000, 2).size(), 2u);
  EXPECT_TRUE(engine->forgettable_txns(kP, 5000, 100).empty());

  // Listing everything changes nothing more: the rule decides, as on every replica.
  now_ms = 8500;
  ASSERT_FALSE(apply(forget({settled, unsettled, prepared, recent, single}, 20000)));
  EXPECT_FALSE(engine->txn_record(kP, settled));
  EXPECT_FALSE(engine->txn_decision(kP, settled));
  EXPECT_FALSE(engine->txn_record(kP, single));
  EXPECT_FALSE(engine->txn_decision(kP, single));
  EXPECT_FALSE(engine->txn_record(kP, unsettled));
  ASSERT_TRUE(engine->txn_decision(kP, unsettled));  // a participant may still ask
  EXPECT_EQ(engine->txn_record(kP, prepared)->state, TxnRecord::State::Prepared);
  EXPECT_EQ(engine->txn_lock(kP, "locked", ""), prepared);
  // Its deadline (9000) is after the entry's own clock (8500).
  EXPECT_EQ(engine->txn_record(kP, recent)->state, TxnRecord::State::Aborted);
  EXPECT_EQ(engine->get(kP, settled, "")->message, "v");  // the writes stay, of course

  // A step of a forgotten transaction that arrives late is refused by the
  // deadline, as its record would have refused it.
  EXPECT_EQ(apply(prepare(settled, {{"other", "", "v", false}}))->code, "txn_expired");
  EXPECT_FALSE(engine->txn_lock(kP, "other", ""));
  EXPECT_EQ(apply(decide(settled, true))->code, "txn_decided");
  expect_consistent();
}

// Group commit puts many entries in one RocksDB batch, where each op must see
// what the ops before it in the batch did (locks included). Random histories
// of transaction steps and plain writes over a few items, applied one entry
// per batch and in batches of random sizes, must leave identical partitions
// (items, records, locks, counts) with the same refusals, and a consistent
// one by check_partition. Conditions read the items as the ops before them
// in the batch left them.
TEST(TxnStorageHistoryTest, BatchingNeverChangesWhatTheRulesDecide) {
  size_t conditions_failed = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    // Transactions whose deadlines pass during the history (an entry's clock
    // is its index in ms), and one made before deadlines existed.
    std::vector<std::string> txns{"4-0000000000000000"};
    for (int t = 1; t < 6; ++t) txns.push_back(make_txn_id(40 + pick(60), kP, t));
    std::vector<WriteOp> history;
    for (int i = 0; i < 120; ++i) {
      WriteOp op;
      op.partition = kP;
      const std::string txn = txns[pick(6)];
      const std::string key = "k" + std::to_string(pick(4));
      switch (pick(7)) {
        case 0:
          op.kind = WriteOp::Kind::TxnPrepare;
          op.txn = txn;
          op.txn_home = kP;
          op.txn_single = pick(4) == 0;
          for (int w = 0, n = 1 + pick(3); w < n; ++w) {
            const std::string k = "k" + std::to_string(pick(4));
            bool seen = false;
            for (const auto& x : op.txn_writes) seen |= x.partition_key == k;
            if (seen) continue;
            op.txn_writes.push_back({k, "", "t" + std::to_string(i), pick(4) == 0});
            // A condition: absent, or one of the last few sequences (an
            // item's is that of the entry that wrote it, i + 1).
            if (pick(2) == 0) {
              op.txn_writes.back().if_sequence =
                  pick(3) == 0 ? 0 : static_cast<uint64_t>(std::max(1, i + 1 - pick(8)));
            }
          }
          break;
        case 1:
          op.kind = WriteOp::Kind::TxnResolve;
          op.txn = txn;
          op.txn_commit = pick(2) == 0;
          break;
        case 2:
          op.kind = WriteOp::Kind::TxnDecide;
          op.txn = txn;
          op.txn_commit = pick(2) == 0;
          if (pick(2) == 0) op.txn_partitions = {0, 1};
          break;
        case 5:
          op.kind = WriteOp::Kind::TxnDecide;
          op.txn = txn;
          op.txn_commit = true;
          op.txn_settled = true;
          op.txn_partitions = {static_cast<uint32_t>(pick(3))};
          break;
        case 6:
          op.kind = WriteOp::Kind::TxnForget;
          for (const auto& t : txns) {
            if (pick(2) == 0) op.txn_forget.push_back(t);
          }
          if (op.txn_forget.empty()) op.txn_forget.push_back(txn);
          op.txn_forget_before_ms = static_cast<uint64_t>(std::max(0, i + 10 - pick(30)));
          break;
        case 3:
          op.kind = pick(3) == 0 ? WriteOp::Kind::Delete : WriteOp::Kind::Put;
          op.partition_key = key;
          op.message = "p" + std::to_string(i);
          break;
        default:
          op.kind = WriteOp::Kind::DeleteAll;
          op.partition_key = key;
          break;
      }
      op.version = {static_cast<uint64_t>(i) << 16, static_cast<uint64_t>(i + 1), 1};
      history.push_back(std::move(op));
    }
    auto run = [&](const std::string& dir, bool batched, std::vector<uint64_t>* refused) {
      std::string error;
      auto engine = StoreEngine::open(dir, {.sync = false}, &error);
      EXPECT_TRUE(engine) << error;
      for (size_t i = 0; i < history.size();) {
        const size_t n = batched ? std::min<size_t>(1 + pick(20), history.size() - i) : 1;
        std::vector<ReplicaChange> changes;
        change::AppendLog append{kP, {}};
        change::Apply apply{kP, {}, history[i + n - 1].version.sequence, 1};
        for (size_t k = i; k < i + n; ++k) {
          append.records.push_back(
              {history[k].version.sequence, 1, false, encode_item_op(history[k])});
          apply.ops.push_back(history[k]);
        }
        changes.push_back(std::move(append));
        changes.push_back(std::move(apply));
        changes.push_back(change::SaveState{kP, 1, history[i + n - 1].version.sequence, false});
        auto status = engine->write_replica(changes);
        EXPECT_TRUE(status.ok) << status.message;
        for (const auto& r : status.refused) {
          refused->push_back(r.sequence);
          conditions_failed += r.code == "txn_condition_failed";
        }
        i += n;
      }
      auto check = engine->check_partition(kP);
      EXPECT_TRUE(check.consistent()) << "seed " << seed << ": " << check.problems.front();
      return partition_image(*engine, kP);
    };
    TempDir dir;
    std::vector<uint64_t> one_by_one, batched;
    const auto a = run(dir.sub("one"), false, &one_by_one);
    const auto b = run(dir.sub("batched"), true, &batched);
    EXPECT_EQ(one_by_one, batched) << "seed " << seed;
    EXPECT_EQ(a.items, b.items) << "seed " << seed;
    EXPECT_EQ(a.meta.item_count, b.meta.item_count) << "seed " << seed;
    EXPECT_EQ(a.meta.pending_txns, b.meta.pending_txns) << "seed " << seed;
    EXPECT_FALSE(one_by_one.empty()) << "seed " << seed;  // the rules did refuse things
  }
  EXPECT_GT(conditions_failed, 0u);  // and conditions were among them
}

TEST(TxnSpace, ReservedKeysAreApartFromClientKeysAndParseBack) {
  EXPECT_TRUE(is_reserved_key(kTxnLockKey));
  EXPECT_FALSE(is_reserved_key("acct"));
  EXPECT_FALSE(is_reserved_key(""));
  EXPECT_NE(txn_lock_key(1, "a", "bc"), txn_lock_key(1, "ab", "c"));
  EXPECT_TRUE(txn_lock_key(1, "a", "bc").starts_with(txn_lock_prefix(1, "a")));
  EXPECT_FALSE(txn_lock_key(1, "ab", "c").starts_with(txn_lock_prefix(1, "a")));
}

}  // namespace
}  // namespace partid::storage
