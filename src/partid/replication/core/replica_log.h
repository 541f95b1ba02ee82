// replication/core: the in-memory tail of one partition's replication log.
// Entries after `base` are held here; everything through `base` lives only in
// the applied state (a snapshot or trimmed prefix). The shell mirrors every
// change durably through the PersistOps the core emits.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "partid/replication/core/types.h"

namespace partid::replication::core {

class ReplicaLog {
 public:
  // Empties the log; the state already contains everything through `base`.
  void reset(Position base);
  Position base() const { return base_; }
  Position last() const;
  // The epoch of the entry at `seq`, or nothing when this log cannot tell
  // (before the base, or past the end). The base itself answers.
  std::optional<uint64_t> epoch_at(uint64_t seq) const;
  Position position_of(uint64_t seq) const;  // seq must be within [base, last]
  const Entry& at(uint64_t seq) const;       // seq must be in (base, last]
  // Entries [from, to], at most `max` of them and, past the first, at most
  // `max_bytes` of payload; from must be > base.
  std::vector<Entry> slice(uint64_t from, uint64_t to, size_t max,
                           size_t max_bytes = SIZE_MAX) const;
  // The payload bytes of the entries after `seq` that this log holds (all of
  // them when `seq` is at or before the base), in constant time.
  uint64_t payload_bytes_after(uint64_t seq) const;
  // What those entries take in memory: their payloads plus, for each, the
  // entry and its offset slot (kEntryOverhead). A bound for holding the log,
  // where entries of a few bytes cost more than their payloads; a payload
  // short enough to live inside its string is counted twice, erring high.
  static constexpr uint64_t kEntryOverhead = sizeof(Entry) + sizeof(uint64_t);
  uint64_t memory_bytes_after(uint64_t seq) const;

  void append(Entry entry);  // entry.seq must be last + 1
  void truncate_after(uint64_t seq);
  void trim_through(uint64_t seq);

 private:
  Position base_;
  std::deque<Entry> entries_;
  // Running payload offsets: ends_[i] is where entries_[i] ends in a stream
  // of every payload appended so far; end_ is where the next one starts.
  std::deque<uint64_t> ends_;
  uint64_t end_ = 0;
};

}  // namespace partid::replication::core
