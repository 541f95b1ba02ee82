#include "parti/identity/stable_id.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "parti/core/types.h"

namespace parti {

using coord::KvErrc;
using coord::KvStatus;

StableIdClaimer::StableIdClaimer(std::shared_ptr<coord::KvBucket> bucket, std::string prefix,
                                 uint32_t max_ids, std::string instance)
    : bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      max_ids_(max_ids),
      instance_(std::move(instance)) {}

std::string StableIdClaimer::claim_value() const {
  return nlohmann::json{{"instance", instance_}, {"at_ms", wall_clock_ms()}}.dump();
}

KvStatus StableIdClaimer::try_create(const std::string& key) {
  auto r = bucket_->create(key, claim_value());
  if (r.ok()) {
    id_ = key;
    revision_ = r.value;
    mark_used();
  }
  return r.status;
}

void StableIdClaimer::mark_used() {
  // claim_unused marks before it claims; this covers the other ways to an ID
  // (a preferred one, a takeover), which matter for IDs from before
  // never_reuse. A mark that is already there is the usual case.
  if (history_) history_->create(used_key(id_), claim_value());
}

KvStatus StableIdClaimer::claim(const std::string& preferred) {
  if (!preferred.empty()) {
    auto st = try_create(preferred);
    if (st.code != KvErrc::Exists) return st;  // claimed, or a real error
  }
  if (history_) return claim_unused();
  // One listing first, so a fleet starting at once does not probe every taken
  // ID with a Create each (that is O(N^2) requests for N workers).
  auto taken_keys = bucket_->keys();
  if (!taken_keys.ok()) return taken_keys.status;
  const std::set<std::string> taken(taken_keys.value.begin(), taken_keys.value.end());
  for (uint32_t n = 0; n < max_ids_; ++n) {
    std::string key = prefix_ + "-" + std::to_string(n);
    if (taken.count(key)) continue;
    auto st = try_create(key);
    if (st.code != KvErrc::Exists) return st;
  }
  return {KvErrc::Exists, "all " + std::to_string(max_ids_) + " worker IDs are taken"};
}

uint32_t StableIdClaimer::next_after(const std::vector<std::string>& keys,
                                     const std::string& key_prefix) const {
  const std::string start = key_prefix + prefix_ + "-";
  uint32_t next = 0;
  for (const auto& key : keys) {
    if (key.rfind(start, 0) != 0) continue;
    const std::string digits = key.substr(start.size());
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;  // not one of ours (stoul below must not throw)
    }
    next = std::max<uint32_t>(next, static_cast<uint32_t>(std::stoul(digits)) + 1);
  }
  return next;
}

KvStatus StableIdClaimer::claim_unused() {
  auto used = history_->keys();
  if (!used.ok()) return used.status;
  auto held = bucket_->keys();  // IDs held from before never_reuse
  if (!held.ok()) return held.status;
  // Above every used ID rather than the lowest unused one: a gap below is an
  // ID that a process may have marked and not yet claimed.
  for (uint32_t n = std::max(next_after(used.value, used_key("")), next_after(held.value, ""));
       n < max_ids_; ++n) {
    const std::string key = prefix_ + "-" + std::to_string(n);
    auto marked = history_->create(used_key(key), claim_value());
    if (marked.status.code == KvErrc::Exists) continue;  // another process got there first
    if (!marked.ok()) return marked.status;
    auto st = try_create(key);
    if (st.code != KvErrc::Exists) return st;
  }
  return {KvErrc::Exists, "all " + std::to_string(max_ids_) + " worker IDs have been used"};
}

std::string StableIdClaimer::instance_of(const std::string& claim) {
  auto j = nlohmann::json::parse(claim, nullptr, false);
  if (!j.is_object() || !j.contains("instance") || !j["instance"].is_string()) return {};
  return j["instance"].get<std::string>();
}

bool StableIdClaimer::still_ours() {
  auto current = bucket_->get(id_);
  if (!current.ok() || instance_of(current.value.value) != instance_) return false;
  revision_ = current.value.revision;
  return true;
}

KvStatus StableIdClaimer::reclaim(const std::string& id, const std::string& previous_instance,
                                  bool* took_over) {
  *took_over = false;
  auto st = claim_exactly(id);
  if (st.code != KvErrc::Exists || previous_instance.empty()) return st;
  st = take_over(id, previous_instance);
  if (st.code == KvErrc::NotFound) return claim_exactly(id);  // lapsed meanwhile
  *took_over = st.ok();
  return st;
}

KvStatus StableIdClaimer::take_over(const std::string& id, const std::string& previous_instance) {
  auto current = bucket_->get(id);
  if (!current.ok()) return current.status;
  if (previous_instance.empty() || instance_of(current.value.value) != previous_instance) {
    return {KvErrc::Exists, id + " is held by another process"};
  }
  auto r = bucket_->update(id, claim_value(), current.value.revision);
  if (r.status.code == KvErrc::WrongRevision) return {KvErrc::Exists, id + " changed hands"};
  if (!r.ok()) return r.status;
  id_ = id;
  revision_ = r.value;
  mark_used();
  return {};
}

KvStatus StableIdClaimer::renew() {
  if (id_.empty()) return {KvErrc::NotFound, "no ID held"};
  auto r = bucket_->update(id_, claim_value(), revision_);
  // A renewal that timed out may still have landed, leaving us a stale
  // revision: the claim is still ours if it carries our instance.
  if (r.status.code == KvErrc::WrongRevision && still_ours()) {
    r = bucket_->update(id_, claim_value(), revision_);
  }
  if (r.ok()) {
    revision_ = r.value;
    return {};
  }
  if (!r.status.transient()) {
    id_.clear();
    revision_ = 0;
  }
  return r.status;
}

KvStatus StableIdClaimer::release() {
  if (id_.empty()) return {};
  KvStatus s = bucket_->erase_if_revision(id_, revision_);
  id_.clear();
  revision_ = 0;
  return s;
}

}  // namespace parti
