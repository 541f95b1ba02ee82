// membership: the sans-I/O view of who is alive, built from heartbeat-bucket
// events. A Delete is a clean leave, seen at once; no Put within the heartbeat
// TTL makes a member Disconnected (one deadline per member, surfaced through
// next_deadline()). Watch events and polling snapshots may both arrive for the
// same change: revisions make every event idempotent, so they never double count.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/core/node_record.h"
#include "parti/core/types.h"

namespace parti {

struct MemberEvent {
  enum class Kind { Joined, Updated, Left, Disconnected } kind;
  std::string id;
  friend bool operator==(const MemberEvent&, const MemberEvent&) = default;
};

const char* to_string(MemberEvent::Kind k);

class MembershipView {
 public:
  explicit MembershipView(Millis ttl) : ttl_(ttl) {}

  std::vector<MemberEvent> on_put(const NodeRecord& record, uint64_t revision, TimePoint now);
  std::vector<MemberEvent> on_delete(const std::string& id, uint64_t revision, TimePoint now);
  // A full listing (polling fallback): members absent from it have left.
  // `as_of` is the listing's watermark: a put at or below it for a member the
  // listing lacks is stale, even if a lagging watch delivers it later. The
  // listing's keys are read after it was taken, so a key deleted meanwhile
  // is absent although its delete is above `as_of`: `deleted_by` (>= as_of,
  // read after the keys; 0: as_of) bounds those deletes, and a put below it
  // is stale too. A member put after `as_of` is kept: the listing predates it.
  std::vector<MemberEvent> on_snapshot(const std::vector<std::pair<NodeRecord, uint64_t>>& all,
                                       uint64_t as_of, TimePoint now, uint64_t deleted_by = 0);
  std::vector<MemberEvent> on_tick(TimePoint now);

  std::optional<TimePoint> next_deadline() const;
  // Members that are alive and not leaving, sorted by id.
  std::vector<WorkerInfo> active_workers() const;
  std::vector<NodeRecord> records() const;
  const NodeRecord* find(const std::string& id) const;
  // Ids seen alive that have since left or stopped heartbeating (and not
  // come back).
  std::set<std::string> departed() const;
  // Of those, the ones whose Delete this view saw (a clean leave): heard to
  // go, unlike a lapsed record, which may be a worker this view cannot hear.
  const std::set<std::string>& left_cleanly() const { return left_cleanly_; }
  size_t size() const { return members_.size(); }

 private:
  struct Member {
    NodeRecord record;
    uint64_t revision = 0;
    TimePoint last_seen;
  };
  bool is_stale(const std::string& id, uint64_t revision) const;
  std::vector<MemberEvent> remove(const std::string& id, uint64_t revision, MemberEvent::Kind why);

  Millis ttl_;
  std::map<std::string, Member> members_;
  std::map<std::string, uint64_t> departed_;  // id -> revision at departure
  std::set<std::string> left_cleanly_;
};

}  // namespace parti
