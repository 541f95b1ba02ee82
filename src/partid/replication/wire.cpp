#include "partid/replication/wire.h"

#include "partid/overloaded.h"
#include "partid/replication/core_changes.h"

namespace partid::replication {
namespace {

using namespace core;

void put(const Position& p, pb::ReplPosition* out) {
  out->set_epoch(p.epoch);
  out->set_sequence(p.seq);
}
Position get(const pb::ReplPosition& p) { return {p.epoch(), p.sequence()}; }

void put(const Entry& e, pb::ReplEntry* out) {
  out->set_sequence(e.seq);
  out->set_epoch(e.epoch);
  out->set_barrier(e.barrier);
  out->set_payload(e.payload);
}
template <class Repeated>
std::vector<Entry> get_entries(const Repeated& entries) {
  std::vector<Entry> out;
  out.reserve(static_cast<size_t>(entries.size()));
  for (const auto& e : entries) out.push_back({e.sequence(), e.epoch(), e.barrier(), e.payload()});
  return out;
}

void put(const Snapshot& s, pb::ReplSnapshot* out) {
  put(s.through, out->mutable_through());
  out->set_data(*s.data);
}
Snapshot get(const pb::ReplSnapshot& s) { return {get(s.through()), snapshot_bytes(s.data())}; }

}  // namespace

void to_pb(const Message& message, pb::ReplMessage* out) {
  std::visit(Overloaded{
                 [&](const Replicate& m) {
                   auto* r = out->mutable_replicate();
                   r->set_epoch(m.epoch);
                   put(m.prev, r->mutable_prev());
                   for (const auto& e : m.entries) put(e, r->add_entries());
                   r->set_commit(m.commit);
                   r->set_leader_last(m.leader_last);
                   r->set_session(m.session);
                   r->set_round(m.round);
                 },
                 [&](const ReplicateAck& m) {
                   auto* r = out->mutable_ack();
                   r->set_epoch(m.epoch);
                   r->set_ok(m.ok);
                   r->set_last(m.last);
                   r->set_disk_id(m.disk_id);
                   r->set_session(m.session);
                   r->set_round(m.round);
                 },
                 [&](const BeginEpoch& m) {
                   auto* r = out->mutable_begin_epoch();
                   r->set_epoch(m.epoch);
                 },
                 [&](const EpochPromise& m) {
                   auto* r = out->mutable_promise();
                   r->set_epoch(m.epoch);
                   put(m.last, r->mutable_last());
                   r->set_commit(m.commit);
                   r->set_rebuilding(m.rebuilding);
                 },
                 [&](const Refuse& m) { out->mutable_refused()->set_epoch(m.epoch); },
                 [&](const SyncRequest& m) {
                   auto* r = out->mutable_sync_request();
                   r->set_epoch(m.epoch);
                   r->set_from_sequence(m.from);
                   r->set_to_sequence(m.to);
                 },
                 [&](const InstallSnapshot& m) {
                   auto* r = out->mutable_install_snapshot();
                   r->set_epoch(m.epoch);
                   put(m.snapshot, r->mutable_snapshot());
                   r->set_commit(m.commit);
                   r->set_leader_last(m.leader_last);
                 },
                 [&](const SyncReply& m) {
                   auto* r = out->mutable_sync_reply();
                   r->set_epoch(m.epoch);
                   r->set_from_sequence(m.from);
                   for (const auto& e : m.entries) put(e, r->add_entries());
                   if (m.snapshot) put(*m.snapshot, r->mutable_snapshot());
                 },
             },
             message);
}

std::optional<Message> from_pb(const pb::ReplMessage& m) {
  using B = pb::ReplMessage::BodyCase;
  switch (m.body_case()) {
    case B::kReplicate: {
      const auto& r = m.replicate();
      return Replicate{r.epoch(),  get(r.prev()),   get_entries(r.entries()),
                       r.commit(), r.leader_last(), r.session(),
                       r.round()};
    }
    case B::kAck:
      return ReplicateAck{m.ack().epoch(),   m.ack().ok(),      m.ack().last(),
                          m.ack().disk_id(), m.ack().session(), m.ack().round()};
    case B::kBeginEpoch:
      return BeginEpoch{m.begin_epoch().epoch()};
    case B::kPromise: {
      const auto& r = m.promise();
      return EpochPromise{r.epoch(), get(r.last()), r.commit(), r.rebuilding()};
    }
    case B::kRefused:
      return Refuse{m.refused().epoch()};
    case B::kSyncRequest: {
      const auto& r = m.sync_request();
      return SyncRequest{r.epoch(), r.from_sequence(), r.to_sequence()};
    }
    case B::kInstallSnapshot: {
      const auto& r = m.install_snapshot();
      return InstallSnapshot{r.epoch(), get(r.snapshot()), r.commit(), r.leader_last()};
    }
    case B::kSyncReply: {
      const auto& r = m.sync_reply();
      SyncReply out{r.epoch(), r.from_sequence(), get_entries(r.entries()), std::nullopt};
      if (r.has_snapshot()) out.snapshot = get(r.snapshot());
      return out;
    }
    case B::BODY_NOT_SET:
      break;
  }
  return std::nullopt;
}

namespace {
// Where `m` carries a snapshot's bytes, if anywhere.
std::string* snapshot_data(pb::ReplMessage* m) {
  if (m->has_install_snapshot()) {
    return m->mutable_install_snapshot()->mutable_snapshot()->mutable_data();
  }
  if (m->has_sync_reply() && m->sync_reply().has_snapshot()) {
    return m->mutable_sync_reply()->mutable_snapshot()->mutable_data();
  }
  return nullptr;
}

std::optional<Message> take_from_pb(pb::ReplMessage* m) {
  std::string* data = snapshot_data(m);
  SnapshotBytes taken = data ? snapshot_bytes(std::move(*data)) : nullptr;
  auto out = from_pb(*m);
  if (Snapshot* s = out && taken ? snapshot_in(*out) : nullptr) s->data = std::move(taken);
  return out;
}
}  // namespace

TransferMessages parse_transfer(const std::string& bytes, const std::string& from) {
  pb::ReplicationBatch batch;
  if (!batch.ParseFromString(bytes) || batch.from() != from) return std::nullopt;
  std::vector<std::pair<uint32_t, std::optional<Message>>> out;
  out.reserve(static_cast<size_t>(batch.messages_size()));
  for (auto& m : *batch.mutable_messages()) out.emplace_back(m.partition(), take_from_pb(&m));
  return out;
}

std::string encode_snapshot(const std::vector<storage::Item>& items) {
  pb::PartitionSnapshot s;
  for (const auto& item : items) {
    auto* i = s.add_items();
    i->set_partition_key(item.partition_key);
    i->set_range_key(item.range_key);
    i->set_message(item.message);
    i->set_hlc(item.version.hlc);
    i->set_sequence(item.version.sequence);
    i->set_epoch(item.version.epoch);
    i->set_tombstone(item.tombstone);
  }
  return s.SerializeAsString();
}

std::optional<std::vector<storage::Item>> decode_snapshot(const std::string& data) {
  pb::PartitionSnapshot s;
  if (!s.ParseFromString(data)) return std::nullopt;
  std::vector<storage::Item> out;
  out.reserve(static_cast<size_t>(s.items_size()));
  for (const auto& i : s.items()) {
    out.push_back({i.partition_key(),
                   i.range_key(),
                   i.message(),
                   {i.hlc(), i.sequence(), i.epoch()},
                   i.tombstone()});
  }
  return out;
}

}  // namespace partid::replication
