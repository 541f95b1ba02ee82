#include "partid/replication/fragments.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace partid::replication {

struct FragmentSender::Transfer {
  std::string address;
  uint32_t partition = 0;
  std::string from;
  uint64_t id = 0;
  TransferBytes bytes;
  uint32_t count = 0;
  uint32_t next = 0;
  Clock::time_point started;
  std::optional<Clock::time_point> busy_since;  // the peer's first busy answer
  std::chrono::milliseconds busy_delay{0};      // the last wait before trying again
};

FragmentSender::FragmentSender(peer::PeerClient& peers, asio::any_io_executor loop,
                               asio::any_io_executor work, Options options)
    : peers_(peers), loop_(std::move(loop)), work_(std::move(work)), options_(options) {
  // Transfer ids only need to differ from those of this sender's earlier
  // runs that a receiver may still be assembling.
  std::random_device rd;
  next_id_ = (uint64_t{rd()} << 32) | rd();
}

FragmentSender::~FragmentSender() { *alive_ = false; }

bool FragmentSender::busy(const std::string& address, uint32_t partition) const {
  if (running_.contains({address, partition}) || settling({address, partition})) return true;
  auto it = per_peer_.find(address);
  return it != per_peer_.end() && it->second >= options_.max_transfers_per_peer;
}

std::optional<std::chrono::steady_clock::time_point> FragmentSender::last_abandoned(
    const std::string& address, uint32_t partition) const {
  auto it = abandoned_at_.find({address, partition});
  if (it == abandoned_at_.end()) return std::nullopt;
  return it->second;
}

bool FragmentSender::settling(const Key& key) const {
  auto s = settling_.find(key);
  return s != settling_.end() && Clock::now() < s->second;
}

bool FragmentSender::start(const std::string& address, uint32_t partition, const std::string& from,
                           Serialize serialize) {
  const Key key{address, partition};
  if (running_.contains(key) || settling(key)) return false;
  auto t = std::make_shared<Transfer>();
  t->address = address;
  t->partition = partition;
  t->from = from;
  t->id = next_id_++;
  running_.insert(key);
  if (per_peer_[address] >= options_.max_transfers_per_peer) {
    // Waits for a transfer to this peer to end: the snapshot was built when
    // the peer had room (busy()), and another took it meanwhile; dropped, it
    // would be built again, seconds of work for a large partition.
    waiting_[address].push_back({std::move(t), std::move(serialize)});
    return true;
  }
  launch(std::move(t), std::move(serialize));
  return true;
}

void FragmentSender::launch(std::shared_ptr<Transfer> t, Serialize serialize) {
  t->started = Clock::now();
  ++per_peer_[t->address];
  ++started_;
  asio::post(work_, [this, t, serialize = std::move(serialize), loop = loop_, alive = alive_] {
    auto batch = std::make_shared<TransferBytes>(serialize());
    asio::post(loop, [this, t, batch, alive] {
      if (*alive) send_first(t, std::move(*batch));
    });
  });
}

void FragmentSender::send_first(std::shared_ptr<Transfer> t, TransferBytes batch) {
  const size_t step = options_.fragment_bytes;
  t->count = static_cast<uint32_t>((batch.size() + step - 1) / step);
  t->bytes = std::move(batch);
  send_next(std::move(t));
}

void FragmentSender::send_next(std::shared_ptr<Transfer> t) {
  pb::Envelope envelope;
  auto* f = envelope.mutable_fragment();
  f->set_from(t->from);
  f->set_transfer(t->id);
  f->set_index(t->next);
  f->set_count(t->count);
  f->set_data(t->bytes.slice(size_t{t->next} * options_.fragment_bytes, options_.fragment_bytes));
  const std::string address = t->address;
  const auto timeout =
      t->next + 1 == t->count ? options_.last_fragment_timeout : options_.fragment_timeout;
  peers_.call(address, std::move(envelope), timeout,
              [this, t = std::move(t), alive = alive_](peer::PeerReply reply) mutable {
                if (!*alive) return;
                const pb::ReplFragmentAck* ack =
                    reply.envelope && reply.envelope->has_fragment_ack()
                        ? &reply.envelope->fragment_ack()
                        : nullptr;
                const bool ok = ack && ack->ok();
                if (!ok && ack && ack->busy() && t->next == 0) {
                  if (!t->busy_since) {
                    spdlog::info("snapshot transfer of partition {} to {} waits: {}", t->partition,
                                 t->address, ack->error());
                  }
                  retry_when_busy(std::move(t));
                } else if (!ok) {
                  spdlog::info("snapshot transfer of partition {} to {} abandoned at {}/{}: {}",
                               t->partition, t->address, t->next + 1, t->count,
                               ack ? ack->error() : reply.error);
                  finish(*t, false);
                } else if (++t->next == t->count) {
                  finish(*t, true);
                } else {
                  send_next(std::move(t));
                }
              });
}

void FragmentSender::retry_when_busy(std::shared_ptr<Transfer> t) {
  ++busy_refusals_;
  const auto now = Clock::now();
  if (!t->busy_since) t->busy_since = now;
  if (now - *t->busy_since >= options_.busy_patience) {
    spdlog::info("snapshot transfer of partition {} to {} abandoned: the peer stayed busy",
                 t->partition, t->address);
    return finish(*t, false);
  }
  t->busy_delay = t->busy_delay.count() == 0 ? options_.busy_retry
                                             : std::min(t->busy_delay * 2, options_.busy_retry_max);
  auto timer = std::make_shared<asio::steady_timer>(loop_, t->busy_delay);
  timer->async_wait([this, timer, t = std::move(t), alive = alive_](boost::system::error_code) {
    if (*alive) send_next(t);
  });
}

void FragmentSender::finish(const Transfer& t, bool ok) {
  const auto now = Clock::now();
  std::erase_if(settling_, [&](const auto& kv) { return kv.second <= now; });
  running_.erase({t.address, t.partition});
  if (ok) {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - t.started);
    settling_[{t.address, t.partition}] = now + std::max(took, options_.fragment_timeout);
  } else {
    abandoned_at_[{t.address, t.partition}] = now;
  }
  if (--per_peer_[t.address] == 0) per_peer_.erase(t.address);
  ++(ok ? completed_ : abandoned_);
  auto waiting = waiting_.find(t.address);
  if (waiting == waiting_.end()) return;
  auto next = std::move(waiting->second.front());
  waiting->second.pop_front();
  if (waiting->second.empty()) waiting_.erase(waiting);
  launch(std::move(next.transfer), std::move(next.serialize));
}

namespace {

constexpr const char* kTooLarge = "transfer too large for this node (--max-snapshot-mib)";

FragmentAssembler::Result refused(std::string why, bool busy = false) {
  FragmentAssembler::Result r;
  r.error = std::move(why);
  r.busy = busy;
  return r;
}

FragmentAssembler::Result accepted(std::optional<std::string> message = std::nullopt,
                                   std::shared_ptr<void> held = nullptr) {
  return {true, {}, false, std::move(message), std::move(held)};
}

}  // namespace

FragmentAssembler::Result FragmentAssembler::add(const pb::ReplFragment& fragment,
                                                 Clock::time_point now) {
  forget_idle(now);
  if (fragment.count() == 0 || fragment.index() >= fragment.count()) {
    return refused("fragment index out of range");
  }
  if (fragment.index() == 0) return start(fragment, now);
  auto it = transfers_.find({fragment.from(), fragment.transfer()});
  if (it == transfers_.end()) return refused("unknown transfer");
  Partial& p = it->second;
  if (fragment.index() != p.next || fragment.count() != p.count) {
    transfers_.erase(it);
    return refused("fragment out of order");
  }
  if (p.bytes.size() + fragment.data().size() > limits_.max_transfer_bytes) {
    transfers_.erase(it);
    return refused(kTooLarge);
  }
  p.bytes += fragment.data();
  p.last_seen = now;
  if (++p.next < p.count) return accepted();
  Result done = accepted(std::move(p.bytes), std::move(p.held));
  transfers_.erase(it);
  return done;
}

FragmentAssembler::Result FragmentAssembler::start(const pb::ReplFragment& fragment,
                                                   Clock::time_point now) {
  const auto key = std::make_pair(fragment.from(), fragment.transfer());
  transfers_.erase(key);  // a restart of the same transfer replaces it
  if (fragment.data().size() > limits_.max_transfer_bytes) return refused(kTooLarge);
  if (fragment.count() == 1) {
    return accepted(fragment.data(), budget_.reserve(fragment.data().size()));
  }
  if (transfers_.size() >= limits_.max_transfers) return refused("too many transfers", true);
  if (!budget_.has_room()) {
    return refused(
        "the snapshots this node is receiving fill its budget (--snapshot-receive-budget-mib)",
        true);
  }
  // The whole transfer (its fragments but the last are all this size).
  const auto expected = static_cast<size_t>(std::min<uint64_t>(
      uint64_t{fragment.count()} * fragment.data().size(), limits_.max_transfer_bytes));
  Partial& p = transfers_[key] = Partial{fragment.count(), 1, {}, now, budget_.reserve(expected)};
  // Room for all of it at once: growing a string of hundreds of megabytes
  // fragment by fragment would copy it again and again, on the loop.
  p.bytes.reserve(expected);
  p.bytes = fragment.data();
  return accepted();
}

void FragmentAssembler::forget_idle(Clock::time_point now) {
  std::erase_if(transfers_,
                [&](const auto& kv) { return now - kv.second.last_seen > limits_.idle_timeout; });
}

}  // namespace partid::replication
