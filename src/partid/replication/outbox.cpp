#include "partid/replication/outbox.h"

#include "partid/replication/core_changes.h"
#include "partid/replication/wire.h"

namespace partid::replication {

Outbox::Outbox(asio::any_io_executor loop, asio::any_io_executor work, peer::PeerClient& peers,
               const core::NodeId& self, AddressOf address_of, size_t max_frame_bytes)
    : loop_(loop),
      peers_(peers),
      self_(self),
      address_of_(std::move(address_of)),
      max_envelope_bytes_(FrameBudget::of(max_frame_bytes).envelope_bytes),
      fragments_(peers, std::move(loop), std::move(work),
                 FragmentSender::Options{.fragment_bytes =
                                             FrameBudget::of(max_frame_bytes).fragment_bytes}) {}

bool Outbox::transferring(const core::NodeId& to, uint32_t partition) const {
  const std::string* address = address_of_(to);
  return address && fragments_.busy(*address, partition);
}

std::optional<std::chrono::steady_clock::time_point> Outbox::abandoned_at(
    const core::NodeId& to, uint32_t partition) const {
  const std::string* address = address_of_(to);
  return address ? fragments_.last_abandoned(*address, partition) : std::nullopt;
}

bool Outbox::reachable(const core::NodeId& to) const {
  const std::string* address = address_of_(to);
  return address && !peers_.known_down(*address);
}

void Outbox::add(const core::NodeId& to, uint32_t partition, const core::Message& message) {
  if (const core::Snapshot* s = snapshot_in(message); s && s->size() > max_envelope_bytes_) {
    // Shares the snapshot's bytes: the rest of the wire form is made off the
    // loop, and the bytes follow it uncopied.
    send_fragmented(to, partition, [from = self_, partition, message] {
      return serialize_transfer(from, partition, message);
    });
    return;
  }
  pb::ReplMessage m;
  m.set_partition(partition);
  to_pb(message, &m);
  const size_t bytes = m.ByteSizeLong();
  if (bytes > max_envelope_bytes_) {
    auto built = std::make_shared<pb::ReplMessage>(std::move(m));
    send_fragmented(to, partition, [from = self_, built] {
      pb::ReplicationBatch batch;
      batch.set_from(from);
      batch.add_messages()->Swap(built.get());
      return TransferBytes{batch.SerializeAsString(), nullptr};
    });
    return;
  }
  *batch_for(to).add_messages() = std::move(m);
  Pending& p = pending_[to];
  p.bytes += bytes;
  if (p.bytes >= max_envelope_bytes_) {
    send(to, std::move(p.envelope));
    pending_.erase(to);
  }
  schedule_flush();
}

void Outbox::add_handoff(const core::NodeId& to, uint32_t partition, uint64_t epoch,
                         bool passes_failover) {
  auto* h = batch_for(to).add_handoffs();
  h->set_partition(partition);
  h->set_epoch(epoch);
  h->set_passes_failover(passes_failover);
  schedule_flush();
}

pb::ReplicationBatch& Outbox::batch_for(const core::NodeId& to) {
  auto* batch = pending_[to].envelope.mutable_replication();
  if (batch->from().empty()) batch->set_from(self_);
  return *batch;
}

void Outbox::schedule_flush() {
  if (scheduled_) return;
  scheduled_ = true;
  asio::post(loop_, [this] {
    scheduled_ = false;
    flush();
  });
}

void Outbox::flush() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [to, p] : pending) send(to, std::move(p.envelope));
}

void Outbox::send(const core::NodeId& to, pb::Envelope envelope) {
  const auto count = static_cast<uint64_t>(envelope.replication().messages_size());
  const std::string* address = address_of_(to);
  if (address && peers_.post(*address, std::move(envelope))) {
    sent_ += count;
  } else {
    dropped_ += count;
  }
}

void Outbox::send_fragmented(const core::NodeId& to, uint32_t partition,
                             FragmentSender::Serialize serialize) {
  const std::string* address = address_of_(to);
  if (address && fragments_.start(*address, partition, self_, std::move(serialize))) {
    ++sent_;
  } else {
    ++dropped_;
  }
}

}  // namespace partid::replication
