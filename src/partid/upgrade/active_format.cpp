#include "partid/upgrade/active_format.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "parti/core/types.h"

namespace partid::upgrade {

namespace {
using parti::coord::KvErrc;
constexpr const char* kKey = "active";
const std::string kHoldPrefix = "hold.";
}  // namespace

std::unique_ptr<ActiveFormat> ActiveFormat::open(std::shared_ptr<parti::coord::Connection> conn,
                                                 const std::string& bucket,
                                                 asio::any_io_executor loop, int replicas) {
  return std::unique_ptr<ActiveFormat>(new ActiveFormat(
      parti::coord::KvBucket::open_or_throw(std::move(conn), bucket, "data format", replicas),
      loop));
}

ActiveFormat::ActiveFormat(std::shared_ptr<parti::coord::KvBucket> bucket,
                           asio::any_io_executor loop)
    : bucket_(std::move(bucket)), loop_(loop) {}

ActiveFormat::~ActiveFormat() { pool_.join(); }

uint32_t ActiveFormat::load() {
  auto entry = bucket_->get(kKey);
  if (entry.status.code == KvErrc::NotFound) return current_ = 0;
  if (!entry.ok()) {
    throw parti::coord::CoordError(
        "cannot read the cluster's active data format: " + entry.status.message, entry.status.code);
  }
  auto value = decode_format(entry.value.value);
  if (!value) {
    throw std::runtime_error("the cluster's active data format is not a number: '" +
                             entry.value.value + "'");
  }
  return current_ = *value;
}

// Compare-and-set until the key holds `target` or more; a few rounds suffice,
// since every writer only raises it.
parti::coord::KvResult<uint32_t> ActiveFormat::raise_blocking(uint32_t target) const {
  for (int round = 0; round < 8; ++round) {
    auto entry = bucket_->get(kKey);
    if (entry.status.code != KvErrc::NotFound && !entry.ok()) return {entry.status, 0};
    uint64_t revision = 0;
    uint32_t held = 0;
    if (entry.ok()) {
      auto value = decode_format(entry.value.value);
      if (!value) return {{KvErrc::Other, "not a number: '" + entry.value.value + "'"}, 0};
      held = *value;
      revision = entry.value.revision;
    }
    auto holds = held_at();
    if (!holds.ok()) return holds;
    target = std::min(target, holds.value);
    if (held >= target) return {{}, held};
    const std::string value = std::to_string(target);
    auto set =
        revision == 0 ? bucket_->create(kKey, value) : bucket_->update(kKey, value, revision);
    if (set.ok()) return {{}, target};
    if (set.status.code != KvErrc::Exists && set.status.code != KvErrc::WrongRevision) {
      return {set.status, 0};
    }
  }
  return {{KvErrc::Other, "the key kept changing"}, 0};
}

void ActiveFormat::raise(uint32_t target, std::function<void()> done) {
  if (target <= current_ ||
      (target == held_target_ && std::chrono::steady_clock::now() < held_until_)) {
    if (done) done();
    return;
  }
  if (done) waiting_.push_back(std::move(done));
  if (raising_) return;
  raising_ = true;
  asio::post(pool_, [this, target] {
    auto raised = raise_blocking(target);
    if (!raised.ok()) {
      spdlog::warn("cannot raise the cluster's active data format to {}: {}", target,
                   raised.status.message);
    }
    asio::post(loop_, [this, target, ok = raised.ok(), value = raised.value] {
      raising_ = false;
      if (ok && value > current_) {
        spdlog::info("the cluster's active data format is {}", value);
        current_ = value;
      }
      if (ok && value < target) {
        held_target_ = target;
        held_until_ = std::chrono::steady_clock::now() + kHeldRetry;
      }
      auto waiting = std::move(waiting_);
      waiting_.clear();
      for (auto& done : waiting) done();
    });
  });
}

parti::coord::KvResult<uint32_t> ActiveFormat::held_at() const {
  auto all = bucket_->entries();
  if (!all.ok()) return {all.status, 0};
  std::vector<Hold> holds;
  for (const auto& entry : all.value.entries) {
    if (entry.deleted || !entry.key.starts_with(kHoldPrefix)) continue;
    auto hold = decode_hold(entry.value);
    // A hold that does not decode holds at 0: safe, and visible in the log.
    if (!hold) spdlog::warn("format hold {} does not decode: '{}'", entry.key, entry.value);
    holds.push_back(hold.value_or(Hold{0, parti::wall_clock_ms()}));
  }
  return {{}, upgrade::held_at(holds, parti::wall_clock_ms())};
}

void ActiveFormat::hold(const std::string& node, uint32_t format) {
  auto put = bucket_->put(kHoldPrefix + node, encode_hold({format, parti::wall_clock_ms()}));
  if (!put.ok()) throw std::runtime_error("cannot hold the data format: " + put.status.message);
  held_by_ = kHoldPrefix + node;
  held_format_ = format;
  renewed_ = std::chrono::steady_clock::now();
}

void ActiveFormat::release(const std::string& node) {
  auto erased = bucket_->erase(kHoldPrefix + node);
  if (!erased.ok() && erased.code != KvErrc::NotFound) {
    throw std::runtime_error("cannot release the data format hold: " + erased.message);
  }
}

void ActiveFormat::follow(std::chrono::milliseconds interval, std::function<FormatView()> view) {
  follower_ = std::make_unique<parti::Periodic>(loop_, interval, [this, view = std::move(view)] {
    if (auto target = raise_target(view())) raise(*target);
    const auto now = std::chrono::steady_clock::now();
    if (!held_by_.empty() && now - renewed_ > std::chrono::milliseconds(kHoldRenewMs)) {
      renewed_ = now;
      asio::post(pool_, [this] {
        auto put = bucket_->put(held_by_, encode_hold({held_format_, parti::wall_clock_ms()}));
        if (!put.ok()) spdlog::warn("cannot renew the data format hold: {}", put.status.message);
      });
    }
  });
  follower_->start();
}

void ActiveFormat::stop() {
  if (follower_) follower_->stop();
}

}  // namespace partid::upgrade
