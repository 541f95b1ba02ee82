#include "partid/split/layout_store.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace partid::split {

namespace {
using parti::coord::KvErrc;
constexpr const char* kKey = "layout";
}  // namespace

std::unique_ptr<LayoutStore> LayoutStore::open(std::shared_ptr<parti::coord::Connection> conn,
                                               const std::string& bucket,
                                               asio::any_io_executor loop, int replicas) {
  auto kv = parti::coord::KvBucket::open_or_throw(conn, bucket, "layout", replicas);
  return std::unique_ptr<LayoutStore>(new LayoutStore(std::move(conn), std::move(kv), loop));
}

LayoutStore::LayoutStore(std::shared_ptr<parti::coord::Connection> conn,
                         std::shared_ptr<parti::coord::KvBucket> bucket, asio::any_io_executor loop)
    : conn_(std::move(conn)), bucket_(std::move(bucket)), loop_(loop) {}

LayoutStore::~LayoutStore() {
  if (status_listener_ >= 0) conn_->remove_status_listener(status_listener_);
  *alive_ = false;
  if (follower_) follower_->stop();  // joins the watch's thread
  pool_.join();
}

routing::LayoutRecord LayoutStore::load(uint32_t initial_partitions) {
  initial_partitions_ = initial_partitions;
  auto listing = bucket_->entry_of(kKey);
  if (!listing.ok()) {
    throw parti::coord::CoordError("cannot read the cluster's layout: " + listing.status.message,
                                   listing.status.code);
  }
  auto record = record_in(listing.value);
  if (auto* error = std::get_if<std::string>(&record)) {
    throw std::runtime_error("cannot read the cluster's layout: " + *error);
  }
  return current_ = std::get<routing::LayoutRecord>(record);
}

routing::LayoutRecord LayoutStore::unsplit() const {
  return routing::LayoutRecord{routing::Layout::unsplit(initial_partitions_), {}, {}, 0};
}

std::variant<routing::LayoutRecord, std::string> LayoutStore::decode(
    const parti::coord::KvEntry& e) {
  auto record = routing::decode_layout_record(e.value);
  if (!record) return "the layout record does not decode: '" + e.value + "'";
  record->revision = e.revision;
  return *record;
}

std::variant<routing::LayoutRecord, std::string> LayoutStore::record_in(
    const parti::coord::KvSnapshot& listing) const {
  if (listing.entries.empty()) return unsplit();
  return decode(listing.entries.front());
}

std::variant<routing::LayoutRecord, std::string> LayoutStore::read() const {
  auto listing = bucket_->entry_of(kKey);
  if (!listing.ok()) return listing.status.message;
  return record_in(listing.value);
}

void LayoutStore::adopt_if_valid(const std::variant<routing::LayoutRecord, std::string>& record) {
  if (auto* r = std::get_if<routing::LayoutRecord>(&record)) {
    adopt(*r);
  } else {
    spdlog::warn("layout: {}", std::get<std::string>(record));
  }
}

void LayoutStore::adopt(const routing::LayoutRecord& record) {
  if (record.revision <= current_.revision && current_.revision != 0) return;
  if (record == current_) return;
  current_ = record;
  if (on_change_) on_change_(current_);
}

void LayoutStore::follow(std::chrono::milliseconds interval, OnChange on_change) {
  on_change_ = std::move(on_change);
  follower_ = std::make_unique<parti::coord::WatchedKeys>(
      loop_, pool_, bucket_, kKey, interval, [this] { return bucket_->entry_of(kKey); },
      parti::coord::WatchedKeys::Callbacks{
          // The record is never deleted; a delete marker (by hand) changes nothing.
          [this](const parti::coord::KvEntry& e) {
            if (!e.deleted) adopt_if_valid(decode(e));
          },
          [this](const parti::coord::KvSnapshot& all) { adopt_if_valid(record_in(all)); }});
  follower_->audit_every(10 * interval, [this] { return bucket_->revision_of(kKey); });
  follower_->start();
  // A change made while NATS was unreachable may never reach the old watch.
  status_listener_ = conn_->add_status_listener([this, alive = alive_](bool connected) {
    if (connected) return;
    asio::post(loop_, [this, alive] {
      if (*alive && follower_) follower_->connection_lost();
    });
  });
}

std::variant<routing::LayoutRecord, std::string> LayoutStore::change_blocking(
    const Edit& edit) const {
  for (int round = 0; round < 8; ++round) {
    auto current = read();
    if (auto* error = std::get_if<std::string>(&current)) return *error;
    const auto& record = std::get<routing::LayoutRecord>(current);
    auto next = edit(record);
    if (auto* reason = std::get_if<std::string>(&next)) return *reason;
    auto& written = std::get<routing::LayoutRecord>(next);
    const std::string value = routing::encode_layout_record(written);
    auto set = record.revision == 0 ? bucket_->create(kKey, value)
                                    : bucket_->update(kKey, value, record.revision);
    if (set.ok()) {
      written.revision = set.value;
      return written;
    }
    if (set.status.code != KvErrc::Exists && set.status.code != KvErrc::WrongRevision) {
      return set.status.message;
    }
  }
  return std::string("the layout kept changing");
}

void LayoutStore::change(Edit edit, Done done) {
  asio::post(pool_, [this, alive = alive_, edit = std::move(edit), done = std::move(done)] {
    auto result = change_blocking(edit);
    asio::post(loop_, [this, alive, result = std::move(result), done] {
      if (!*alive) return;
      if (auto* r = std::get_if<routing::LayoutRecord>(&result)) adopt(*r);
      done(result);
    });
  });
}

void LayoutStore::stop() {
  if (follower_) follower_->stop();
}

}  // namespace partid::split
