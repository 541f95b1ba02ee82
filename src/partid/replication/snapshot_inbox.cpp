#include "partid/replication/snapshot_inbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "partid/replication/wire.h"

namespace partid::replication {

namespace {
uint64_t newest_hlc(const std::vector<storage::Item>& items) {
  uint64_t newest = 0;
  for (const auto& item : items) newest = std::max(newest, item.version.hlc);
  return newest;
}

// What decoded items take in memory: their strings and the items themselves.
uint64_t decoded_bytes(const std::vector<storage::Item>& items) {
  uint64_t bytes = items.capacity() * sizeof(storage::Item);
  for (const auto& item : items) {
    bytes += item.partition_key.capacity() + item.range_key.capacity() + item.message.capacity();
  }
  return bytes;
}

// The items count in the receive budget until their last copy is dropped
// (installed, or forgotten): beside the snapshot's bytes they double what a
// snapshot received holds, and a budget that counted the bytes alone let a
// rebuilt node hold about twice its budget.
SnapshotItems decode(const core::Snapshot& snapshot, const SnapshotBudget& budget) {
  auto items = decode_snapshot(*snapshot.data);
  if (!items) return nullptr;
  auto token = budget.reserve(decoded_bytes(*items));
  return SnapshotBudget::keeping(
      std::make_shared<const std::vector<storage::Item>>(std::move(*items)), std::move(token));
}
}  // namespace

void SnapshotInbox::receive(uint32_t partition, core::Message message, Decoded then) {
  auto held = std::make_shared<core::Message>(std::move(message));
  asio::post(pool_, [this, loop = loop_, partition, held, then = std::move(then), alive = alive_,
                     budget = assembler_.budget()] {
    SnapshotItems items = decode(*snapshot_in(*held), budget);
    const uint64_t newest = items ? newest_hlc(*items) : 0;
    asio::post(loop, [this, partition, held, items, newest, then, alive] {
      if (!*alive) return;
      if (!items) return then(nullptr);
      on_newest_(newest);
      const core::Snapshot& s = *snapshot_in(*held);
      decoded_[partition] = {s.through, s.size(), items};
      then(held.get());
      // The core installs an InstallSnapshot, or refuses it, while it takes
      // it (an adoption's SyncReply it may install later): the items of one
      // refused (older than what the replica holds, or from a replaced
      // leader) would otherwise stay, a partition's size, until the
      // partition's next snapshot.
      if (std::holds_alternative<core::InstallSnapshot>(*held)) drop_unused(partition, items);
    });
  });
}

void SnapshotInbox::drop_unused(uint32_t partition, const SnapshotItems& items) {
  auto it = decoded_.find(partition);
  if (it != decoded_.end() && it->second.items == items) decoded_.erase(it);
}

SnapshotItems SnapshotInbox::take(uint32_t partition, const core::Snapshot& snapshot) {
  auto it = decoded_.find(partition);
  if (it == decoded_.end() || it->second.through != snapshot.through ||
      it->second.bytes != snapshot.size()) {
    spdlog::warn("partition {}: installing a snapshot not decoded on arrival; decoding it here",
                 partition);
    SnapshotItems items = decode(snapshot, assembler_.budget());
    if (items) on_newest_(newest_hlc(*items));
    return items;
  }
  SnapshotItems items = std::move(it->second.items);
  decoded_.erase(it);
  return items;
}

}  // namespace partid::replication
