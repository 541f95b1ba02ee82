#include "partid/replication/wire.h"

#include <google/protobuf/io/coded_stream.h>

#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>

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

namespace {
// A length-delimited field's tag and length, without its bytes.
std::string field_head(int field, size_t length) {
  using google::protobuf::io::CodedOutputStream;
  uint8_t head[10 + 10];  // two varints of at most 10 bytes
  uint8_t* end = CodedOutputStream::WriteTagToArray(static_cast<uint32_t>(field) << 3 | 2u, head);
  end = CodedOutputStream::WriteVarint64ToArray(length, end);
  return {reinterpret_cast<const char*>(head), static_cast<size_t>(end - head)};
}

// The field of ReplMessage holding `message`, and that message's field
// holding its snapshot; {0, 0} for a message with none.
std::pair<int, int> snapshot_fields(const Message& message) {
  if (std::holds_alternative<InstallSnapshot>(message)) {
    return {pb::ReplMessage::kInstallSnapshotFieldNumber,
            pb::InstallSnapshot::kSnapshotFieldNumber};
  }
  if (std::holds_alternative<SyncReply>(message)) {
    return {pb::ReplMessage::kSyncReplyFieldNumber, pb::PartitionSyncReply::kSnapshotFieldNumber};
  }
  return {0, 0};
}
}  // namespace

TransferBytes serialize_transfer(const std::string& from, uint32_t partition,
                                 const Message& message) {
  Message bare = message;  // shares the snapshot's bytes
  SnapshotBytes data;
  if (Snapshot* s = snapshot_in(bare); s && !s->data->empty()) {
    data = std::exchange(s->data, snapshot_bytes({}));
  }
  pb::ReplMessage m;
  m.set_partition(partition);
  to_pb(bare, &m);
  std::string message_bytes = m.SerializeAsString();
  size_t message_size = message_bytes.size();
  if (data) {
    const auto [body_field, snapshot_field] = snapshot_fields(message);
    const std::string data_head = field_head(pb::ReplSnapshot::kDataFieldNumber, data->size());
    const size_t snapshot_size = data_head.size() + data->size();
    const std::string snapshot_head = field_head(snapshot_field, snapshot_size);
    const size_t body_size = snapshot_head.size() + snapshot_size;
    message_bytes += field_head(body_field, body_size) + snapshot_head + data_head;
    message_size = message_bytes.size() + data->size();
  }
  pb::ReplicationBatch batch;
  batch.set_from(from);
  TransferBytes out{batch.SerializeAsString(), std::move(data)};
  out.head += field_head(pb::ReplicationBatch::kMessagesFieldNumber, message_size) + message_bytes;
  return out;
}

namespace {
using google::protobuf::io::CodedInputStream;

// Skips a field this version does not know (a newer sender's), by its wire
// type; false for groups (never used here) and for bytes that do not parse.
bool skip_field(CodedInputStream& in, uint32_t tag) {
  uint64_t varint = 0;
  uint32_t fixed32 = 0;
  uint32_t length = 0;
  switch (tag & 7u) {
    case 0:
      return in.ReadVarint64(&varint);
    case 1:
      return in.ReadLittleEndian64(&varint);
    case 2:
      return in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
    case 5:
      return in.ReadLittleEndian32(&fixed32);
    default:
      return false;
  }
}

// A length-delimited field on the way to a transfer's snapshot bytes.
struct Enclosing {
  size_t tag_at = 0;      // where its tag starts
  size_t content_at = 0;  // where its bytes start, after its length
  int field = 0;
};

// The last of the fields in bytes [from, size) when it is length-delimited
// and runs to the end: the one a transfer's snapshot bytes end.
std::optional<Enclosing> last_field(const std::string& bytes, size_t from) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()) + from,
                      static_cast<int>(bytes.size() - from));
  for (;;) {
    const size_t tag_at = from + static_cast<size_t>(in.CurrentPosition());
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return std::nullopt;
    if ((tag & 7u) != 2u) {
      if (!skip_field(in, tag)) return std::nullopt;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return std::nullopt;
    const size_t content_at = from + static_cast<size_t>(in.CurrentPosition());
    if (content_at + length == bytes.size()) return Enclosing{tag_at, content_at, int(tag >> 3)};
    if (!in.Skip(static_cast<int>(length))) return std::nullopt;
  }
}

// Which field holds the snapshot's bytes at `depth` of a transfer, inside
// the field `outer` (the one at depth - 1); 0: none other.
std::pair<int, int> snapshot_path_fields(size_t depth, int outer) {
  switch (depth) {
    case 0:
      return {pb::ReplicationBatch::kMessagesFieldNumber, 0};
    case 1:
      return {pb::ReplMessage::kInstallSnapshotFieldNumber, pb::ReplMessage::kSyncReplyFieldNumber};
    case 2:
      return {outer == pb::ReplMessage::kInstallSnapshotFieldNumber
                  ? int{pb::InstallSnapshot::kSnapshotFieldNumber}
                  : int{pb::PartitionSyncReply::kSnapshotFieldNumber},
              0};
    default:
      return {pb::ReplSnapshot::kDataFieldNumber, 0};
  }
}

// The fields from a transfer's batch down to its snapshot's bytes, outermost
// first, when the bytes end with them as serialize_transfer writes them: the
// batch's last message, its body, the body's snapshot, the snapshot's bytes.
// Empty when they do not.
std::vector<Enclosing> path_to_snapshot_bytes(const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return {};
  std::vector<Enclosing> path;
  for (size_t depth = 0, from = 0; depth < 4; ++depth) {
    auto f = last_field(bytes, from);
    const auto [one, other] = snapshot_path_fields(depth, path.empty() ? 0 : path.back().field);
    if (!f || (f->field != one && f->field != other)) return {};
    path.push_back(*f);
    from = f->content_at;
  }
  return path;
}

// The bytes before the snapshot's, with every enclosing length shortened as
// if the snapshot's bytes were empty: they parse as the batch without them.
std::string head_without_snapshot_bytes(const std::string& bytes,
                                        const std::vector<Enclosing>& path) {
  std::string built = field_head(path.back().field, 0);
  for (size_t k = path.size() - 1; k-- > 0;) {
    std::string content =
        bytes.substr(path[k].content_at, path[k + 1].tag_at - path[k].content_at) + built;
    built = field_head(path[k].field, content.size()) + content;
  }
  return bytes.substr(0, path.front().tag_at) + built;
}

// The batch in `bytes`; a snapshot's bytes that end them (a transfer's, as
// serialize_transfer writes it) are not copied: the batch is parsed without
// them and they are moved, in place, into its last message. A protobuf parse
// copies every bytes field, and a transfer is as large as its partition: a
// node being rebuilt held each of its snapshots twice while it parsed them.
std::optional<pb::ReplicationBatch> parse_batch(std::string&& bytes) {
  pb::ReplicationBatch batch;
  const std::vector<Enclosing> path = path_to_snapshot_bytes(bytes);
  if (path.empty()) {
    if (!batch.ParseFromString(bytes)) return std::nullopt;
    return batch;
  }
  if (!batch.ParseFromString(head_without_snapshot_bytes(bytes, path))) return std::nullopt;
  pb::ReplMessage* last = batch.mutable_messages(batch.messages_size() - 1);
  pb::ReplSnapshot* snapshot = last->has_install_snapshot()
                                   ? last->mutable_install_snapshot()->mutable_snapshot()
                                   : last->mutable_sync_reply()->mutable_snapshot();
  bytes.erase(0, path.back().content_at);
  snapshot->set_data(std::move(bytes));
  return batch;
}
}  // namespace

TransferMessages parse_transfer(std::string&& bytes, const std::string& from) {
  auto batch = parse_batch(std::move(bytes));
  if (!batch || batch->from() != from) return std::nullopt;
  std::vector<std::pair<uint32_t, std::optional<Message>>> out;
  out.reserve(static_cast<size_t>(batch->messages_size()));
  for (auto& m : *batch->mutable_messages()) out.emplace_back(m.partition(), take_from_pb(&m));
  return out;
}

// PartitionSnapshot's only field, `repeated SnapshotItem items = 1`, on the
// wire: each item is the tag of field 1 with the length-delimited wire type
// (2), its length, and its bytes. Written and read here with protobuf's
// coded streams, item by item, because the generated PartitionSnapshot
// parses or builds all of them at once.
constexpr uint32_t kItemTag = (1u << 3) | 2u;
// An item's bytes beyond its keys and message, at most: the tag and length,
// the fields' tags and lengths, three varints and a bool.
constexpr size_t kItemOverheadBytes = 48;

void SnapshotEncoder::add(const storage::Item& item) {
  using google::protobuf::io::CodedOutputStream;
  scratch_.set_partition_key(item.partition_key);
  scratch_.set_range_key(item.range_key);
  scratch_.set_message(item.message);
  scratch_.set_hlc(item.version.hlc);
  scratch_.set_sequence(item.version.sequence);
  scratch_.set_epoch(item.version.epoch);
  scratch_.set_tombstone(item.tombstone);
  uint8_t head[1 + 5];  // the tag, and a length as a varint: at most 5 bytes
  uint8_t* end = CodedOutputStream::WriteTagToArray(kItemTag, head);
  end =
      CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(scratch_.ByteSizeLong()), end);
  out_.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
  scratch_.AppendToString(&out_);
}

std::string encode_snapshot(const std::vector<storage::Item>& items) {
  SnapshotEncoder encoder;
  size_t bytes = 0;
  for (const auto& item : items)
    bytes += kItemOverheadBytes + storage::listed_bytes(item) + item.partition_key.size();
  encoder.reserve(bytes);
  for (const auto& item : items) encoder.add(item);
  return std::move(encoder).finish();
}

namespace {
const uint8_t* bytes_of(const std::string& data) {
  return reinterpret_cast<const uint8_t*>(data.data());
}

enum class Field { item, skipped, end, bad };

// Reads one field of a PartitionSnapshot: an item into `item` (unless
// `item` is null: then only skipped over), or a field this version does not
// know.
Field next_field(CodedInputStream& in, pb::SnapshotItem* item) {
  const uint32_t tag = in.ReadTag();
  if (tag == 0) return Field::end;  // the end, or a tag that does not parse
  if (tag != kItemTag) return skip_field(in, tag) ? Field::skipped : Field::bad;
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return Field::bad;
  if (!item) return in.Skip(static_cast<int>(length)) ? Field::item : Field::bad;
  const auto limit = in.PushLimit(static_cast<int>(length));
  item->Clear();
  const bool parsed = item->MergeFromCodedStream(&in) && in.ConsumedEntireMessage();
  in.PopLimit(limit);
  return parsed ? Field::item : Field::bad;
}

// Reads every field of `data`, `on_item` after each item parsed into
// `item` (or counted, when `item` is null), until `on_item` returns false;
// false if `data` is not a PartitionSnapshot (as far as it was read).
template <class OnItem>
bool read_items(const std::string& data, pb::SnapshotItem* item, OnItem on_item) {
  // A coded stream counts in int; the fragment assembler's limit keeps
  // transfers far below that.
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return false;
  const int size = static_cast<int>(data.size());
  CodedInputStream in(bytes_of(data), size);
  in.SetTotalBytesLimit(size);
  for (;;) {
    switch (next_field(in, item)) {
      case Field::item:
        if (!on_item()) return true;
        break;
      case Field::skipped:
        break;
      case Field::end:  // ReadTag answers 0 for bytes that are no tag too
        return in.ConsumedEntireMessage() && in.CurrentPosition() == size;
      case Field::bad:
        return false;
    }
  }
}

// Reads every item of `data` into a storage::Item handed to `on_item`
// (which returns false to stop); false if `data` is not a PartitionSnapshot.
template <class OnItem>
bool read_storage_items(const std::string& data, OnItem on_item) {
  pb::SnapshotItem i;
  storage::Item item;
  return read_items(data, &i, [&] {
    item = {std::move(*i.mutable_partition_key()),
            std::move(*i.mutable_range_key()),
            std::move(*i.mutable_message()),
            {i.hlc(), i.sequence(), i.epoch()},
            i.tombstone()};
    return on_item(item);
  });
}

class SnapshotItemSource final : public storage::ItemSource {
 public:
  SnapshotItemSource(core::SnapshotBytes data, storage::ItemTally tally)
      : data_(std::move(data)), tally_(std::move(tally)) {}
  void for_each(const std::function<bool(storage::Item&)>& each) const override {
    // The bytes were read whole once (snapshot_items) and never change.
    if (!read_storage_items(*data_, each)) throw std::runtime_error("snapshot does not decode");
  }
  const storage::ItemTally& tally() const override { return tally_; }
  uint64_t encoded_bytes() const override { return data_->size(); }

 private:
  core::SnapshotBytes data_;
  storage::ItemTally tally_;
};
}  // namespace

std::optional<std::vector<storage::Item>> decode_snapshot(const std::string& data) {
  // Counted first (without parsing the items), so that the vector is
  // allocated once, at its size.
  size_t count = 0;
  if (!read_items(data, nullptr, [&] { return ++count > 0; })) return std::nullopt;
  std::vector<storage::Item> out;
  out.reserve(count);
  if (!read_storage_items(data, [&](storage::Item& item) {
        out.push_back(std::move(item));
        return true;
      })) {
    return std::nullopt;
  }
  return out;
}

std::shared_ptr<const storage::ItemSource> snapshot_items(core::SnapshotBytes data) {
  storage::ItemTally tally;
  if (!read_storage_items(*data, [&](const storage::Item& item) {
        tally.add(item);
        return true;
      })) {
    return nullptr;
  }
  return std::make_shared<const SnapshotItemSource>(std::move(data), std::move(tally));
}

}  // namespace partid::replication
