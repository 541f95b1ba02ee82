// A partition snapshot's wire form, written and read one item at a time
// (replication/wire.h): the bytes are a PartitionSnapshot's, so nodes that
// build or parse the whole message read them the same way.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "partid/replication/core_changes.h"
#include "partid/replication/wire.h"

namespace partid::replication {
namespace {

std::vector<storage::Item> sample_items() {
  return {
      {"", "", "", {0, 0, 0}, false},
      {"user-1", "2026-12-06", "hello", {7ull << 16, 3, 2}, false},
      {std::string("a\0b", 3), "\xff\xfe", std::string(300000, 'x'), {UINT64_MAX, 9, 4}, false},
      {"user-1", "gone", "", {8ull << 16, 10, 4}, true},
  };
}

std::string whole_message_encoding(const std::vector<storage::Item>& items) {
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

TEST(SnapshotWireTest, ItemByItemEncodingIsThePartitionSnapshotMessage) {
  const auto items = sample_items();
  EXPECT_EQ(encode_snapshot(items), whole_message_encoding(items));
  EXPECT_EQ(encode_snapshot({}), "");
}

TEST(SnapshotWireTest, DecodingGivesBackEveryItemInOrder) {
  const auto items = sample_items();
  auto decoded = decode_snapshot(encode_snapshot(items));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, items);
  auto empty = decode_snapshot("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(SnapshotWireTest, FieldsANewerSenderAddsAreSkipped) {
  const auto items = sample_items();
  // Field 2 as a varint, field 3 length-delimited, field 4 fixed64, field 5
  // fixed32, before and after the items.
  const std::string unknown = std::string("\x10\x96\x01", 3) + std::string("\x1a\x03xyz", 5) +
                              std::string("\x21", 1) + std::string(8, '\x01') +
                              std::string("\x2d", 1) + std::string(4, '\x02');
  auto decoded = decode_snapshot(unknown + encode_snapshot(items) + unknown);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, items);
}

TEST(SnapshotWireTest, BytesThatAreNotASnapshotAreRefused) {
  const std::string good = encode_snapshot(sample_items());
  EXPECT_FALSE(decode_snapshot(good.substr(0, good.size() - 1)));  // cut in its last item
  const std::string large = encode_snapshot({sample_items()[2]});  // a 3-byte length
  EXPECT_FALSE(decode_snapshot(large.substr(0, 2)));               // cut in that length
  EXPECT_FALSE(decode_snapshot(good + "\x0a\x05" + "ab"));         // a length past the end
  EXPECT_FALSE(decode_snapshot("\x0b\x0c"));                       // a group
  EXPECT_FALSE(decode_snapshot("\x0a\x02\xff\xff"));               // an item that does not parse
  EXPECT_FALSE(decode_snapshot(std::string(16, '\xff')));          // no tag at all
  EXPECT_FALSE(decode_snapshot(std::string(3, '\xff')));           // a tag cut short
}

// An install reads a snapshot's items from its bytes (snapshot_items): every
// reading gives the same items in order, the tally is theirs, a reader may
// stop early, and bytes that are not a snapshot give no source at all.
TEST(SnapshotWireTest, ASnapshotsItemsAreReadFromItsBytesAsOftenAsAsked) {
  const auto items = sample_items();
  const core::SnapshotBytes bytes = core::snapshot_bytes(encode_snapshot(items));
  auto source = snapshot_items(bytes);
  ASSERT_TRUE(source);
  EXPECT_EQ(source->encoded_bytes(), bytes->size());
  for (int reading = 0; reading < 2; ++reading) {
    std::vector<storage::Item> read;
    source->for_each([&](storage::Item& item) {
      read.push_back(std::move(item));
      return true;
    });
    EXPECT_EQ(read, items);
  }
  EXPECT_EQ(source->tally().item_count, 3);  // the tombstone is not an item
  EXPECT_EQ(source->tally().newest_hlc, UINT64_MAX);
  size_t seen = 0;
  source->for_each([&](storage::Item&) { return ++seen < 2; });
  EXPECT_EQ(seen, 2u);
  const std::string good = *bytes;
  EXPECT_FALSE(snapshot_items(core::snapshot_bytes(good.substr(0, good.size() - 1))));
  EXPECT_FALSE(snapshot_items(core::snapshot_bytes("\x0a\x02\xff\xff")));
  auto empty = snapshot_items(core::snapshot_bytes(""));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->tally(), storage::ItemTally{});
}

// What a message's transfer is when serialized whole, as one protobuf.
std::string whole_transfer(const std::string& from, uint32_t partition,
                           const core::Message& message) {
  pb::ReplicationBatch batch;
  batch.set_from(from);
  auto* m = batch.add_messages();
  m->set_partition(partition);
  to_pb(message, m);
  return batch.SerializeAsString();
}

// Parses head and tail as one batch and serializes it again: the same
// bytes as the whole message's if they parse to the same message.
std::string reparsed(const TransferBytes& t) {
  pb::ReplicationBatch batch;
  EXPECT_TRUE(batch.ParseFromString(t.slice(0, t.size())));
  return batch.SerializeAsString();
}

TEST(SnapshotWireTest, ATransferSharesTheSnapshotsBytesAndParsesAsTheWholeMessage) {
  for (size_t bytes : {size_t{5}, size_t{300'000}}) {  // one-byte and three-byte lengths
    const core::SnapshotBytes data = core::snapshot_bytes(std::string(bytes, 's'));
    const std::vector<core::Message> messages = {
        core::InstallSnapshot{4, {{3, 90}, data}, 95, 99},
        core::SyncReply{
            5, 10, {{10, 4, false, "x"}, {11, 5, true, ""}}, core::Snapshot{{2, 9}, data}},
    };
    for (const auto& message : messages) {
      const TransferBytes t = serialize_transfer("node-1", 7, message);
      EXPECT_EQ(t.tail, data);  // the same bytes, not a copy
      EXPECT_EQ(reparsed(t), whole_transfer("node-1", 7, message));
      std::string received = t.slice(0, t.size());
      const char* buffer = received.data();
      auto parsed = parse_transfer(std::move(received), "node-1");
      ASSERT_TRUE(parsed);
      ASSERT_EQ(parsed->size(), 1u);
      EXPECT_EQ((*parsed)[0].first, 7u);
      ASSERT_TRUE((*parsed)[0].second);
      EXPECT_EQ((*parsed)[0].second->index(), message.index());
      const core::Snapshot* s = snapshot_in(*(*parsed)[0].second);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(*s->data, *data);
      // The snapshot's bytes stay in the transfer's buffer: never copied.
      if (bytes > 1000) {
        EXPECT_EQ(s->data->data(), buffer);
      }
    }
  }
}

// Transfers whose bytes do not end with a snapshot's, as serialize_transfer
// writes them, parse as protobuf parses them; bytes that do not parse, or
// whose enclosing lengths lie, are refused.
TEST(SnapshotWireTest, TransfersOfAnyOtherShapeParseAsAWholeBatch) {
  const core::Message no_snapshot = core::SyncReply{5, 10, {{10, 4, false, "x"}}, std::nullopt};
  const std::string plain = whole_transfer("node-1", 7, no_snapshot);
  auto parsed = parse_transfer(std::string(plain), "node-1");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  const auto* reply = std::get_if<core::SyncReply>(&*(*parsed)[0].second);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->entries, std::get<core::SyncReply>(no_snapshot).entries);
  EXPECT_FALSE(reply->snapshot);
  // A snapshot that is not the last field: parsed whole, bytes copied.
  const core::Message install =
      core::InstallSnapshot{4, {{3, 90}, core::snapshot_bytes(std::string(5000, 's'))}, 95, 99};
  pb::ReplicationBatch batch;
  batch.set_from("node-1");
  auto* m = batch.add_messages();
  m->set_partition(7);
  to_pb(install, m);
  batch.add_handoffs()->set_partition(7);
  parsed = parse_transfer(batch.SerializeAsString(), "node-1");
  ASSERT_TRUE(parsed);
  ASSERT_NE(snapshot_in(*(*parsed)[0].second), nullptr);
  EXPECT_EQ(*snapshot_in(*(*parsed)[0].second)->data, std::string(5000, 's'));
  EXPECT_FALSE(parse_transfer(std::string(plain), "node-2"));  // not from its sender
  const std::string good = serialize_transfer("node-1", 7, install).slice(0, SIZE_MAX);
  EXPECT_FALSE(parse_transfer(good.substr(0, good.size() - 1), "node-1"));  // cut short
  EXPECT_FALSE(parse_transfer(good + "x", "node-1"));  // past its enclosing lengths
}

// Whatever the bytes, parse_transfer (which parses a transfer's head apart
// from its snapshot's bytes) answers what protobuf's parse of the whole
// batch answers: refused, or the same messages with the same snapshot bytes.
TEST(SnapshotWireTest, AnyBytesParseAsProtobufParsesTheWholeBatch) {
  const core::Message messages[] = {
      core::InstallSnapshot{4, {{3, 90}, core::snapshot_bytes(std::string(3000, 's'))}, 95, 99},
      core::SyncReply{
          5, 10, {{10, 4, false, "x"}}, core::Snapshot{{2, 9}, core::snapshot_bytes("d")}},
  };
  std::mt19937 rng(20261207);
  size_t agreed_parsed = 0, agreed_refused = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string bytes = serialize_transfer("node-1", 7, messages[round % 2]).slice(0, SIZE_MAX);
    const size_t head = bytes.size() - snapshot_in(messages[round % 2])->size();
    switch (rng() % 4) {
      case 0:  // a byte of the head changed
      case 1:
        bytes[rng() % head] = static_cast<char>(rng());
        break;
      case 2:  // cut anywhere
        bytes.resize(rng() % bytes.size());
        break;
      default:  // something after it
        bytes += std::string(1 + rng() % 3, static_cast<char>(rng()));
        break;
    }
    pb::ReplicationBatch whole;
    const bool parses = whole.ParseFromString(bytes) && whole.from() == "node-1";
    auto parsed = parse_transfer(std::string(bytes), "node-1");
    ASSERT_EQ(parsed.has_value(), parses) << "round " << round;
    if (!parses) {
      ++agreed_refused;
      continue;
    }
    ++agreed_parsed;
    ASSERT_EQ(parsed->size(), static_cast<size_t>(whole.messages_size())) << "round " << round;
    for (int i = 0; i < whole.messages_size(); ++i) {
      const auto& [partition, message] = (*parsed)[static_cast<size_t>(i)];
      EXPECT_EQ(partition, whole.messages(i).partition()) << "round " << round;
      auto expected = from_pb(whole.messages(i));
      ASSERT_EQ(message.has_value(), expected.has_value()) << "round " << round;
      if (!message) continue;
      EXPECT_EQ(message->index(), expected->index()) << "round " << round;
      const core::Snapshot* got = snapshot_in(*message);
      const core::Snapshot* want = snapshot_in(*expected);
      ASSERT_EQ(got == nullptr, want == nullptr) << "round " << round;
      if (got) {
        EXPECT_EQ(*got->data, *want->data) << "round " << round;
        EXPECT_EQ(got->through, want->through) << "round " << round;
      }
    }
  }
  EXPECT_GT(agreed_parsed, 100u);  // both kinds of answer were compared
  EXPECT_GT(agreed_refused, 100u);
}

TEST(SnapshotWireTest, ATransferWithoutSnapshotBytesIsAllHead) {
  const std::vector<core::Message> messages = {
      core::InstallSnapshot{4, {{3, 90}, core::snapshot_bytes("")}, 95, 99},
      core::SyncReply{5, 10, {{10, 4, false, "x"}}, std::nullopt},
  };
  for (const auto& message : messages) {
    const TransferBytes t = serialize_transfer("node-1", 7, message);
    EXPECT_EQ(t.tail, nullptr);
    EXPECT_EQ(t.head, whole_transfer("node-1", 7, message));
  }
}

TEST(SnapshotWireTest, ASliceOfATransferReadsAcrossHeadAndTail) {
  const TransferBytes t{"head", std::make_shared<const std::string>("tail")};
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.slice(0, 3), "hea");
  EXPECT_EQ(t.slice(2, 4), "adta");
  EXPECT_EQ(t.slice(5, 10), "ail");
  EXPECT_EQ(t.slice(8, 1), "");
  const TransferBytes alone{"head", nullptr};
  EXPECT_EQ(alone.size(), 4u);
  EXPECT_EQ(alone.slice(1, 10), "ead");
}

}  // namespace
}  // namespace partid::replication
