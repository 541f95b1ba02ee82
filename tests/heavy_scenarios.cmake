# The integration scenarios that keep about two cores busy on their own:
# three to five partid nodes copying snapshots, failing over or moving data
# under a constant write load (each over 35 s under ASan on two cores, where
# most scenarios take under 15). ctest -jN counts each as two of its N slots
# (PROCESSORS 2), so no more than two of them share the machine at once,
# and each may take 240 s instead of the 120 of the others (the slowest
# took 106 s under ASan on a slow day, alone with lighter tests).
# Four at a time starved coordination itself (2026-12-07, ASan, the longest
# first): heartbeat puts timed out after 1 s, stable IDs lapsed after 3 s
# without a refresh, and the tests saw nodes lost that nothing had stopped.
# tests/CMakeLists.txt refuses a name no test source defines.
set(PARTI_HEAVY_SCENARIOS
  ReplicationTest.ALeaderHoldsItsBuiltSnapshotsWithinTheirBudgetAndStillRebuildsEveryone
  ReplicationTest.AFollowerTakesItsSnapshotsInWithinItsReceiveBudgetAndGetsEveryPartition
  ReplicationTest.AJoiningNodeLeadsNothingItIsStillCopyingAfterTheResizeGuardGivesUp
  ReplicationTest.ALeaderIsolatedUnderWritesLosesNoAcknowledgedWriteAndRejoins
  ReplicationTest.ACutBetweenTwoAndThreeNodesWritesEachPartitionOnOneSideOnly
  ReplicationTest.KillNineOfALeaderUnderWritesLosesNoAcknowledgedWriteOnFiveNodes
  ReplicationTest.ACutThatLeavesNatsWithTheSmallerSideWritesEachPartitionOnOneSideOnly
  ReplicationTest.ANodeWhoseDiskFillsUpStopsAndTheOthersLoseNoAcknowledgedWrite
  MergeTest.MergesUnderOverwritesLoseNoAcknowledgedWriteAndASplitRemakesAMergedPartition
  ReplicationTest.ANodeWhoseDiskStallsStopsAndItsPartitionsFailOver
  ReplicationTest.ALeaderCutFromNatsOnlyUnderWritesLosesNoAcknowledgedWriteAndRejoins
  SplitTest.TwoSplitsUnderOverwritesLoseNoAcknowledgedWriteAndMoveHalfTheSource
  ReplicationTest.AWipedReplicaIsRebuiltFromOneSnapshotLargerThanAPeerFrame
)
