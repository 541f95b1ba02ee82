#include "parti/election/leader_election.h"

#include <nlohmann/json.hpp>

namespace parti {

using coord::KvErrc;
using coord::KvStatus;
static const std::string kLeaderKey = "leader";

LeaderElection::LeaderElection(std::shared_ptr<coord::KvBucket> bucket, std::string self_id,
                               std::string instance, std::shared_ptr<coord::KvBucket> heartbeats)
    : bucket_(std::move(bucket)),
      heartbeats_(std::move(heartbeats)),
      self_id_(std::move(self_id)),
      instance_(std::move(instance)) {}

std::string LeaderElection::value() const {
  return nlohmann::json{{"id", self_id_}, {"instance", instance_}, {"term", term_}}.dump();
}

bool LeaderElection::take_over(const std::set<std::string>& departed) {
  if (departed.empty() || !heartbeats_) return false;
  auto held = bucket_->get(kLeaderKey);
  if (!held.ok()) return held.status.code == KvErrc::NotFound;  // gone meanwhile: campaign
  std::string holder;
  try {
    holder = nlohmann::json::parse(held.value.value).at("id").get<std::string>();
  } catch (const std::exception&) {
    return false;  // unreadable: leave it to its TTL
  }
  if (!departed.contains(holder)) return false;
  // Our own view may just lag; the server's TTL is the authority.
  if (heartbeats_->get(holder).status.code != KvErrc::NotFound) {
    holder_departing_ = true;
    return false;
  }
  return bucket_->erase_if_revision(kLeaderKey, held.value.revision).ok();
}

KvStatus LeaderElection::try_acquire(const std::set<std::string>& departed) {
  holder_departing_ = false;
  auto r = bucket_->create(kLeaderKey, value());
  if (r.status.code == KvErrc::Exists && take_over(departed)) {
    r = bucket_->create(kLeaderKey, value());
  }
  if (!r.ok()) return r.status;
  term_ = r.value;
  revision_ = r.value;
  // Rewrite once so the stored value names the term (the creation revision).
  auto u = bucket_->update(kLeaderKey, value(), revision_);
  if (u.ok()) revision_ = u.value;
  return {};
}

KvStatus LeaderElection::renew() {
  if (!is_leader()) return {KvErrc::NotFound, "not leader"};
  auto r = bucket_->update(kLeaderKey, value(), revision_);
  if (r.status.code == KvErrc::WrongRevision) {
    // A renewal that timed out may still have landed: the lease is still ours
    // if the key names our instance and term.
    auto current = bucket_->get(kLeaderKey);
    auto info = current.ok() ? current.value.value : std::string();
    try {
      auto j = nlohmann::json::parse(info);
      if (j.at("instance") == instance_ && j.at("term") == term_) {
        revision_ = current.value.revision;
        r = bucket_->update(kLeaderKey, value(), revision_);
      }
    } catch (const std::exception&) {
      // not ours (or unreadable): leadership is lost
    }
  }
  if (r.ok()) {
    revision_ = r.value;
    return {};
  }
  if (!r.status.transient()) term_ = revision_ = 0;
  return r.status;
}

KvStatus LeaderElection::release() {
  if (!is_leader()) return {};
  KvStatus s = bucket_->erase_if_revision(kLeaderKey, revision_);
  term_ = revision_ = 0;
  return s;
}

coord::KvResult<LeaderInfo> LeaderElection::current() const {
  auto r = bucket_->get(kLeaderKey);
  if (!r.ok()) return {r.status, {}};
  try {
    auto j = nlohmann::json::parse(r.value.value);
    return {{},
            {j.at("id").get<std::string>(), j.at("instance").get<std::string>(),
             j.at("term").get<uint64_t>()}};
  } catch (const std::exception& e) {
    return {{KvErrc::Other, std::string("bad leader record: ") + e.what()}, {}};
  }
}

}  // namespace parti
