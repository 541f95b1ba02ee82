// replication/core: a follower's bounded buffer of Replicate messages that
// arrived ahead of its log (their `prev` is past its last entry). They wait
// here, in order, until the gap before them fills — from a resend or a
// catch-up — and are dropped when the epoch changes.
#pragma once

#include <map>
#include <optional>

#include "partid/replication/core/types.h"

namespace partid::replication::core {

class GapBuffer {
 public:
  explicit GapBuffer(size_t max_entries) : max_entries_(max_entries) {}

  // False when the message would overflow the buffer; it is then dropped and
  // the caller must catch up instead.
  bool add(Replicate message);
  // A buffered message that now fits after `last`, if any (lowest first).
  std::optional<Replicate> take_fitting(uint64_t last);
  // Where the gap ends: the prev sequence of the earliest buffered message.
  std::optional<uint64_t> earliest_needed() const;
  void clear();
  size_t entries() const { return entries_; }
  bool empty() const { return messages_.empty(); }

 private:
  size_t max_entries_;
  size_t entries_ = 0;
  std::multimap<uint64_t, Replicate> messages_;  // by prev.seq
};

}  // namespace partid::replication::core
