#include "parti/manager/leader_role.h"
#include "parti/core/spawn.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace parti {

using coord::KvErrc;

LeaderRole::LeaderRole(asio::any_io_executor loop, asio::thread_pool& pool,
                       asio::thread_pool& source_pool, std::shared_ptr<AssignmentStore> store,
                       std::shared_ptr<const Strategy> strategy, CalculatorConfig config,
                       std::shared_ptr<PartitionSource> source, std::string self_id,
                       Callbacks callbacks)
    : loop_(loop),
      pool_(pool),
      source_pool_(source_pool),
      store_(std::move(store)),
      strategy_(std::move(strategy)),
      config_(config),
      source_(std::move(source)),
      self_id_(std::move(self_id)),
      cb_(std::move(callbacks)),
      timer_(loop) {}

LeaderRole::~LeaderRole() { end(); }

namespace {

struct SourceResult {
  bool ok = false;
  std::vector<Partition> partitions;
  std::string error;
};

SourceResult list_source(PartitionSource& source) {
  try {
    return {true, source.list(), {}};
  } catch (const std::exception& e) {
    return {false, {}, e.what()};
  }
}

}  // namespace

asio::awaitable<bool> LeaderRole::begin(uint64_t term, std::vector<WorkerInfo> active) {
  end();
  auto alive = term_alive_ = std::make_shared<bool>(true);
  term_ = term;
  uint64_t revision = 0;
  auto read =
      co_await run_blocking(pool_, [s = store_.get(), r = &revision] { return s->read(r); });
  if (!*alive) co_return false;
  if (!read.ok() && read.status.code != KvErrc::NotFound) {
    cb_.on_error("reading assignment: " + read.status.message);
    co_return false;
  }
  if (read.ok()) {
    auto fenced = co_await run_blocking(
        pool_, [s = store_.get(), term, revision] { return s->fence(term, revision); });
    if (!*alive) co_return false;
    if (!fenced.ok()) {
      cb_.on_error("fencing assignment: " + fenced.status.message);
      co_return false;
    }
    revision = fenced.value;
  }
  pointer_revision_ = revision;
  auto listed =
      co_await run_blocking(source_pool_, [src = source_.get()] { return list_source(*src); });
  if (!*alive) co_return false;
  if (!listed.ok) {
    cb_.on_error("partition source failed: " + listed.error);
    listed.partitions = read.value.partitions;  // keep serving the previous set
  }
  calc_ = std::make_unique<Calculator>(config_, *strategy_);
  calc_->begin(read.ok() ? read.value : Assignment{}, std::move(listed.partitions), Clock::now());
  calc_->on_hearing(hearing_since_, Clock::now());
  handle(calc_->on_workers(std::move(active), Clock::now()));
  co_return true;
}

void LeaderRole::end() {
  if (term_alive_) *term_alive_ = false;
  term_alive_.reset();
  calc_.reset();
  timer_.cancel();
}

void LeaderRole::on_members(std::vector<WorkerInfo> active, std::set<std::string> left_cleanly) {
  if (calc_) handle(calc_->on_workers(std::move(active), Clock::now(), std::move(left_cleanly)));
}

void LeaderRole::on_hearing(std::optional<TimePoint> since) {
  hearing_since_ = since;
  if (calc_) handle(calc_->on_hearing(since, Clock::now()));
}

void LeaderRole::refresh() {
  if (calc_)
    asio::co_spawn(loop_, reload_partitions(term_alive_), log_failure("reloading partitions"));
}

asio::awaitable<void> LeaderRole::reload_partitions(std::shared_ptr<bool> alive) {
  if (!*alive) co_return;
  auto listed =
      co_await run_blocking(source_pool_, [src = source_.get()] { return list_source(*src); });
  if (!*alive || !calc_) co_return;
  if (!listed.ok) {
    cb_.on_error("partition source failed: " + listed.error);
    co_return;
  }
  handle(
      calc_->on_partitions(std::move(listed.partitions), Clock::now(), /*bypass_cooldown=*/true));
}

void LeaderRole::handle(CalcOutput out) {
  if (!calc_) return;
  if (out.state_changed) cb_.on_state(calc_->state());
  if (!out.held_by.empty() && cb_.on_held) {
    cb_.on_held(fmt::format("{} rebalance waits for data still moving on {} (at most {} ms)",
                            to_string(calc_->reason()), fmt::join(out.held_by, ", "),
                            config_.resize_hold_max.count()));
  }
  if (!out.leaders_wait_for.empty() && cb_.on_held) {
    cb_.on_held(fmt::format(
        "the staged move's next step waits until {} hold(s) the partitions they take in "
        "(until then their leaderships stay with replicas that hold the data)",
        fmt::join(out.leaders_wait_for, ", ")));
  }
  if (out.publish) {
    out.publish->leader = self_id_;
    out.publish->leader_term = term_;
    asio::co_spawn(loop_, publish(std::move(*out.publish), term_alive_),
                   log_failure("publishing an assignment"));
  }
  arm();
}

void LeaderRole::arm() {
  auto deadline = calc_ ? calc_->next_deadline() : std::nullopt;
  if (!deadline) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*deadline);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(term_alive_)](boost::system::error_code ec) {
    auto a = alive.lock();
    if (ec || !a || !*a || !calc_) return;
    handle(calc_->on_timer(Clock::now()));
  });
}

// Spawned coroutines start later than co_spawn returns: the role may already
// be gone, so `alive` is checked before `this` is touched at all.
asio::awaitable<void> LeaderRole::publish(Assignment a, std::shared_ptr<bool> alive) {
  if (!*alive) co_return;
  const uint64_t expected = pointer_revision_;
  auto r = co_await run_blocking(
      pool_, [s = store_.get(), p = &a, expected] { return s->publish(*p, expected); });
  if (!*alive || !calc_) co_return;
  if (r.ok()) {
    pointer_revision_ = r.value;
    spdlog::info("{} published assignment v{} ({} workers, {} partitions, reason {}{})", self_id_,
                 a.version, a.workers.size(), a.partitions.size(), to_string(calc_->reason()),
                 calc_->staging() ? "; a step of a staged move" : "");
    cb_.on_published(a);
    handle(calc_->on_published(a, Clock::now()));
  } else if (r.status.code == KvErrc::WrongRevision) {
    cb_.on_deposed("assignment pointer moved under us: another leader published");
  } else {
    cb_.on_error("publishing assignment: " + r.status.message);
    handle(calc_->on_publish_failed(Clock::now()));
  }
}

}  // namespace parti
