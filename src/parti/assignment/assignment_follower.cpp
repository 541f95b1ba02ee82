#include "parti/assignment/assignment_follower.h"
#include "parti/core/spawn.h"

#include <random>

namespace parti {

using coord::KvErrc;

AssignmentFollower::AssignmentFollower(asio::any_io_executor loop, asio::thread_pool& pool,
                                       std::shared_ptr<coord::KvBucket> bucket,
                                       std::shared_ptr<AssignmentStore> store, Millis poll_interval,
                                       OnAssignment on_assignment, OnError on_error)
    : loop_(loop),
      pool_(pool),
      bucket_(bucket),
      store_(std::move(store)),
      poll_interval_(poll_interval),
      on_assignment_(std::move(on_assignment)),
      on_error_(std::move(on_error)),
      keys_(loop, pool, bucket, AssignmentStore::kPointerKey, poll_interval,
            [b = bucket] { return b->entry_of(AssignmentStore::kPointerKey); },
            {[this](const coord::KvEntry& e) {
               if (!e.deleted) load(e.value);
             },
             [this](const coord::KvSnapshot& all) {
               if (!all.entries.empty()) load(all.entries.front().value);
             }}) {}

AssignmentFollower::~AssignmentFollower() { stop(); }

void AssignmentFollower::start() {
  keys_.audit_every(10 * poll_interval_,
                    [b = bucket_] { return b->revision_of(AssignmentStore::kPointerKey); });
  keys_.start();
}

void AssignmentFollower::stop() {
  keys_.stop();
  alive_.reset();
}

// A pointer read already (a poll, a renewed watch's replay) names the same
// assignment: not read again.
void AssignmentFollower::load(std::string pointer_value) {
  if (alive_ && pointer_value != loaded_pointer_)
    asio::co_spawn(loop_, load_async(std::move(pointer_value), alive_),
                   log_failure("loading an assignment"));
}

void AssignmentFollower::refetch() {
  if (alive_)
    asio::co_spawn(loop_, refetch_async(alive_), log_failure("refetching the assignment"));
}

asio::awaitable<void> AssignmentFollower::load_async(std::string pointer_value,
                                                     std::weak_ptr<bool> alive) {
  if (!alive.lock()) co_return;  // spawned: the follower may be gone already
  auto r = co_await run_blocking(
      pool_, [s = store_.get(), p = &pointer_value] { return s->read_pointed(*p); });
  if (!alive.lock()) co_return;
  if (r.ok()) {
    loaded_pointer_ = pointer_value;
    on_assignment_(r.value);
  } else if (r.status.code == KvErrc::NotFound) {
    // The pointer moved on and its chunks were collected: read the newest.
    co_await refetch_async(alive);
  } else {
    on_error_("reading assignment: " + r.status.message);
    if (r.status.transient()) co_await refetch_async(alive);  // no new pointer may come soon
  }
}

// Reads the newest assignment, retrying transient failures until it succeeds
// (or the follower stops). Retries back off exponentially with jitter: when a
// whole fleet fails to read because the server is overloaded, fixed-period
// retries from every worker at once keep it overloaded.
asio::awaitable<void> AssignmentFollower::refetch_async(std::weak_ptr<bool> alive) {
  if (!alive.lock()) co_return;  // spawned: the follower may be gone already
  asio::steady_timer backoff(loop_);
  std::minstd_rand jitter(std::random_device{}());
  Millis delay = poll_interval_;
  while (alive.lock()) {
    auto r = co_await run_blocking(pool_, [s = store_.get()] { return s->read(nullptr); });
    if (!alive.lock()) co_return;
    if (r.ok()) {
      on_assignment_(r.value);
      co_return;
    }
    if (!r.status.transient()) co_return;  // nothing published yet, or a real error
    backoff.expires_after(delay / 2 + Millis(jitter() % (delay.count() + 1)));
    delay = std::min(delay * 2, poll_interval_ * 16);
    boost::system::error_code ec;
    co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace parti
