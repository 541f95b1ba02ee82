#include "partid/replication/group_commit.h"

namespace partid::replication {

GroupCommit::GroupCommit(asio::any_io_executor loop, asio::thread_pool& disk,
                         storage::StoreEngine& store, OnFailure on_failure, OnRefused on_refused)
    : loop_(std::move(loop)),
      disk_(disk),
      store_(store),
      on_failure_(std::move(on_failure)),
      on_refused_(std::move(on_refused)) {}

void GroupCommit::add(std::vector<storage::ReplicaChange> changes, After after) {
  if (changes.empty() && idle()) {
    if (after) after();
    return;
  }
  for (auto& c : changes) pending_.changes.push_back(std::move(c));
  if (after) pending_.after.push_back(std::move(after));
  schedule();
}

void GroupCommit::schedule() {
  if (in_flight_ || scheduled_) return;
  // Cut the batch after the handlers that are ready now have added theirs:
  // under load batches grow without a timer; an idle loop writes at once.
  scheduled_ = true;
  asio::post(loop_, [this] {
    scheduled_ = false;
    if (!in_flight_) flush();
  });
}

void GroupCommit::flush() {
  if (pending_.changes.empty() && pending_.after.empty()) return;
  auto batch = std::make_shared<Batch>(std::move(pending_));
  pending_ = {};
  in_flight_ = true;
  if (batch->changes.empty()) {  // only callbacks waiting behind an earlier write
    asio::post(loop_, [this, batch] { done(std::move(*batch), {}); });
    return;
  }
  asio::post(disk_, [this, batch] {
    auto status = store_.write_replica(batch->changes);
    asio::post(loop_, [this, batch, status] { done(std::move(*batch), status); });
  });
}

void GroupCommit::done(Batch batch, const storage::StoreStatus& status) {
  in_flight_ = false;
  if (!status.ok) {
    on_failure_("storage write failed: " + status.message);
    return;
  }
  ++writes_;
  changes_written_ += batch.changes.size();
  if (!status.refused.empty() && on_refused_) on_refused_(status.refused);
  for (auto& after : batch.after) after();
  if (!pending_.changes.empty() || !pending_.after.empty()) schedule();
}

}  // namespace partid::replication
