#include "parti/assignment/calculator.h"

#include <algorithm>

#include "parti/assignment/staging.h"

namespace parti {

const char* to_string(CalcState s) {
  switch (s) {
    case CalcState::Idle:
      return "Idle";
    case CalcState::Scaling:
      return "Scaling";
    case CalcState::Rebalancing:
      return "Rebalancing";
    case CalcState::Emergency:
      return "Emergency";
  }
  return "?";
}

const char* to_string(RebalanceReason r) {
  switch (r) {
    case RebalanceReason::None:
      return "none";
    case RebalanceReason::ColdStart:
      return "cold-start";
    case RebalanceReason::Restart:
      return "restart";
    case RebalanceReason::PlannedScale:
      return "planned-scale";
    case RebalanceReason::Emergency:
      return "emergency";
    case RebalanceReason::PartitionsChanged:
      return "partitions-changed";
    case RebalanceReason::LeaderBalance:
      return "leader-balance";
    case RebalanceReason::StagedMove:
      return "staged-move";
  }
  return "?";
}

bool is_planned(RebalanceReason why) {
  return why == RebalanceReason::PlannedScale || why == RebalanceReason::LeaderBalance ||
         why == RebalanceReason::PartitionsChanged || why == RebalanceReason::StagedMove;
}

Calculator::Calculator(CalculatorConfig config, const Strategy& strategy)
    : config_(config), strategy_(strategy) {}

void Calculator::begin(Assignment published, std::vector<Partition> partitions, TimePoint now) {
  published_ = std::move(published);
  partitions_ = std::move(partitions);
  state_ = CalcState::Idle;
  reason_ = RebalanceReason::None;
  deadline_.reset();
  if (published_.interim) {
    // The previous coordinator was between two steps of a staged move: go on.
    state_ = CalcState::Rebalancing;
    reason_ = RebalanceReason::StagedMove;
    deadline_ = now + config_.cooldown;
  }
  awaiting_publish_ = false;
  leaders_waiting_ = false;
  workers_seen_ = false;
  held_since_.reset();
  absent_since_.clear();
  avoiders_computed_.reset();
}

CalcOutput Calculator::on_workers(std::vector<WorkerInfo> active, TimePoint now,
                                  std::set<std::string> left_cleanly) {
  std::sort(active.begin(), active.end(), [](auto& a, auto& b) { return a.id < b.id; });
  observed_ = std::move(active);
  workers_seen_ = true;
  left_cleanly_ = std::move(left_cleanly);
  return evaluate(now);
}

CalcOutput Calculator::on_partitions(std::vector<Partition> partitions, TimePoint now,
                                     bool bypass_cooldown) {
  partitions_ = std::move(partitions);
  bypass_cooldown_ = bypass_cooldown_ || bypass_cooldown;
  return evaluate(now);
}

bool Calculator::workers_match_published() const {
  if (observed_.size() != published_.workers.size()) return false;
  for (size_t i = 0; i < observed_.size(); ++i) {
    if (observed_[i].id != published_.workers[i]) return false;
  }
  return true;
}

bool Calculator::data_moving() const {
  return std::any_of(observed_.begin(), observed_.end(),
                     [](const WorkerInfo& w) { return w.moving_data; });
}

std::set<std::string> Calculator::lost_workers() const {
  std::set<std::string> lost(published_.workers.begin(), published_.workers.end());
  for (const auto& w : observed_) lost.erase(w.id);
  return lost;
}

std::set<std::string> Calculator::avoiding_leading() const {
  std::set<std::string> out;
  for (const auto& w : observed_) {
    if (w.avoid_leading) out.insert(w.id);
  }
  return out;
}

bool Calculator::avoiders_changed() const {
  const auto now_avoiding = avoiding_leading();
  return avoiders_computed_ ? now_avoiding != *avoiders_computed_ : !now_avoiding.empty();
}

TimePoint Calculator::after_rejoin_window(TimePoint t, const std::set<std::string>& lost) const {
  const bool unheard = std::any_of(lost.begin(), lost.end(), [this](const std::string& id) {
    return !left_cleanly_.contains(id);
  });
  return listening_since_ && unheard ? std::max(t, *listening_since_ + config_.rejoin_window) : t;
}

CalcOutput Calculator::on_hearing(std::optional<TimePoint> since, TimePoint now) {
  deaf_ = !since;
  if (deaf_) return {};
  listening_since_ = since;
  return evaluate(now);
}

CalcOutput Calculator::enter(CalcState s, RebalanceReason why, std::optional<TimePoint> deadline) {
  CalcOutput out;
  out.state_changed = s != state_;
  if (s == CalcState::Idle) held_since_.reset();
  state_ = s;
  reason_ = why;
  deadline_ = deadline;
  return out;
}

bool Calculator::waiting_for_input() const { return awaiting_publish_ || deaf_ || !workers_seen_; }

CalcOutput Calculator::evaluate(TimePoint now) {
  // Re-evaluated once the publish settles, once NATS is heard again, or once
  // the workers are seen. A coordinator just begun that took "no worker seen
  // yet" for "no workers" would drop the staged move it found under way, and
  // leave the cluster on an interim step until a worker came or went.
  if (waiting_for_input()) return {};
  if (observed_.empty()) return enter(CalcState::Idle, RebalanceReason::None, std::nullopt);

  if (published_.empty()) {
    if (state_ == CalcState::Scaling) return {};  // the cold-start window runs from first sight
    return enter(CalcState::Scaling, RebalanceReason::ColdStart, now + config_.cold_start_window);
  }

  const auto lost = lost_workers();
  for (auto it = absent_since_.begin(); it != absent_since_.end();) {
    it = lost.count(it->first) ? std::next(it) : absent_since_.erase(it);
  }
  for (const auto& id : lost) absent_since_.try_emplace(id, now);

  if (!lost.empty()) {
    const double ratio = double(lost.size()) / double(published_.workers.size());
    if (ratio >= config_.restart_ratio && published_.workers.size() > 1) {
      if (state_ == CalcState::Scaling && reason_ == RebalanceReason::Restart) {
        deadline_ = after_rejoin_window(deadline_.value_or(now), lost);  // NATS may be back since
        return {};
      }
      return enter(CalcState::Scaling, RebalanceReason::Restart,
                   after_rejoin_window(now + config_.cold_start_window, lost));
    }
    TimePoint first_absent = now;
    for (const auto& [id, since] : absent_since_) first_absent = std::min(first_absent, since);
    // Hysteresis: stay where we are until the absence outlives the grace period.
    deadline_ = after_rejoin_window(first_absent + config_.emergency_grace, lost);
    if (now >= *deadline_) return compute(now, RebalanceReason::Emergency);
    return {};
  }

  // A rebalance the guard held back goes as soon as nothing moves any more.
  if (held_since_ && !data_moving()) return compute(now, reason_);

  if (!workers_match_published()) {
    if (state_ == CalcState::Scaling) return {};  // window already running
    return enter(CalcState::Scaling, RebalanceReason::PlannedScale,
                 now + config_.planned_scale_window);
  }

  if (partitions_ != published_.partitions) {
    return enter(CalcState::Rebalancing, RebalanceReason::PartitionsChanged, now);
  }
  if (reason_ == RebalanceReason::LeaderBalance || reason_ == RebalanceReason::StagedMove) {
    return {};  // waiting out the cooldown
  }
  if (avoiders_changed()) return enter(CalcState::Rebalancing, RebalanceReason::LeaderBalance, now);
  return enter(CalcState::Idle, RebalanceReason::None, std::nullopt);
}

CalcOutput Calculator::on_timer(TimePoint now) {
  if (!deadline_ || now < *deadline_ || waiting_for_input()) return {};
  if (!absent_since_.empty() && state_ != CalcState::Scaling) {
    return compute(now, RebalanceReason::Emergency);
  }
  if (state_ == CalcState::Idle) {
    deadline_.reset();
    return evaluate(now);
  }
  return compute(now, reason_);
}

CalcOutput Calculator::compute(TimePoint now, RebalanceReason why) {
  const bool urgent = why == RebalanceReason::Emergency || bypass_cooldown_;
  if (!urgent && last_publish_ && now < *last_publish_ + config_.cooldown) {
    CalcOutput out = enter(state_, why, *last_publish_ + config_.cooldown);
    return out;
  }
  if (auto held = hold(now, why)) return *held;
  held_since_.reset();
  const CalcState target =
      why == RebalanceReason::Emergency ? CalcState::Emergency : CalcState::Rebalancing;
  CalcOutput out = enter(target, why, std::nullopt);
  avoiders_computed_ = avoiding_leading();
  Assignment next = build_assignment(strategy_, observed_, partitions_, config_.replication_factor,
                                     &published_, published_.version + 1);
  staged_ = config_.staged_moves && is_planned(why) && stage_moves(next, published_);
  const bool leaders_held =
      config_.staged_moves && keep_leaders_with_data(next, published_, observed_);
  staged_ = staged_ || leaders_held;
  const bool unchanged = next.workers == published_.workers &&
                         next.partitions == published_.partitions &&
                         next.replicas == published_.replicas;
  if (unchanged) staged_ = false;  // a step that moves nothing is no step
  if (unchanged && leaders_held && published_.interim) {
    // The step out there still keeps leaderships off a replica taking its
    // data in: nothing to publish yet; look again a cooldown later.
    CalcOutput wait =
        enter(CalcState::Rebalancing, RebalanceReason::StagedMove, now + config_.cooldown);
    if (!leaders_waiting_) wait.leaders_wait_for = importing_workers();
    leaders_waiting_ = true;
    return wait;
  }
  next.interim = staged_;
  // Nothing would change, unless what is published says more steps follow:
  // then it is published once more as final, or readers would wait for a
  // step that never comes.
  if (unchanged && !published_.interim) {
    // Nothing would change: do not burn a version or wake every worker.
    bypass_cooldown_ = false;
    staged_ = false;
    absent_since_.clear();
    CalcOutput idle = enter(CalcState::Idle, RebalanceReason::None, std::nullopt);
    idle.state_changed = idle.state_changed || out.state_changed;
    return idle;
  }
  awaiting_publish_ = true;
  out.publish = std::move(next);
  return out;
}

std::vector<std::string> Calculator::importing_workers() const {
  std::vector<std::string> ids;
  for (const auto& w : observed_) {
    if (!w.importing.empty()) ids.push_back(w.id);
  }
  return ids;
}

std::optional<CalcOutput> Calculator::hold(TimePoint now, RebalanceReason why) {
  if (!is_planned(why) || bypass_cooldown_ || config_.resize_hold_max.count() == 0 ||
      !data_moving()) {
    return std::nullopt;
  }
  const bool first = !held_since_;
  if (first) held_since_ = now;
  const TimePoint give_up = *held_since_ + config_.resize_hold_max;
  if (now >= give_up) return std::nullopt;  // something stays busy: go anyway
  CalcOutput out = enter(state_, why, give_up);
  if (first) {
    for (const auto& w : observed_) {
      if (w.moving_data) out.held_by.push_back(w.id);
    }
  }
  return out;
}

CalcOutput Calculator::on_published(const Assignment& published, TimePoint now) {
  const bool after_emergency = reason_ == RebalanceReason::Emergency;
  published_ = published;
  last_publish_ = now;
  awaiting_publish_ = false;
  leaders_waiting_ = false;
  bypass_cooldown_ = false;
  absent_since_.clear();
  // A step short of the placement, or an emergency's survival-first
  // leaders: one more planned rebalance follows once the cooldown has passed.
  const bool follow_up = staged_ || after_emergency;
  const RebalanceReason next_reason =
      staged_ ? RebalanceReason::StagedMove : RebalanceReason::LeaderBalance;
  staged_ = false;
  CalcOutput out = follow_up ? enter(CalcState::Rebalancing, next_reason, now + config_.cooldown)
                             : enter(CalcState::Idle, RebalanceReason::None, std::nullopt);
  CalcOutput next = evaluate(now);
  next.state_changed = next.state_changed || out.state_changed;
  return next;
}

CalcOutput Calculator::on_publish_failed(TimePoint now) {
  awaiting_publish_ = false;
  deadline_ = now + config_.publish_retry;
  return {};
}

}  // namespace parti
