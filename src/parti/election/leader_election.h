// election: one leader per cluster through a TTL'd key. Acquire is Create (so
// only one process wins while the key lives); renewal is CAS on our last
// revision; the term is the creation revision, which grows with every new
// leader. Release deletes the key only if it is still ours. A lease whose
// holder the caller knows to be dead (its heartbeat expired) may be taken
// over before it expires: the key is deleted only at the revision read, so a
// holder that renewed meanwhile keeps it. Blocking calls.
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
  LeaderElection(std::shared_ptr<coord::KvBucket> bucket, std::string self_id,
                 std::string instance);

  // Ok when we became leader; Exists when someone else holds the lease.
  // A lease held by one of `departed` (ids whose heartbeats expired) is
  // taken over rather than waited out: a crashed leader then costs a
  // heartbeat TTL, not an election TTL.
  coord::KvStatus try_acquire(const std::set<std::string>& departed = {});
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
  std::string self_id_;
  std::string instance_;
  uint64_t term_ = 0;
  uint64_t revision_ = 0;
};

}  // namespace parti
