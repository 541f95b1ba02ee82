#include "partid/replication/group_commit.h"

#include <algorithm>

namespace partid::replication {

GroupCommit::GroupCommit(asio::any_io_executor loop, asio::thread_pool& disk,
                         storage::StoreEngine& store, OnFailure on_failure, OnRefused on_refused,
                         CommitDelay delay)
    : loop_(std::move(loop)),
      disk_(disk),
      store_(store),
      on_failure_(std::move(on_failure)),
      on_refused_(std::move(on_refused)),
      delay_(delay),
      hold_(loop_) {}

void GroupCommit::add(std::vector<storage::ReplicaChange> changes, After after) {
  if (changes.empty() && idle()) {
    if (after) after();
    return;
  }
  if (pending_.steps == 0) {
    pending_since_ = std::chrono::steady_clock::now();
  }
  for (auto& c : changes) pending_.changes.push_back(std::move(c));
  if (after) pending_.after.push_back(std::move(after));
  ++pending_.steps;
  schedule();
}

void GroupCommit::read_between_writes(std::function<void()> job, After done) {
  reads_.push_back({std::move(job), std::move(done)});
  schedule();
}

void GroupCommit::run_read() {
  auto read = std::make_shared<Read>(std::move(reads_.front()));
  reads_.erase(reads_.begin());
  in_flight_ = true;
  asio::post(disk_, [this, read] {
    read->job();
    asio::post(loop_, [this, read] {
      in_flight_ = false;
      if (read->done) read->done();
      if (!reads_.empty() || !pending_.changes.empty() || !pending_.after.empty()) schedule();
    });
  });
}

void GroupCommit::schedule() {
  if (in_flight_) return;
  if (scheduled_) {
    if (holding_ && !worth_holding()) hold_.cancel();  // full, or a read waits
    return;
  }
  scheduled_ = true;
  hold_or_post();
}

bool GroupCommit::worth_holding() const {
  const size_t steps = pending_.steps;
  const bool busy = last_steps_ + steps >= delay_.siblings;
  // Under a steady load the writers of the last batch come back next: once
  // as many steps are here, waiting longer only adds latency.
  const size_t expected = std::min(delay_.max_steps, std::max(last_steps_, delay_.siblings));
  return delay_.delay.count() > 0 && reads_.empty() && !pending_.changes.empty() && busy &&
         steps < expected;
}

void GroupCommit::hold_or_post() {
  const auto until = pending_since_ + delay_.delay;
  if (worth_holding() && std::chrono::steady_clock::now() < until) {
    holding_ = true;
    hold_.expires_at(until);
    // Cancelled (full, or a read waits) or expired: either way, cut it now.
    hold_.async_wait([this](boost::system::error_code) {
      holding_ = false;
      scheduled_ = false;
      if (!in_flight_) flush();
    });
    return;
  }
  // Cut the batch after the handlers that are ready now have added theirs:
  // under load batches grow without a timer; an idle loop writes at once.
  asio::post(loop_, [this] {
    scheduled_ = false;
    if (!in_flight_) flush();
  });
}

void GroupCommit::flush() {
  if (!reads_.empty()) {
    run_read();
    return;
  }
  if (pending_.changes.empty() && pending_.after.empty()) return;
  auto batch = std::make_shared<Batch>(std::move(pending_));
  pending_ = {};
  last_steps_ = batch->steps;
  in_flight_ = true;
  if (batch->changes.empty()) {  // only callbacks waiting behind an earlier write
    asio::post(loop_, [this, batch] { done(std::move(*batch), {}); });
    return;
  }
  write_since_ = std::chrono::steady_clock::now();
  installing_ = std::any_of(batch->changes.begin(), batch->changes.end(), [](const auto& c) {
    return std::holds_alternative<storage::change::ReplaceState>(c);
  });
  asio::post(disk_, [this, batch] {
    auto status = store_.write_replica(batch->changes);
    asio::post(loop_, [this, batch, status] { done(std::move(*batch), status); });
  });
}

std::chrono::steady_clock::duration GroupCommit::write_waiting(
    std::chrono::steady_clock::time_point now) const {
  return write_since_ ? now - *write_since_ : std::chrono::steady_clock::duration::zero();
}

std::chrono::steady_clock::duration GroupCommit::commit_waiting(
    std::chrono::steady_clock::time_point now) const {
  return installing_ ? std::chrono::steady_clock::duration::zero() : write_waiting(now);
}

void GroupCommit::done(Batch batch, const storage::StoreStatus& status) {
  in_flight_ = false;
  if (write_since_ && write_observer_ && !installing_) {
    write_observer_(std::chrono::steady_clock::now() - *write_since_);
  }
  write_since_.reset();
  installing_ = false;
  if (!status.ok) {
    on_failure_("storage write failed: " + status.message);
    return;
  }
  ++writes_;
  changes_written_ += batch.changes.size();
  steps_written_ += batch.steps;
  if (!status.refused.empty() && on_refused_) on_refused_(status.refused);
  for (auto& after : batch.after) after();
  if (!reads_.empty() || !pending_.changes.empty() || !pending_.after.empty()) schedule();
}

}  // namespace partid::replication
