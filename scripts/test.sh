#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the unit and integration
# suites (real nats-server processes), then the same suites under ASan+UBSan
# and under TSan, then one short benchmark pass so the benchmark binary works.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.h')
bash scripts/build.sh release
# More tests at once than cores: the integration tests spend most of their
# time waiting on real processes (nats-server, partid) to reach a state, under
# the sanitizers too. Measured on two cores (2026-12-06, no cost data, as on a
# clean clone): release 181 s with four at a time, 129 s with six; ASan 271 s
# with two, 196 s with three, 174 s with four; TSan 56 + 34 s with four, where
# CI took 124 + 65 s with two. Every test waits on a condition with a
# deadline, so a slower machine makes them longer, not red.
ctest --test-dir build --output-on-failure -j6 --timeout 180
bash scripts/build.sh asan
# The simulator sweep is single-threaded pure logic that runs 50 times slower
# unoptimised and instrumented: the release suite runs 2,000 seeds, ASan 20
# (memory errors in the core show up on any schedule).
# ASan runs every integration and concurrency test. From 2026-12-03 to
# 12-06 it left out the 20 longest scenarios (the five-node ones, splits and
# merges under overwrites, partictl's walk, NATS losses), which took the run
# past 30 minutes at two tests at a time; at four they take 98 s on their own
# (2026-12-06). The two five-node cuts stayed out one stop longer: in the
# first run with them back one did not converge, a new coordinator having
# dropped the staged move it took over (fixed since; LeaderTest.ALeaseLost...).
# The unit tests are logic on one thread: under ASan they run as one process
# (369 processes of the instrumented binary spent most of their 131
# test-seconds starting up; 19 s as one), beside nothing else.
PARTID_SIM_SEEDS=20 ./build-asan/tests/parti_unit_tests --gtest_brief=1
# The short soak (label soak) is release only: the sanitizer builds leave bench/ out.
PARTID_SIM_SEEDS=20 ctest --test-dir build-asan --output-on-failure -j4 --timeout 300 \
  -LE 'soak|unit'
bash scripts/build.sh tsan
# TSan checks code with threads, not the single-threaded unit tests (the
# simulator among them): every concurrency test, every libparti integration
# test (the Manager, the election, membership and the NATS client run their
# threads inside the test process), and of partid's scenarios one for each
# path on which work crosses between a node's threads (the loop, the RocksDB
# pool, the Manager, the NATS request threads of the seal register, the layout
# and the active format, the drain's stopping thread). Every partid scenario
# runs the same threads; the others add paths, not crossings.
partid_suites='PartidTest|PartidBadInputTest|PartidFdLimitTest|ReplicationTest|NatsClusterTest|TxnTest|SplitTest|MergeTest|UpgradeTest|PartictlTest'
tsan_partid=(
  'PartidTest\.WriteThroughOneNodeReadThroughEveryOther'                # writes, reads, forwarding
  'PartidTest\.BatchWritesSpreadOverManyPartitions'                     # many pipelines at once
  'ReplicationTest\.KillNineOfALeaderUnderWritesLosesNoAcknowledgedWriteOnThreeNodes' # failover, seal register
  'ReplicationTest\.APausedFollowerCatchesUpWhenResumed'                # catch-up from the log
  'ReplicationTest\.AWipedReplicaIsRebuiltFromTheOthers'                # snapshots, decoded off the loop
  'ReplicationTest\.AWipedReplicaIsRebuiltFromOneSnapshotLargerThanAPeerFrame' # fragments; the receive budget's count dropped off the loop
  'ReplicationTest\.ADrainedNodeHandsItsPartitionsOverEvenWithASingleReplica' # the drain's thread
  'ReplicationTest\.ALeaderReportsAFollowerThatFallsBehindUntilItCatchesUp'   # metrics, progress records
  'ReplicationTest\.AdminOperationsNeedTheTokenAndKeepThePartitionServing'    # admin operations
  'TxnTest\.ConcurrentTransactionsLeaveAGroupWholeThroughALeaderKill'   # transactions, locks
  'TxnTest\.TransactionsACoordinatorLeftAreFinishedByRecovery'          # transaction recovery
  'SplitTest\.ASplitWhoseSourceLeaderIsKilledIsFinishedByTheNextLeader' # the layout record, splits
  'MergeTest\.AMergeWhoseSourceLeaderIsKilledIsFinishedByTheNextLeader' # merges
  'PartidBadInputTest\.ADeadNatsMakesNodesDegradedNotDead'              # NATS lost and back
)
# libnats is not built with TSan; tests/tsan.supp hides only its internals.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp"
ctest --test-dir build-tsan --output-on-failure -j4 --timeout 300 \
  -L 'integration|concurrency' -E "^($partid_suites)\."
tsan_partid_re="^($(IFS='|'; echo "${tsan_partid[*]}"))\$"
# A renamed scenario must not drop out of the run unnoticed.
found=$(ctest --test-dir build-tsan -N -R "$tsan_partid_re" | grep -c 'Test *#' || true)
if [ "$found" -ne "${#tsan_partid[@]}" ]; then
  echo "the TSan list names ${#tsan_partid[@]} scenarios, ctest finds $found" >&2
  exit 1
fi
# Two at a time: four instrumented three-node clusters on two cores starved
# coordination (nodes counted lost that nothing stopped, a 503 on a setup
# write) and took longer in all (105-126 s against 94 s at -j2, 2026-12-07).
ctest --test-dir build-tsan --output-on-failure -j2 --timeout 300 -R "$tsan_partid_re"
unset TSAN_OPTIONS
./build/bench/parti_bench --benchmark_filter='BM_Assign/ConsistentHash/10000|BM_Baseline_HashAll/10000' --benchmark_min_time=0.05
./build/bench/partid_bench --benchmark_filter='/1000$' --benchmark_min_time=0.05
