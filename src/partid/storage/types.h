// storage: the values the store keeps and hands out (items, their versions,
// write operations, a partition's replication metadata and log records),
// apart from StoreEngine so that code reading or producing them needs no
// engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partid/routing/layout.h"

namespace partid::storage {

// An item version's HLC (ItemVersion::hlc, WriteResult::hlc) is the wall
// clock in ms, shifted left 16 bits, plus a logical counter.
inline uint64_t hlc_physical_ms(uint64_t hlc) { return hlc >> 16; }

struct ItemVersion {
  uint64_t hlc = 0;
  uint64_t sequence = 0;
  uint64_t epoch = 0;
  friend bool operator==(const ItemVersion&, const ItemVersion&) = default;
};

// Which of a partition key's items a listing reads: range keys in descending
// byte order (newest first for time-ordered range keys), only those below
// `below` when it is set (a cursor: the last range key of the page before),
// at most `limit`; and once their range keys and messages pass `max_bytes`,
// no more (the item that passed it is the last read, so a caller can refuse an
// answer too large to build without having read all of it).
struct ItemPage {
  size_t limit = 100;
  size_t max_bytes = SIZE_MAX;
  std::optional<std::string> below;
};

struct Item {
  std::string partition_key;
  std::string range_key;
  std::string message;
  ItemVersion version;
  bool tombstone = false;  // only ever set on items returned by a scan
  friend bool operator==(const Item&, const Item&) = default;
};

// What of an item counts against ItemPage::max_bytes: what a listing's
// answer carries of it beyond a few numbers.
inline size_t listed_bytes(const Item& item) { return item.range_key.size() + item.message.size(); }

// One write of a transaction across partitions (txn_space.h).
struct TxnWrite {
  std::string partition_key;
  std::string range_key;
  std::string message;
  bool remove = false;
  // A condition: the prepare is refused unless the item's current version
  // has this sequence (0: the item is absent or deleted). Data format 4.
  std::optional<uint64_t> if_sequence = std::nullopt;
  friend bool operator==(const TxnWrite&, const TxnWrite&) = default;
};

// A transaction as one partition recorded it (txn_space.h): a participant's
// prepare and what became of it, or (in its home partition) the decision.
struct TxnRecord {
  enum class State { Prepared, Refused, Committed, Aborted };
  State state = State::Prepared;
  uint32_t home = 0;
  std::vector<TxnWrite> writes;  // while Prepared: the writes it locks here
  ItemVersion version;           // of the prepare; its writes get it when committed
  // A commit decision whose coordinator saw every partition resolve: nothing
  // will ask for it again but clients, so it can go after the retention.
  bool settled = false;
  // A commit decision: the partitions still to confirm they resolved it; a
  // settle removes those it names, and settles the decision once none is left.
  std::vector<uint32_t> participants{};
  friend bool operator==(const TxnRecord&, const TxnRecord&) = default;
};

// What a split of a partition moves out of it (storage/split_space.h): the
// keys that `after`, the layout once the split is done, sends elsewhere
// (to `target`). While !moved they are frozen here: writes to them are
// refused, and so are reads, since the copy in the target may be written
// as soon as the layout changes. Once moved they are gone from here.
struct SplitRule {
  routing::Layout after;  // base 0: no split
  uint32_t target = 0;
  bool moved = false;
  bool active() const { return after.base != 0; }
  // A merge of `partition` into another: the layout after has no place for
  // it, so every key moves.
  bool merging(uint32_t partition) const { return active() && after.count <= partition; }
  // The key is not this partition's (any more, or while frozen).
  bool excludes(uint32_t partition, std::string_view partition_key) const {
    return active() && after.partition_of(partition_key) != partition;
  }
  friend bool operator==(const SplitRule&, const SplitRule&) = default;
};

struct WriteOp {
  // Txn*: the steps of a transaction (txn_space.h): TxnPrepare locks
  // txn_writes in this partition, TxnDecide records txn_commit in the home
  // partition, TxnResolve applies (txn_commit) or drops the locked writes,
  // TxnForget erases the records and decisions of txn_forget that can no
  // longer matter (txn_apply.cpp).
  // Split*: the steps of a split of this partition (split_space.h):
  // SplitFreeze sets split_rule, SplitImport copies one item into the new
  // partition with its own version (import_version), SplitCleanup drops the
  // moved keys. A merge freezes its source with SplitFreeze (a rule whose
  // layout has no place for the source: every key moves), imports into its
  // target with SplitImport, then MergePad takes a sequence there, changing
  // nothing, and MergeAdopt sets the target's rule to split_rule (moved:
  // the keys the merged layout sends elsewhere).
  enum class Kind {
    Put,
    Delete,
    DeleteAll,
    TxnPrepare,
    TxnDecide,
    TxnResolve,
    TxnForget,
    SplitFreeze,
    SplitImport,
    SplitCleanup,
    MergePad,
    MergeAdopt
  };
  Kind kind = Kind::Put;
  uint32_t partition = 0;
  std::string partition_key;
  std::string range_key;
  std::string message;
  ItemVersion version;  // sequence and epoch are set by the write pipeline
  std::string txn;      // Txn*: the transaction's id
  uint32_t txn_home = 0;
  bool txn_commit = false;
  std::vector<TxnWrite> txn_writes;
  // TxnPrepare of a transaction all in this partition (its home): it commits
  // at once (the writes applied, the decision recorded) or is refused.
  bool txn_single = false;
  // TxnDecide of a commit already recorded: the partitions in txn_partitions
  // have resolved it (without txn_settled: the ones it must be resolved in).
  bool txn_settled = false;
  std::vector<uint32_t> txn_partitions;
  // TxnForget: the transactions, and the time their deadline must be before.
  std::vector<std::string> txn_forget;
  uint64_t txn_forget_before_ms = 0;
  SplitRule split_rule;        // SplitFreeze, MergeAdopt
  ItemVersion import_version;  // SplitImport
};

// A partition's replication state (see proto/storage.proto, PartitionMeta).
struct PartitionMeta {
  uint64_t epoch = 0;  // promised epoch
  uint64_t last_sequence = 0;
  uint64_t watermark = 0;  // committed and applied through here
  int64_t item_count = 0;
  uint64_t applied_epoch = 0;
  uint64_t base_sequence = 0;  // log entries through here are gone (applied)
  uint64_t base_epoch = 0;
  bool rebuilding = false;
  // Transactions prepared here and not resolved yet: while 0, no item of the
  // partition is locked, so neither writes nor reads need to look for locks.
  int64_t pending_txns = 0;
  // The partition's split rule (mirrors its "\0split" item): in memory for
  // every partition written since the store opened, so the API can check a
  // key without a disk read.
  SplitRule split;
  // The newest item version's HLC among the items snapshots installed here
  // (never lowered): a new leader's clock passes it, as it passes the newest
  // op of its log, which a snapshot may have emptied.
  uint64_t hlc_floor = 0;
  friend bool operator==(const PartitionMeta&, const PartitionMeta&) = default;
};

struct LogRecord {
  uint64_t sequence = 0;
  uint64_t epoch = 0;
  bool barrier = false;
  std::string payload;  // an encoded ItemOp (storage/codec.h)
  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

}  // namespace partid::storage
