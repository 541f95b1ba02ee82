// replication: the partition snapshots this node receives. A snapshot comes
// in a peer message, whole or assembled from fragments (FragmentAssembler);
// it can be many megabytes, so it is read through on the snapshot pool
// before its core sees the message (its items checked and tallied, nothing
// decoded kept: snapshot_items), and that reading is kept until the core
// installs it (take()), so installing does not check it again. Its bytes
// count in the receive budget (FragmentAssembler's) until their last copy is
// dropped: a transfer's from its first fragment, a whole message's from
// count(). Only the latest snapshot per partition is kept, and an
// InstallSnapshot's only while its core takes the message (an adoption's
// until the partition's next snapshot or forget()).
// Threading: loop only; reading runs on the snapshot pool. Nothing read is
// handed on once the owner's `alive` token is false (the owner clears it
// before destroying this).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "parti/core/async.h"
#include "partid/replication/core/types.h"
#include "partid/replication/core_changes.h"
#include "partid/replication/fragments.h"

namespace partid::replication {

namespace asio = boost::asio;

class SnapshotInbox {
 public:
  // Told the newest item version (HLC) of every snapshot read here: the
  // node's clock passes it (the HLC's rule for any message received).
  using OnNewest = std::function<void(uint64_t hlc)>;
  // The message whose snapshot was read, or nullptr when it does not decode.
  using Decoded = std::function<void(const core::Message*)>;

  SnapshotInbox(asio::any_io_executor loop, asio::thread_pool& pool, OnNewest on_newest,
                std::shared_ptr<bool> alive, AssemblerLimits limits = {})
      : loop_(std::move(loop)),
        pool_(pool),
        on_newest_(std::move(on_newest)),
        assembler_(limits),
        alive_(std::move(alive)) {}
  SnapshotInbox(const SnapshotInbox&) = delete;
  SnapshotInbox& operator=(const SnapshotInbox&) = delete;

  // Counts the bytes of the snapshot a whole message carries (one that came
  // in a single frame, not in fragments) in the receive budget until their
  // last copy is dropped.
  void count(core::Message& message) const;
  // Reads the snapshot `message` carries off the loop, then hands the
  // message to `then` on the loop (after messages that came behind it, which
  // the core takes as reordering).
  void receive(uint32_t partition, core::Message message, Decoded then);
  // The items of `snapshot`, read on arrival or, if it was not, here
  // (nullptr: it does not decode).
  SnapshotItems take(uint32_t partition, const core::Snapshot& snapshot);
  // Drops what is kept for a partition this node no longer holds.
  void forget(uint32_t partition) { checked_.erase(partition); }
  size_t kept() const { return checked_.size(); }
  // One fragment of a message too large for a frame (FragmentAssembler::add).
  FragmentAssembler::Result assemble(const pb::ReplFragment& fragment) {
    return assembler_.add(fragment, FragmentAssembler::Clock::now());
  }
  // Forgets the transfers that went quiet (FragmentAssembler::forget_idle).
  void forget_quiet_transfers() { assembler_.forget_idle(FragmentAssembler::Clock::now()); }
  // What the receive budget counts now: the bytes of the snapshots received
  // and not yet dropped (FragmentAssembler::held_bytes).
  uint64_t received_bytes_held() const { return assembler_.held_bytes(); }

 private:
  struct Kept {
    core::Position through;
    size_t bytes = 0;
    SnapshotItems items;
  };

  // Forgets the items kept for `partition` if they are still these.
  void drop_unused(uint32_t partition, const SnapshotItems& items);

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  OnNewest on_newest_;
  FragmentAssembler assembler_;
  std::map<uint32_t, Kept> checked_;
  std::shared_ptr<bool> alive_;
};

}  // namespace partid::replication
