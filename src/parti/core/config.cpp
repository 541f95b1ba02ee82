#include "parti/core/config.h"

#include <fmt/format.h>

namespace parti {

std::vector<std::string> validate(const Config& c) {
  std::vector<std::string> errors;
  const Timings& t = c.timings;
  auto need = [&](bool ok, std::string msg) {
    if (!ok) errors.push_back(std::move(msg));
  };
  need(!c.bucket_prefix.empty(), "bucket_prefix must not be empty");
  need(c.bucket_prefix.find_first_not_of(
           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == std::string::npos,
       "bucket_prefix may only contain letters, digits, '-' and '_'");
  need(!c.worker_id_prefix.empty(), "worker_id_prefix must not be empty");
  need(c.max_workers >= 1, "max_workers must be >= 1");
  need(c.replication_factor >= 1, "replication_factor must be >= 1");
  need(c.capacity_weight >= 1, "capacity_weight must be >= 1");
  need(c.kv_replicas >= 1 && c.kv_replicas <= 5, "kv_replicas must be in [1, 5]");
  need(c.restart_ratio > 0.0 && c.restart_ratio <= 1.0, "restart_ratio must be in (0, 1]");
  need(t.heartbeat_interval.count() > 0, "heartbeat_interval must be > 0");
  need(t.heartbeat_ttl >= 2 * t.heartbeat_interval,
       fmt::format("heartbeat_ttl ({}ms) must be at least 2x heartbeat_interval ({}ms)",
                   t.heartbeat_ttl.count(), t.heartbeat_interval.count()));
  need(t.id_ttl >= 3 * t.heartbeat_interval, "id_ttl must be at least 3x heartbeat_interval");
  need(t.election_ttl.count() >= 300, "election_ttl must be >= 300ms");
  need(t.emergency_grace < t.heartbeat_ttl + t.planned_scale_window + t.cold_start_window ||
           t.emergency_grace.count() == 0,
       "emergency_grace is longer than every other window");
  need(t.cold_start_window.count() >= 0 && t.planned_scale_window.count() >= 0 &&
           t.rebalance_cooldown.count() >= 0 && t.emergency_grace.count() >= 0 &&
           t.resize_hold_max.count() >= 0,
       "windows must not be negative");
  need(t.poll_interval.count() > 0, "poll_interval must be > 0");
  need(t.watch_debounce.count() >= 0 && t.watch_debounce < t.heartbeat_ttl,
       "watch_debounce must be in [0, heartbeat_ttl)");
  need(t.kv_timeout.count() > 0, "kv_timeout must be > 0");
  need(t.kv_timeout < t.election_ttl, "kv_timeout must be shorter than election_ttl");
  need(t.startup_timeout > t.kv_timeout, "startup_timeout must exceed kv_timeout");
  return errors;
}

Timings fast_timings() {
  Timings t;
  t.heartbeat_interval = milliseconds(100);
  t.heartbeat_ttl = milliseconds(600);
  t.id_ttl = milliseconds(3000);
  t.election_ttl = milliseconds(1500);
  t.cold_start_window = milliseconds(500);
  t.planned_scale_window = milliseconds(300);
  t.emergency_grace = milliseconds(200);
  t.rebalance_cooldown = milliseconds(300);
  t.resize_hold_max = milliseconds(5000);
  t.poll_interval = milliseconds(200);
  t.watch_debounce = milliseconds(20);
  t.kv_timeout = milliseconds(1000);
  t.startup_timeout = milliseconds(20000);
  return t;
}

}  // namespace parti
