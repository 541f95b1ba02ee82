#include "partid/replication/pending_writes.h"

#include <utility>

namespace partid::replication {

struct PendingWrites::Group {
  std::vector<WriteResult> results;
  size_t remaining = 0;
  Done done;
  std::unique_ptr<asio::steady_timer> timer;
};

std::vector<PendingWrites::Slot> PendingWrites::open(size_t ops, Done done) {
  auto group = std::make_shared<Group>();
  group->results.resize(ops);
  group->remaining = ops;
  group->done = std::move(done);
  pending_ += ops;
  std::vector<Slot> slots;
  slots.reserve(ops);
  for (size_t i = 0; i < ops; ++i) slots.push_back({group, i});
  if (pending_ > max_pending_) {
    for (const auto& slot : slots) {
      complete(slot, {false, 0, 0, "overloaded", "too many writes in flight; retry"});
    }
    return {};
  }
  group->timer = std::make_unique<asio::steady_timer>(loop_, timeout_);
  group->timer->async_wait([this, group, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    for (size_t i = 0; i < group->results.size(); ++i) {
      complete({group, i},
               {false, 0, 0, "quorum_timeout",
                "no quorum of replicas confirmed the write in time; it may or may not be applied"});
    }
  });
  return slots;
}

void PendingWrites::complete(const Slot& slot, WriteResult result) {
  Group& group = *slot.group;
  const auto& answered = group.results[slot.index];
  if (!group.done || answered.ok || !answered.code.empty()) return;
  --pending_;
  ++(result.ok ? committed_ : failed_);
  group.results[slot.index] = std::move(result);
  if (--group.remaining > 0) return;
  if (group.timer) group.timer->cancel();
  auto done = std::move(group.done);
  group.done = nullptr;
  done(std::move(group.results));
}

}  // namespace partid::replication
