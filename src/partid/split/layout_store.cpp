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
                                               asio::any_io_executor loop) {
  return std::unique_ptr<LayoutStore>(new LayoutStore(
      parti::coord::KvBucket::open_or_throw(std::move(conn), bucket, "layout"), loop));
}

LayoutStore::LayoutStore(std::shared_ptr<parti::coord::KvBucket> bucket, asio::any_io_executor loop)
    : bucket_(std::move(bucket)), loop_(loop) {}

LayoutStore::~LayoutStore() {
  *alive_ = false;
  pool_.join();
}

routing::LayoutRecord LayoutStore::load(uint32_t initial_partitions) {
  initial_partitions_ = initial_partitions;
  auto record = read();
  if (auto* error = std::get_if<std::string>(&record)) {
    throw std::runtime_error("cannot read the cluster's layout: " + *error);
  }
  return current_ = std::get<routing::LayoutRecord>(record);
}

std::variant<routing::LayoutRecord, std::string> LayoutStore::read() const {
  auto entry = bucket_->get(kKey);
  if (entry.status.code == KvErrc::NotFound) {
    return routing::LayoutRecord{routing::Layout::unsplit(initial_partitions_), {}, {}, 0};
  }
  if (!entry.ok()) return entry.status.message;
  auto record = routing::decode_layout_record(entry.value.value);
  if (!record) return "the layout record does not decode: '" + entry.value.value + "'";
  record->revision = entry.value.revision;
  return *record;
}

void LayoutStore::adopt(const routing::LayoutRecord& record) {
  if (record.revision <= current_.revision && current_.revision != 0) return;
  if (record == current_) return;
  current_ = record;
  if (on_change_) on_change_(current_);
}

void LayoutStore::follow(std::chrono::milliseconds interval, OnChange on_change) {
  on_change_ = std::move(on_change);
  follower_ = std::make_unique<parti::Periodic>(loop_, interval, [this] {
    if (polling_) return;
    polling_ = true;
    asio::post(pool_, [this, alive = alive_] {
      auto record = read();
      asio::post(loop_, [this, alive, record = std::move(record)] {
        if (!*alive) return;
        polling_ = false;
        if (auto* r = std::get_if<routing::LayoutRecord>(&record)) adopt(*r);
      });
    });
  });
  follower_->start();
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
