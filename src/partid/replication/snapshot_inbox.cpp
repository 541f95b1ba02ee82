#include "partid/replication/snapshot_inbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "partid/replication/wire.h"

namespace partid::replication {

void SnapshotInbox::count(core::Message& message) const {
  core::Snapshot* s = snapshot_in(message);
  if (s)
    s->data = SnapshotBudget::keeping(std::move(s->data), assembler_.budget().reserve(s->size()));
}

void SnapshotInbox::receive(uint32_t partition, core::Message message, Decoded then) {
  auto held = std::make_shared<core::Message>(std::move(message));
  asio::post(pool_, [this, loop = loop_, partition, held, then = std::move(then), alive = alive_] {
    SnapshotItems items = snapshot_items(snapshot_in(*held)->data);
    asio::post(loop, [this, partition, held, items, then, alive] {
      if (!*alive) return;
      if (!items) return then(nullptr);
      on_newest_(items->tally().newest_hlc);
      const core::Snapshot& s = *snapshot_in(*held);
      checked_[partition] = {s.through, s.size(), items};
      then(held.get());
      // The core installs an InstallSnapshot, or refuses it, while it takes
      // it (an adoption's SyncReply it may install later): the bytes of one
      // refused (older than what the replica holds, or from a replaced
      // leader) would otherwise stay, a partition's size, until the
      // partition's next snapshot.
      if (std::holds_alternative<core::InstallSnapshot>(*held)) drop_unused(partition, items);
    });
  });
}

void SnapshotInbox::drop_unused(uint32_t partition, const SnapshotItems& items) {
  auto it = checked_.find(partition);
  if (it != checked_.end() && it->second.items == items) checked_.erase(it);
}

SnapshotItems SnapshotInbox::take(uint32_t partition, const core::Snapshot& snapshot) {
  auto it = checked_.find(partition);
  if (it == checked_.end() || it->second.through != snapshot.through ||
      it->second.bytes != snapshot.size()) {
    spdlog::warn("partition {}: installing a snapshot not checked on arrival; checking it here",
                 partition);
    SnapshotItems items = snapshot_items(snapshot.data);
    if (items) on_newest_(items->tally().newest_hlc);
    return items;
  }
  SnapshotItems items = std::move(it->second.items);
  checked_.erase(it);
  return items;
}

}  // namespace partid::replication
