#include "partid/replication/core/replica_log.h"

#include <algorithm>
#include <stdexcept>

namespace partid::replication::core {

void ReplicaLog::reset(Position base) {
  base_ = base;
  entries_.clear();
  ends_.clear();
}

Position ReplicaLog::last() const {
  if (entries_.empty()) return base_;
  return {entries_.back().epoch, entries_.back().seq};
}

std::optional<uint64_t> ReplicaLog::epoch_at(uint64_t seq) const {
  if (seq == base_.seq) return base_.epoch;
  if (seq < base_.seq || seq > last().seq) return std::nullopt;
  return at(seq).epoch;
}

Position ReplicaLog::position_of(uint64_t seq) const {
  auto epoch = epoch_at(seq);
  if (!epoch) throw std::logic_error("replica log: position outside the log");
  return {*epoch, seq};
}

const Entry& ReplicaLog::at(uint64_t seq) const { return entries_.at(seq - base_.seq - 1); }

std::vector<Entry> ReplicaLog::slice(uint64_t from, uint64_t to, size_t max,
                                     size_t max_bytes) const {
  std::vector<Entry> out;
  size_t bytes = 0;
  for (uint64_t seq = from; seq <= to && seq <= last().seq && out.size() < max; ++seq) {
    const Entry& e = at(seq);
    if (!out.empty() && bytes + e.payload.size() > max_bytes) break;
    bytes += e.payload.size();
    out.push_back(e);
  }
  return out;
}

uint64_t ReplicaLog::payload_bytes_after(uint64_t seq) const {
  if (entries_.empty() || seq >= last().seq) return 0;
  if (seq <= base_.seq) return end_ - (ends_.front() - entries_.front().payload.size());
  return end_ - ends_[seq - base_.seq - 1];
}

uint64_t ReplicaLog::memory_bytes_after(uint64_t seq) const {
  if (entries_.empty() || seq >= last().seq) return 0;
  const uint64_t entries = last().seq - std::max(seq, base_.seq);
  return payload_bytes_after(seq) + entries * kEntryOverhead;
}

void ReplicaLog::append(Entry entry) {
  if (entry.seq != last().seq + 1) throw std::logic_error("replica log: append out of order");
  end_ += entry.payload.size();
  ends_.push_back(end_);
  entries_.push_back(std::move(entry));
}

void ReplicaLog::truncate_after(uint64_t seq) {
  while (!entries_.empty() && entries_.back().seq > seq) {
    end_ -= entries_.back().payload.size();
    entries_.pop_back();
    ends_.pop_back();
  }
}

void ReplicaLog::trim_through(uint64_t seq) {
  if (seq <= base_.seq || seq > last().seq) return;
  base_ = position_of(seq);
  while (!entries_.empty() && entries_.front().seq <= seq) {
    entries_.pop_front();
    ends_.pop_front();
  }
}

}  // namespace partid::replication::core
