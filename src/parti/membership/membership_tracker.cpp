#include "parti/membership/membership_tracker.h"

#include <spdlog/spdlog.h>

namespace parti {

MembershipTracker::MembershipTracker(asio::any_io_executor loop, asio::thread_pool& pool,
                                     std::shared_ptr<coord::KvBucket> bucket,
                                     const Timings& timings, OnChange on_change)
    : bucket_(bucket),
      timings_(timings),
      on_change_(std::move(on_change)),
      view_(timings.heartbeat_ttl),
      keys_(loop, pool, bucket, ">", timings.poll_interval, [b = bucket] { return b->entries(); },
            {[this](const coord::KvEntry& e) { on_entry(e); },
             [this](const coord::KvSnapshot& all) { on_snapshot(all); }}),
      deadline_timer_(loop),
      debounce_timer_(loop) {}

MembershipTracker::~MembershipTracker() { stop(); }

// The watch covers the whole bucket: it must deliver its last revision.
// Every member heartbeats within a TTL, so a watch stuck for two is found.
void MembershipTracker::start() {
  keys_.audit_every(2 * timings_.heartbeat_ttl, [b = bucket_] { return b->last_revision(); });
  keys_.start();
}

void MembershipTracker::stop() {
  if (stopped_) return;
  stopped_ = true;
  keys_.stop();
  alive_.reset();
  deadline_timer_.cancel();
  debounce_timer_.cancel();
}

void MembershipTracker::on_entry(const coord::KvEntry& entry) {
  const auto now = Clock::now();
  if (entry.deleted) {
    emit(view_.on_delete(entry.key, entry.revision, now));
  } else {
    std::string why;
    auto record = decode_node_record(entry.value, &why);
    if (record && record->id == entry.key) {
      emit(view_.on_put(*record, entry.revision, now));
    } else {
      spdlog::warn("ignoring malformed node record under '{}': {}", entry.key, why);
    }
  }
  arm_deadline();
}

void MembershipTracker::on_snapshot(const coord::KvSnapshot& all) {
  std::vector<std::pair<NodeRecord, uint64_t>> snapshot;
  for (const auto& e : all.entries) {
    if (auto r = decode_node_record(e.value, nullptr); r && r->id == e.key) {
      snapshot.emplace_back(std::move(*r), e.revision);
    }
  }
  emit(view_.on_snapshot(snapshot, all.as_of, Clock::now(), all.deleted_by));
  arm_deadline();
}

void MembershipTracker::arm_deadline() {
  auto next = view_.next_deadline();
  if (!next) {
    deadline_timer_.cancel();
    return;
  }
  deadline_timer_.expires_at(*next);
  deadline_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || !alive.lock() || stopped_) return;
        emit(view_.on_tick(Clock::now()));
        arm_deadline();
      });
}

void MembershipTracker::emit(std::vector<MemberEvent> events) {
  if (events.empty()) return;
  pending_.insert(pending_.end(), events.begin(), events.end());
  if (debounce_armed_) return;  // coalesced into the delivery at the window's end
  flush();
  debounce_armed_ = true;
  debounce_timer_.expires_after(timings_.watch_debounce);
  debounce_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (!alive.lock()) return;
        debounce_armed_ = false;
        if (!ec && !pending_.empty()) flush();
      });
}

void MembershipTracker::flush() {
  auto events = std::move(pending_);
  pending_.clear();
  ++deliveries_;
  on_change_(events);
}

}  // namespace parti
