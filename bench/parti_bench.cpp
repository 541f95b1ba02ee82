// parti_bench: Google Benchmark cases for libparti's hot paths.
//  BM_Assign/<Strategy>/<partitions>/<workers>: one full placement (the leader's
//    rebalance cost), with BM_Baseline_HashAll/<partitions> (hashing every
//    partition id once) as the same-run baseline to divide by.
//  BM_LeaveDetection: heartbeat key deleted -> MembershipTracker notified,
//    against a real nats-server started by the benchmark.
//  BM_HeartbeatPut / BM_KvGet: one KV write / read round trip to that server.
//  BM_PollSnapshot50: one round of the polling fallback (50 node records).
//  BM_CalculatorScaleRound: one calculator join-or-leave round, 1000 x 50.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>

#include "parti/assignment/calculator.h"
#include "parti/assignment/hashing.h"
#include "parti/assignment/strategy.h"
#include "parti/coord/kv_bucket.h"
#include "parti/membership/membership_tracker.h"
#include "parti/source/partition_source.h"
#include "support/nats_server.h"

namespace parti {
namespace {

std::vector<WorkerInfo> make_workers(int64_t n) {
  std::vector<WorkerInfo> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({"node-" + std::to_string(i), 1, 0, {}});
  return out;
}

void BM_Baseline_HashAll(benchmark::State& state) {
  auto parts = numbered_partitions(uint32_t(state.range(0)));
  for (auto _ : state) {
    uint64_t acc = 0;
    for (const auto& p : parts) acc ^= hash64(p.id, 0);
    benchmark::DoNotOptimize(acc);
  }
}
BENCHMARK(BM_Baseline_HashAll)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void run_assign(benchmark::State& state, const char* name) {
  auto strategy = make_strategy(name);
  auto parts = numbered_partitions(uint32_t(state.range(0)));
  auto workers = make_workers(state.range(1));
  for (auto _ : state) {
    auto a = build_assignment(*strategy, workers, parts, 1, nullptr, 1);
    benchmark::DoNotOptimize(a.replicas.data());
  }
}

#define PARTI_ASSIGN_BENCH(Strategy, key)                                \
  void BM_Assign_##Strategy(benchmark::State& s) { run_assign(s, key); } \
  BENCHMARK(BM_Assign_##Strategy)                                        \
      ->Name("BM_Assign/" #Strategy)                                     \
      ->Args({10000, 200})                                               \
      ->Args({100000, 1000})                                             \
      ->Unit(benchmark::kMillisecond)
PARTI_ASSIGN_BENCH(ConsistentHash, "consistent-hash");
PARTI_ASSIGN_BENCH(WeightedConsistentHash, "weighted");
PARTI_ASSIGN_BENCH(RoundRobin, "round-robin");
PARTI_ASSIGN_BENCH(Rendezvous, "rendezvous");

// A rebalance as the leader runs it: one worker joins and the previous
// assignment is passed in, so the sticky pass has real work to do.
void BM_Rebalance_ConsistentHash(benchmark::State& state) {
  auto strategy = make_consistent_hash();
  auto parts = numbered_partitions(uint32_t(state.range(0)));
  auto before = make_workers(state.range(1) - 1);
  auto previous = build_assignment(*strategy, before, parts, 1, nullptr, 1);
  auto after = make_workers(state.range(1));
  for (auto _ : state) {
    auto a = build_assignment(*strategy, after, parts, 1, &previous, 2);
    benchmark::DoNotOptimize(a.replicas.data());
  }
}
BENCHMARK(BM_Rebalance_ConsistentHash)
    ->Name("BM_Rebalance/ConsistentHash")
    ->Args({10000, 200})
    ->Args({100000, 1000})
    ->Unit(benchmark::kMillisecond);

struct NatsFixture {
  testing::NatsServer server;
  std::shared_ptr<coord::Connection> conn;
  std::shared_ptr<coord::KvBucket> bucket;
  NatsFixture() {
    coord::Connection::Options o;
    o.url = server.url();
    conn = coord::Connection::connect(o);
    bucket = coord::KvBucket::open_or_create(conn, {"bench-heartbeat", Millis(60000), 1}).value;
  }
};

NatsFixture& nats() {
  static NatsFixture f;
  return f;
}

void BM_LeaveDetection(benchmark::State& state) {
  auto& f = nats();
  asio::io_context loop;
  asio::thread_pool pool(2);
  std::mutex mu;
  std::condition_variable cv;
  int left = 0;
  Timings t = fast_timings();
  t.heartbeat_ttl = Millis(60000);
  t.watch_debounce = Millis(0);
  MembershipTracker tracker(loop.get_executor(), pool, f.bucket, t,
                            [&](const std::vector<MemberEvent>& ev) {
                              std::lock_guard lock(mu);
                              for (const auto& e : ev) left += e.kind == MemberEvent::Kind::Left;
                              cv.notify_all();
                            });
  auto guard = asio::make_work_guard(loop);
  std::thread runner([&] { loop.run(); });
  asio::post(loop, [&] { tracker.start(); });
  NodeRecord r;
  r.id = "node-bench";
  r.state = NodeState::Active;
  for (auto _ : state) {
    state.PauseTiming();
    f.bucket->put(r.id, encode(r));
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::seconds(5),
                  [&] { return tracker.view().find(r.id) != nullptr; });
    }
    const int before = left;
    state.ResumeTiming();
    f.bucket->erase(r.id);
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return left > before; });
  }
  asio::post(loop, [&] { tracker.stop(); });
  guard.reset();
  runner.join();
  pool.join();
}
BENCHMARK(BM_LeaveDetection)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(50)
    ->Repetitions(3)
    ->ReportAggregatesOnly();

void BM_HeartbeatPut(benchmark::State& state) {
  auto& f = nats();
  NodeRecord r;
  r.id = "node-put";
  r.locked_partitions = {1, 2, 3};
  const std::string value = encode(r);
  for (auto _ : state) benchmark::DoNotOptimize(f.bucket->put(r.id, value));
}
BENCHMARK(BM_HeartbeatPut)->Unit(benchmark::kMicrosecond)->Repetitions(3)->ReportAggregatesOnly();

void BM_KvGet(benchmark::State& state) {
  auto& f = nats();
  f.bucket->put("node-get", "x");
  for (auto _ : state) benchmark::DoNotOptimize(f.bucket->get("node-get"));
}
BENCHMARK(BM_KvGet)->Unit(benchmark::kMicrosecond)->Repetitions(3)->ReportAggregatesOnly();

// The watches' audits (WatchedKeys::audit_every): one probe per watch per
// audit interval, against BM_KvGet in the same run. The membership watch
// probes the bucket's last revision (a stream-info request); the assignment
// pointer and the layout record their key's own revision (a get of the last
// message on the key's subject).
void BM_AuditProbeLastRevision(benchmark::State& state) {
  auto& f = nats();
  f.bucket->put("node-probed", "x");
  for (auto _ : state) benchmark::DoNotOptimize(f.bucket->last_revision());
}
BENCHMARK(BM_AuditProbeLastRevision)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly();

void BM_AuditProbeRevisionOf(benchmark::State& state) {
  auto& f = nats();
  f.bucket->put("node-probed", "x");
  for (auto _ : state) benchmark::DoNotOptimize(f.bucket->revision_of("node-probed"));
}
BENCHMARK(BM_AuditProbeRevisionOf)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly();

// The polling fallback's cost per round: list and read 50 node records. A
// change is seen after poll_interval / 2 on average plus this, against the
// watch's BM_LeaveDetection.
void BM_PollSnapshot50(benchmark::State& state) {
  auto& f = nats();
  auto b = coord::KvBucket::open_or_create(f.conn, {"bench-poll", Millis(60000), 1}).value;
  NodeRecord r;
  for (int i = 0; i < 50; ++i) {
    r.id = "node-" + std::to_string(i);
    b->put(r.id, encode(r));
  }
  for (auto _ : state) benchmark::DoNotOptimize(b->entries());
}
BENCHMARK(BM_PollSnapshot50)->Unit(benchmark::kMillisecond)->Repetitions(3)->ReportAggregatesOnly();

// One full calculator round for 1000 partitions on 50 workers: a worker joins,
// the window elapses, the assignment is computed and acknowledged.
void BM_CalculatorScaleRound(benchmark::State& state) {
  auto strategy = make_consistent_hash();
  CalculatorConfig cfg;
  cfg.cooldown = Millis(0);
  auto parts = numbered_partitions(1000);
  auto workers = make_workers(50);
  Calculator calc(cfg, *strategy);
  calc.begin({}, parts, TimePoint{});
  calc.on_workers(workers, TimePoint{});
  auto first = calc.on_timer(TimePoint{} + cfg.cold_start_window);
  calc.on_published(*first.publish, TimePoint{} + cfg.cold_start_window);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  bool grow = true;
  for (auto _ : state) {
    auto ws = workers;
    if (grow) ws.push_back({"node-extra", 1, 0, {}});
    grow = !grow;
    calc.on_workers(ws, now);
    now += cfg.planned_scale_window + cfg.emergency_grace;
    auto out = calc.on_timer(now);
    if (out.publish) calc.on_published(*out.publish, now);
  }
}
BENCHMARK(BM_CalculatorScaleRound)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly();

}  // namespace
}  // namespace parti

BENCHMARK_MAIN();
