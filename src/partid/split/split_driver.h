// split: SplitDriver carries out a split of the layout's next partition, on
// the node that leads the split's source (any other node's driver waits).
// The layout record (routing/layout.h) says how far it has got; each phase
// is recorded by compare-and-set once done, so a driver that dies or loses
// the leadership leaves the next leader to carry on, and every step may be
// repeated without harm:
//  1. Freezing: a SplitFreeze entry in the source's log. Every replica
//     applies it at the same point of the source's write order: from there
//     on the moving keys refuse writes (and reads), so what the source holds
//     of them is final. Refused while a transaction is prepared in the
//     source (whose leader takes no new prepare there meanwhile:
//     api::freezing_refusal); the driver tries again on its next
//     pass. Its sequence becomes the new partition's start
//     (LayoutRecord::starts), so the new partition's own writes get
//     sequences above every copied one.
//  2. Copying: the new partition exists (libparti places it, its leader
//     seals it like any other). The driver scans the source's moving items
//     and hands them to that leader, batch by batch (send_split_import),
//     which writes them through the new partition's log with their own
//     versions; then the layout changes (the new partition count), and
//     routing sends the moved keys to the new partition.
//  3. Cleaning: a SplitCleanup entry in the source drops the moved keys;
//     the record's split is cleared.
// Write ordering across the split: every write to a moving key before the
// freeze is in the copy, none after it is accepted until the new partition
// serves the key. No write is lost and no key ever has two writable copies.
// A merge (the layout's last partition back into the one it split from)
// goes the same way, with every key of the source moving:
//  1. Freezing: a SplitFreeze entry whose rule (the merged layout) has no
//     place for the source; it also refuses transactions' prepares and
//     decisions from then on. Its sequence is recorded as `start`.
//  2. Copying: every item of the source, and its transaction records (its
//     decisions must outlive it), is copied into the target; then the
//     target's log is padded past `start` and adopts the merged keys
//     (ApiService::adopt), and the layout becomes the merged one.
//  3. Cleaning: the record is cleared, which removes the source: libparti
//     stops assigning it and every node drops its replica
//     (Replicator::retire).
// The partition a split makes may have existed before (merged away since):
// the split records a seal floor for it (LayoutRecord::seal_floors).
// A pass that records a phase starts the next one at once: the moving keys
// are unavailable from the freeze until the layout changes, and a wait for
// the next tick would add up to an interval to that for each phase.
// Threading: loop only.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "parti/core/periodic.h"
#include "partid/api/api_service.h"
#include "partid/api/cluster_view.h"
#include "partid/replication/replicator.h"
#include "partid/split/layout_store.h"
#include "partid/storage/store_engine.h"

namespace partid::split {

struct SplitDeps {
  asio::any_io_executor loop;
  asio::thread_pool* disk = nullptr;
  storage::StoreEngine* store = nullptr;
  replication::Replicator* replicator = nullptr;
  api::ApiService* api = nullptr;
  LayoutStore* layouts = nullptr;
  api::ClusterView* cluster = nullptr;
};

struct SplitOptions {
  std::chrono::milliseconds interval{200};
  // A copy batch holds items up to this many bytes (at least one item).
  size_t batch_bytes = 256 * 1024;
};

class SplitDriver {
 public:
  SplitDriver(SplitDeps deps, SplitOptions options);
  void start() { periodic_.start(); }
  void stop();

 private:
  void pass();
  asio::awaitable<void> advance(routing::LayoutRecord record);
  asio::awaitable<void> freeze(routing::LayoutRecord record);
  asio::awaitable<void> copy(routing::LayoutRecord record);
  asio::awaitable<void> clean(routing::LayoutRecord record);
  // A merge's target pads its log past the freeze and takes the keys over.
  asio::awaitable<bool> adopt(const routing::SplitPlan& plan);
  // Records the next phase if the split is still where `from` had it; false
  // (and logged) when the record moved on or could not be written.
  using Next = std::function<void(routing::LayoutRecord&)>;
  asio::awaitable<bool> record_next(routing::SplitPlan from, Next next);
  asio::awaitable<replication::WriteResult> write(storage::WriteOp op);

  SplitDeps deps_;
  SplitOptions options_;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  parti::Periodic periodic_;  // last: its callback uses the members above
};

}  // namespace partid::split
