#include "partid/replication/seal_register.h"

#include <spdlog/spdlog.h>

#include "proto/storage.pb.h"

namespace partid::replication {

namespace {
using parti::coord::KvErrc;

std::string key_of(uint32_t partition) { return "partition." + std::to_string(partition); }

std::string encode(const core::Config& config) {
  pb::SealedSet set;
  set.set_epoch(config.epoch);
  for (const auto& member : config.members) set.add_members(member);
  return set.SerializeAsString();
}

bool decode(const std::string& bytes, core::Config* config) {
  pb::SealedSet set;
  if (!set.ParseFromString(bytes)) return false;
  config->epoch = set.epoch();
  config->members.assign(set.members().begin(), set.members().end());
  return true;
}
}  // namespace

std::unique_ptr<SealRegister> SealRegister::open(std::shared_ptr<parti::coord::Connection> conn,
                                                 const std::string& bucket,
                                                 asio::any_io_executor loop, int replicas) {
  return std::unique_ptr<SealRegister>(new SealRegister(
      parti::coord::KvBucket::open_or_throw(std::move(conn), bucket, "seal register", replicas),
      loop));
}

SealRegister::SealRegister(std::shared_ptr<parti::coord::KvBucket> bucket,
                           asio::any_io_executor loop)
    : bucket_(std::move(bucket)), loop_(loop) {}

SealRegister::~SealRegister() { pool_.join(); }

parti::coord::KvResult<core::SealRecord> SealRegister::get(uint32_t partition) const {
  auto entry = bucket_->get(key_of(partition));
  if (entry.status.code == KvErrc::NotFound) return {};  // never sealed
  if (!entry.ok()) return {entry.status, {}};
  core::SealRecord record;
  record.revision = entry.value.revision;
  if (!decode(entry.value.value, &record.config)) {
    return {{KvErrc::Other, "undecodable seal record for partition " + std::to_string(partition)},
            {}};
  }
  return {{}, std::move(record)};
}

parti::coord::KvResult<uint64_t> SealRegister::compare_and_set(uint32_t partition,
                                                               const core::SealClaim& claim) const {
  const std::string value = encode(claim.config);
  if (claim.expected_revision == 0) return bucket_->create(key_of(partition), value);
  return bucket_->update(key_of(partition), value, claim.expected_revision);
}

void SealRegister::read(uint32_t partition, OnRead done) {
  asio::post(pool_, [this, partition, done = std::move(done)]() mutable {
    auto record = get(partition);
    if (!record.ok()) {
      spdlog::warn("seal register: read of partition {}: {}", partition, record.status.message);
      return;
    }
    asio::post(loop_, [done = std::move(done), r = std::move(record.value)]() mutable {
      done(std::move(r));
    });
  });
}

void SealRegister::forget(uint32_t partition, std::function<void()> done) {
  asio::post(pool_, [this, partition, done = std::move(done)]() mutable {
    auto erased = bucket_->erase(key_of(partition));
    if (!erased.ok()) {
      spdlog::warn("seal register: forget partition {}: {}", partition, erased.message);
      return;
    }
    asio::post(loop_, std::move(done));
  });
}

void SealRegister::claim(uint32_t partition, core::SealClaim claim, OnClaim done) {
  asio::post(pool_, [this, partition, claim = std::move(claim), done = std::move(done)]() mutable {
    auto set = compare_and_set(partition, claim);
    const bool lost = set.status.code == KvErrc::Exists ||
                      set.status.code == KvErrc::WrongRevision ||
                      set.status.code == KvErrc::NotFound;
    if (!set.ok() && !lost) {
      spdlog::warn("seal register: claim of partition {}: {}", partition, set.status.message);
      return;
    }
    core::SealRecord current{claim.config, set.value};
    if (lost) {  // someone else's claim came first: say whose
      auto record = get(partition);
      if (!record.ok()) return;
      current = std::move(record.value);
    }
    asio::post(loop_, [done = std::move(done), won = !lost,
                       current = std::move(current)]() mutable { done(won, std::move(current)); });
  });
}

}  // namespace partid::replication
