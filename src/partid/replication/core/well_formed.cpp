#include "partid/replication/core/well_formed.h"

#include "partid/overloaded.h"

namespace partid::replication::core {
namespace {

// Entries `first`, `first`+1, ... with epochs from `floor` up, none past
// `ceiling`.
bool consecutive(const std::vector<Entry>& entries, uint64_t first, uint64_t floor,
                 uint64_t ceiling) {
  uint64_t seq = first, epoch = floor;
  for (const Entry& e : entries) {
    if (e.seq != seq || e.epoch < epoch || e.epoch > ceiling) return false;
    epoch = e.epoch;
    ++seq;
  }
  return true;
}

}  // namespace

bool well_formed(const Message& message) {
  return std::visit(
      Overloaded{
          [](const Replicate& m) {
            return m.prev.seq < UINT64_MAX - m.entries.size() && m.prev.epoch <= m.epoch &&
                   consecutive(m.entries, m.prev.seq + 1, m.prev.epoch, m.epoch);
          },
          [](const SyncReply& m) {
            if (m.from == 0 || m.from > UINT64_MAX - m.entries.size()) return false;
            if (m.snapshot && m.snapshot->through.seq + 1 != m.from) return false;
            return consecutive(m.entries, m.from, 0, m.epoch);
          },
          [](const InstallSnapshot& m) { return m.snapshot.through.epoch <= m.epoch; },
          [](const auto&) { return true; },
      },
      message);
}

}  // namespace partid::replication::core
