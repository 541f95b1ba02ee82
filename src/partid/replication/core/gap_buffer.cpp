#include "partid/replication/core/gap_buffer.h"

namespace partid::replication::core {

bool GapBuffer::add(Replicate message) {
  // A heartbeat carries nothing to wait for; counting it as one entry keeps a
  // flood of them bounded too.
  size_t size = std::max<size_t>(1, message.entries.size());
  if (entries_ + size > max_entries_) return false;
  entries_ += size;
  uint64_t key = message.prev.seq;
  messages_.emplace(key, std::move(message));
  return true;
}

std::optional<Replicate> GapBuffer::take_fitting(uint64_t last) {
  if (messages_.empty() || messages_.begin()->first > last) return std::nullopt;
  auto node = messages_.extract(messages_.begin());
  entries_ -= std::max<size_t>(1, node.mapped().entries.size());
  return std::move(node.mapped());
}

std::optional<uint64_t> GapBuffer::earliest_needed() const {
  if (messages_.empty()) return std::nullopt;
  return messages_.begin()->first;
}

void GapBuffer::clear() {
  messages_.clear();
  entries_ = 0;
}

}  // namespace partid::replication::core
