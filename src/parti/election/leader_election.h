// election: one leader per cluster through a TTL'd key. Acquire is Create (so
// only one process wins while the key lives); renewal is CAS on our last
// revision; the term is the creation revision, which grows with every new
// leader. Release deletes the key only if it is still ours. A lease whose
// holder is dead may be taken over before it expires: the caller names the
// ids it believes departed, and the takeover happens only if the holder's
// heartbeat key is gone from the server too (so an observer that merely
// lagged behind the heartbeats takes nothing), and deletes the lease only at
// the revision read (so a holder that renewed meanwhile keeps it). Blocking.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "parti/coord/kv_bucket.h"

namespace parti {

struct LeaderInfo {
  std::string id;
  std::string instance;
  uint64_t term = 0;
};

class LeaderElection {
 public:
  // `heartbeats`: the bucket of members' heartbeat keys (TTL'd by the
  // server); without it no lease is ever taken over.
  LeaderElection(std::shared_ptr<coord::KvBucket> bucket, std::string self_id, std::string instance,
                 std::shared_ptr<coord::KvBucket> heartbeats = nullptr);

  // Ok when we became leader; Exists when someone else holds the lease.
  // A lease held by one of `departed` (ids whose heartbeats this caller saw
  // expire) whose heartbeat key the server no longer holds is taken over
  // rather than waited out: a crashed leader then costs a heartbeat TTL, not
  // an election TTL.
  coord::KvStatus try_acquire(const std::set<std::string>& departed = {});
  // After a try_acquire that returned Exists: true when the lease's holder is
  // one of `departed` but the server still held its heartbeat key. Our own
  // expiry timer can fire before the server's, and the server's expiry
  // announces nothing about an id we already dropped, so the caller should
  // ask again soon rather than at its usual pace.
  bool holder_departing() const { return holder_departing_; }
  // Non-transient failure means leadership is lost.
  coord::KvStatus renew();
  coord::KvStatus release();
  // Who holds the lease now (NotFound when nobody).
  coord::KvResult<LeaderInfo> current() const;

  bool is_leader() const { return term_ != 0; }
  uint64_t term() const { return term_; }
  void set_self_id(std::string id) { self_id_ = std::move(id); }

 private:
  std::string value() const;
  // Deletes the lease if it is still the one read and names a departed id.
  bool take_over(const std::set<std::string>& departed);
  std::shared_ptr<coord::KvBucket> bucket_;
  std::shared_ptr<coord::KvBucket> heartbeats_;
  std::string self_id_;
  std::string instance_;
  uint64_t term_ = 0;
  uint64_t revision_ = 0;
  bool holder_departing_ = false;
};

}  // namespace parti
