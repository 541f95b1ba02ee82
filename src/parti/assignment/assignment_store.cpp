#include "parti/assignment/assignment_store.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <nlohmann/json.hpp>

namespace parti {

using coord::KvErrc;
using coord::KvResult;
using nlohmann::json;

std::string encode(const AssignmentPointer& p) {
  return json{{"version", p.version}, {"term", p.term},         {"chunks", p.chunks},
              {"size", p.size},       {"checksum", p.checksum}, {"fenced_by", p.fenced_by}}
      .dump();
}

std::optional<AssignmentPointer> decode_pointer(std::string_view bytes) {
  try {
    json j = json::parse(bytes);
    return AssignmentPointer{j.at("version").get<uint64_t>(),  j.at("term").get<uint64_t>(),
                             j.at("chunks").get<uint32_t>(),   j.at("size").get<uint64_t>(),
                             j.at("checksum").get<uint64_t>(), j.at("fenced_by").get<uint64_t>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {

std::string chunk_key(uint64_t term, uint64_t version, uint32_t i) {
  return fmt::format("chunk.{}.{}.{}", term, version, i);
}

}  // namespace

AssignmentStore::AssignmentStore(std::shared_ptr<coord::KvBucket> bucket, size_t chunk_bytes)
    : bucket_(std::move(bucket)), chunk_bytes_(chunk_bytes) {}

KvResult<Assignment> AssignmentStore::read_pointed(const std::string& pointer_value) const {
  auto ptr = decode_pointer(pointer_value);
  if (!ptr) return {{KvErrc::Other, "malformed assignment pointer"}, {}};
  std::string blob;
  blob.reserve(ptr->size);
  for (uint32_t i = 0; i < ptr->chunks; ++i) {
    auto c = bucket_->get(chunk_key(ptr->term, ptr->version, i));
    if (!c.ok()) return {c.status, {}};
    blob += c.value.value;
  }
  if (blob.size() != ptr->size || XXH3_64bits(blob.data(), blob.size()) != ptr->checksum) {
    return {{KvErrc::Other, "assignment checksum mismatch"}, {}};
  }
  std::string why;
  auto a = decode_assignment(blob, &why);
  if (!a) return {{KvErrc::Other, "malformed assignment: " + why}, {}};
  return {{}, std::move(*a)};
}

KvResult<Assignment> AssignmentStore::read(uint64_t* revision) const {
  // A chunk can vanish under us when a newer publish collects old versions:
  // re-read the pointer, which then names the newer chunks.
  KvResult<Assignment> out{{KvErrc::NotFound, "no assignment"}, {}};
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto p = bucket_->get(kPointerKey);
    if (!p.ok()) return {p.status, {}};
    if (revision) *revision = p.value.revision;
    out = read_pointed(p.value.value);
    if (out.status.code != KvErrc::NotFound) return out;
  }
  return out;
}

KvResult<uint64_t> AssignmentStore::fence(uint64_t term, uint64_t expected_revision) {
  auto p = bucket_->get(kPointerKey);
  if (!p.ok()) return {p.status, 0};
  if (p.value.revision != expected_revision) return {{KvErrc::WrongRevision, "pointer moved"}, 0};
  auto ptr = decode_pointer(p.value.value);
  if (!ptr) return {{KvErrc::Other, "malformed assignment pointer"}, 0};
  ptr->fenced_by = term;
  return bucket_->update(kPointerKey, encode(*ptr), expected_revision);
}

KvResult<uint64_t> AssignmentStore::publish(const Assignment& a, uint64_t expected_revision) {
  const std::string blob = encode(a);
  AssignmentPointer ptr;
  ptr.version = a.version;
  ptr.term = a.leader_term;
  ptr.fenced_by = a.leader_term;
  ptr.size = blob.size();
  ptr.checksum = XXH3_64bits(blob.data(), blob.size());
  ptr.chunks = static_cast<uint32_t>((blob.size() + chunk_bytes_ - 1) / chunk_bytes_);
  for (uint32_t i = 0; i < ptr.chunks; ++i) {
    auto w = bucket_->put(chunk_key(ptr.term, ptr.version, i),
                          blob.substr(i * chunk_bytes_, chunk_bytes_));
    if (!w.ok()) return {w.status, 0};
  }
  AssignmentPointer previous;
  if (expected_revision != 0) {
    if (auto old = bucket_->get(kPointerKey); old.ok()) {
      if (auto d = decode_pointer(old.value.value)) previous = *d;
    }
  }
  auto r = expected_revision == 0 ? bucket_->create(kPointerKey, encode(ptr))
                                  : bucket_->update(kPointerKey, encode(ptr), expected_revision);
  if (r.status.code == KvErrc::Exists) r.status.code = KvErrc::WrongRevision;
  if (r.status.code == KvErrc::WrongRevision) {
    // An earlier attempt that timed out may have landed: if the pointer names
    // exactly this assignment, the publish succeeded.
    if (auto now = bucket_->get(kPointerKey); now.ok()) {
      auto current = decode_pointer(now.value.value);
      if (current && current->term == ptr.term && current->version == ptr.version &&
          current->checksum == ptr.checksum) {
        r = {{}, now.value.revision};
      }
    }
  }
  if (r.ok()) collect_garbage(ptr, previous);
  return r;
}

void AssignmentStore::collect_garbage(const AssignmentPointer& current,
                                      const AssignmentPointer& previous) {
  auto keys = bucket_->keys();
  if (!keys.ok()) return;  // best effort: stale chunks are only space
  const std::string keep1 = fmt::format("chunk.{}.{}.", current.term, current.version);
  const std::string keep2 = fmt::format("chunk.{}.{}.", previous.term, previous.version);
  for (const auto& k : keys.value) {
    if (k.rfind("chunk.", 0) != 0) continue;
    if (k.rfind(keep1, 0) == 0 || k.rfind(keep2, 0) == 0) continue;
    bucket_->erase(k);
  }
}

}  // namespace parti
