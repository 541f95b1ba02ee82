#include "partid/replication/group_commit.h"

namespace partid::replication {

GroupCommit::GroupCommit(asio::any_io_executor loop, asio::thread_pool& disk, Write write,
                         OnFailure on_failure, OnRefused on_refused, CommitDelay delay)
    : loop_(std::move(loop)),
      disk_(disk),
      write_(std::move(write)),
      on_failure_(std::move(on_failure)),
      on_refused_(std::move(on_refused)),
      delay_(delay),
      hold_(loop_) {}

void GroupCommit::add(uint32_t partition, std::vector<storage::ReplicaChange> changes,
                      After after) {
  if (installs_.holds(partition)) {
    installs_.park({partition, std::move(changes), std::move(after)});
    return;
  }
  if (installs_snapshot(changes)) {
    // Durable first: whatever was added before, the pending batch included.
    const bool pending = !pending_.changes.empty() || !pending_.after.empty();
    installs_.queue({partition, std::move(changes), std::move(after)},
                    batches_cut_ + (pending ? 1 : 0), std::chrono::steady_clock::now());
    start_install();
    return;
  }
  add_to_batch(std::move(changes), std::move(after));
}

void GroupCommit::add_to_batch(std::vector<storage::ReplicaChange> changes, After after) {
  if (changes.empty() && batches_idle()) {
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
  reading_ = true;
  asio::post(disk_, [this, read] {
    read->job();
    asio::post(loop_, [this, read] {
      in_flight_ = false;
      reading_ = false;
      if (read->done) read->done();
      next();
    });
  });
}

void GroupCommit::next() {
  start_install();
  if (!reads_.empty() || !pending_.changes.empty() || !pending_.after.empty()) schedule();
}

void GroupCommit::start_install() {
  // A read waiting goes first: it needs both writers still.
  if (!reads_.empty() || reading_) return;
  auto install = installs_.start(batches_done_, std::chrono::steady_clock::now());
  if (!install) return;
  asio::post(disk_, [this, install] {
    auto status = write_(install->changes);
    asio::post(loop_, [this, status] { install_done(status); });
  });
}

void GroupCommit::install_done(const storage::StoreStatus& status) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto waited = duration_cast<milliseconds>(installs_.waited());
  const auto took =
      duration_cast<milliseconds>(std::chrono::steady_clock::now() - installs_.writing_since());
  auto steps = installs_.finish();
  if (!written(status, steps.front().changes.size(), 1)) return;
  if (install_observer_) install_observer_(steps.front().partition, waited, took);
  if (steps.front().after) steps.front().after();
  // The partition's steps that waited for it, in their order; one that
  // installs again is queued again, and those after it park behind it.
  for (size_t i = 1; i < steps.size(); ++i) {
    add(steps[i].partition, std::move(steps[i].changes), std::move(steps[i].after));
  }
  next();
}

bool GroupCommit::written(const storage::StoreStatus& status, size_t changes, size_t steps) {
  if (!status.ok) {
    on_failure_("storage write failed: " + status.message);
    return false;
  }
  ++writes_;
  changes_written_ += changes;
  steps_written_ += steps;
  if (!status.refused.empty() && on_refused_) on_refused_(status.refused);
  return true;
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
  // While an install is written a read waits for it, and the batches go on.
  if (!reads_.empty() && !installs_.writing()) {
    run_read();
    return;
  }
  if (pending_.changes.empty() && pending_.after.empty()) return;
  auto batch = std::make_shared<Batch>(std::move(pending_));
  pending_ = {};
  last_steps_ = batch->steps;
  in_flight_ = true;
  ++batches_cut_;
  if (batch->changes.empty()) {  // only callbacks waiting behind an earlier write
    asio::post(loop_, [this, batch] { done(std::move(*batch), {}); });
    return;
  }
  write_since_ = std::chrono::steady_clock::now();
  asio::post(disk_, [this, batch] {
    auto status = write_(batch->changes);
    asio::post(loop_, [this, batch, status] { done(std::move(*batch), status); });
  });
}

std::chrono::steady_clock::duration GroupCommit::write_waiting(
    std::chrono::steady_clock::time_point now) const {
  std::optional<std::chrono::steady_clock::time_point> oldest = write_since_;
  if (installs_.writing() && (!oldest || installs_.writing_since() < *oldest)) {
    oldest = installs_.writing_since();
  }
  return oldest ? now - *oldest : std::chrono::steady_clock::duration::zero();
}

std::chrono::steady_clock::duration GroupCommit::commit_waiting(
    std::chrono::steady_clock::time_point now) const {
  return write_since_ ? now - *write_since_ : std::chrono::steady_clock::duration::zero();
}

void GroupCommit::done(Batch batch, const storage::StoreStatus& status) {
  in_flight_ = false;
  if (write_since_ && write_observer_) {
    write_observer_(std::chrono::steady_clock::now() - *write_since_);
  }
  write_since_.reset();
  if (!written(status, batch.changes.size(), batch.steps)) return;
  for (auto& after : batch.after) after();
  ++batches_done_;
  next();
}

}  // namespace partid::replication
