// assignment: the leader's rebalance state machine, sans-I/O. It is fed the
// live workers, the partition set and timer firings, and answers with the
// assignment to publish (if any). The shell publishes it and reports back.
//
//   Idle -> Scaling (cold start / restart / planned scale window) -> Rebalancing -> Idle
//   Idle -> Emergency (a worker gone for longer than the grace period)
//        -> Rebalancing (leader balance, once the cooldown has passed) -> Idle
//
// Guarantees: an absence shorter than the grace period never rebalances; two
// rebalances are at least `cooldown` apart unless an emergency or a manual
// refresh bypasses it; an unchanged topology publishes nothing. After an
// emergency, whose leaders the successor rule chose for survival rather than
// balance, one planned rebalance follows a cooldown later and restores
// balanced leadership (DESIGN 4.2) unless something else rebalanced first.
//
// The resize guard (DESIGN 4.3): a planned rebalance that is due while any
// worker reports data still moving for the last one (WorkerInfo::moving_data)
// waits until none does, or `resize_hold_max` has passed since it first
// waited, so two resizes do not overlap (a partition moved on before its new
// replicas have the data). Emergencies, restarts, cold starts and refreshes
// never wait: they restore service or were asked for.
//
// Staged moves (assignment/staging.h, `staged_moves`): a planned rebalance
// that would replace a majority of a partition's replicas, or give it a
// leader that holds nothing, publishes one step towards the placement; the
// next step follows as a StagedMove rebalance, after the cooldown and under
// the resize guard, until the placement is reached. Emergencies, restarts and
// cold starts are never staged, with one exception that holds for every
// rebalance: a replica a partition did not have, or still takes in
// (WorkerInfo::importing), does not lead it while one that holds it stays
// listed (keep_leaders_with_data); it may lead from a later step, published
// the same way once it no longer takes the data in.
//
// Workers that ask not to lead (WorkerInfo::avoid_leading): when the set of
// them differs from the one the last computed assignment saw, a planned
// LeaderBalance rebalance follows (cooldown and resize guard apply), which
// moves leaderships off them, or back once they stop asking.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/assignment/strategy.h"
#include "parti/core/assignment.h"
#include "parti/core/types.h"

namespace parti {

enum class CalcState { Idle, Scaling, Rebalancing, Emergency };
enum class RebalanceReason {
  None,
  ColdStart,
  Restart,
  PlannedScale,
  Emergency,
  PartitionsChanged,
  LeaderBalance,
  StagedMove
};

const char* to_string(CalcState s);
const char* to_string(RebalanceReason r);
// A rebalance nothing urgent asked for: it waits under the resize guard and
// may be staged.
bool is_planned(RebalanceReason why);

struct CalculatorConfig {
  Millis cold_start_window{30000};
  Millis planned_scale_window{10000};
  Millis emergency_grace{1500};
  Millis cooldown{10000};
  Millis publish_retry{500};
  double restart_ratio = 0.5;
  uint32_t replication_factor = 1;
  Millis resize_hold_max{60000};  // 0: planned rebalances never wait for moving data
  bool staged_moves = true;
  // How long after this coordinator began hearing NATS (its connection came
  // back, or first came up) a worker it has not heard yet may be counted
  // absent: a live worker's heartbeat may need a reconnect, a request that
  // timed out against a server still starting, and an interval to arrive.
  // Until then a NATS outage, which lapses every record, looks like a
  // fleet that died. 0: absence counts from the first evaluation.
  Millis rejoin_window{0};
};

struct CalcOutput {
  std::optional<Assignment> publish;  // version = previous + 1; term/leader filled by the shell
  bool state_changed = false;
  // Set when the resize guard starts holding a rebalance back: the workers
  // that still move data (once per hold, for the shell to report).
  std::vector<std::string> held_by;
  // Set when a staged move starts waiting, with nothing to publish, for
  // replicas still taking their data in before they may lead: those workers
  // (once per wait: the wait has no bound, so the shell must say why the
  // move does not finish).
  std::vector<std::string> leaders_wait_for;
};

class Calculator {
 public:
  Calculator(CalculatorConfig config, const Strategy& strategy);

  // Leadership begins: adopt what is published and the partition set.
  void begin(Assignment published, std::vector<Partition> partitions, TimePoint now);
  // `left_cleanly`: workers whose clean leave was seen (never held back by
  // the rejoin window: they were heard to go).
  CalcOutput on_workers(std::vector<WorkerInfo> active, TimePoint now,
                        std::set<std::string> left_cleanly = {});
  CalcOutput on_partitions(std::vector<Partition> partitions, TimePoint now, bool bypass_cooldown);
  CalcOutput on_timer(TimePoint now);
  CalcOutput on_published(const Assignment& published, TimePoint now);
  CalcOutput on_publish_failed(TimePoint now);
  // This coordinator's connection to NATS came up at `since` (workers it has
  // not heard are not counted absent before since + rejoin_window), or went
  // down (nullopt): while it hears nothing, every record lapses in its view,
  // so it decides nothing and arms no deadline.
  CalcOutput on_hearing(std::optional<TimePoint> since, TimePoint now);

  CalcState state() const { return state_; }
  RebalanceReason reason() const { return reason_; }
  std::optional<TimePoint> next_deadline() const { return deaf_ ? std::nullopt : deadline_; }
  const Assignment& published() const { return published_; }
  // What awaits publishing is a step of a staged move, short of the placement.
  bool staging() const { return staged_; }

 private:
  CalcOutput evaluate(TimePoint now);
  // Nothing is decided: a publish is in flight, NATS is not heard, or no
  // worker has been seen yet.
  bool waiting_for_input() const;
  CalcOutput enter(CalcState s, RebalanceReason why, std::optional<TimePoint> deadline);
  CalcOutput compute(TimePoint now, RebalanceReason why);
  bool workers_match_published() const;
  bool data_moving() const;
  // Holds `why` back under the resize guard: the output to return, or nullopt
  // when it may go ahead now.
  std::optional<CalcOutput> hold(TimePoint now, RebalanceReason why);
  // The observed workers that report partitions they still take in.
  std::vector<std::string> importing_workers() const;
  std::set<std::string> lost_workers() const;
  std::set<std::string> avoiding_leading() const;
  // The set of workers asking not to lead is not the one the last computed
  // assignment saw (a coordinator just begun saw none it knows of).
  bool avoiders_changed() const;
  // `t`, or the end of the rejoin window when that is later and one of the
  // `lost` was not heard to leave.
  TimePoint after_rejoin_window(TimePoint t, const std::set<std::string>& lost) const;

  CalculatorConfig config_;
  const Strategy& strategy_;
  CalcState state_ = CalcState::Idle;
  RebalanceReason reason_ = RebalanceReason::None;
  std::optional<TimePoint> deadline_;
  std::optional<TimePoint> last_publish_;
  bool bypass_cooldown_ = false;
  bool awaiting_publish_ = false;
  bool staged_ = false;                  // what awaits publishing is a step short of the placement
  std::optional<TimePoint> held_since_;  // the resize guard holds a rebalance back
  bool leaders_waiting_ = false;         // a staged move waits for replicas to hold their data
  Assignment published_;
  std::vector<Partition> partitions_;
  std::vector<WorkerInfo> observed_;
  std::map<std::string, TimePoint> absent_since_;
  std::optional<TimePoint> listening_since_;
  std::set<std::string> left_cleanly_;
  std::optional<std::set<std::string>> avoiders_computed_;  // as of the last compute()
  bool deaf_ = false;
  // on_workers() has been called since begin(): until then the calculator
  // knows no worker, which is not the same as knowing there are none.
  bool workers_seen_ = false;
};

}  // namespace parti
