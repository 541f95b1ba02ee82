// upgrade: which data format a cluster may write. A node's build reads and
// writes formats up to storage::kStorageFormat; a change an older build
// would misread (a new kind of log entry, say) raises it. During a rolling
// upgrade, old and new builds run side by side, so a node may write in a new
// format only once every node can read it: the cluster's *active* format is
// a ratchet in NATS KV, raised to the lowest format the live nodes publish
// in their records, never lowered; a node whose build is older than the
// active format refuses to start, since the data it would receive may
// already use the newer format. `--preserve-format N` makes a node publish
// N (and mark its data directory N), holding the cluster at N so that a
// rollback to a build of format N stays possible; so that it holds while
// the node restarts too, it also leaves a *hold* in the bucket, removed when
// the node starts without the flag and ignored once a day old without being
// renewed (a node retired while preserving must not hold the cluster back
// for ever; a node of this build never misreads, holds only keep the rollback).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace partid::upgrade {

// The first format each feature writes.
inline constexpr uint32_t kTxnFormat = 3;        // transaction steps with deadlines, TXN_FORGET
inline constexpr uint32_t kConditionFormat = 4;  // conditions on a transaction's writes
inline constexpr uint32_t kSplitFormat = 5;      // partition splits (ItemOp SPLIT_*)
inline constexpr uint32_t kMergeFormat = 6;      // partition merges (ItemOp MERGE_*)

struct FormatView {
  uint32_t build = 0;        // what this build writes (storage::kStorageFormat)
  uint32_t preserve = 0;     // --preserve-format (0: none)
  uint32_t active = 0;       // the cluster's ratchet as this node last read it (0: never set)
  uint32_t lowest_live = 0;  // Topology::lowest_format: raises the ratchet
  // Topology::lowest_known_format: what may be written under it. A record lost
  // with NATS must not stop writes of a format the cluster already activated.
  uint32_t lowest_known = 0;
};

// What this node publishes in its record: the build's format, or the one it preserves.
uint32_t published_format(uint32_t build, uint32_t preserve);

// The highest format this node may write now: one the cluster has activated
// and every live node reads.
uint32_t writable_format(const FormatView& view);

// Why a node must not start against a cluster whose active format is
// `active` (nullopt: it may).
std::optional<std::string> start_refusal(uint32_t build, uint32_t preserve, uint32_t active);

// The format to raise the ratchet to, when the live nodes allow more than it holds.
std::optional<uint32_t> raise_target(const FormatView& view);

// A preserving node's hold on the ratchet.
struct Hold {
  uint32_t format = 0;
  int64_t renewed_ms = 0;  // wall clock
};
inline constexpr int64_t kHoldLifetimeMs = 24 * 3600 * 1000;
inline constexpr int64_t kHoldRenewMs = 3600 * 1000;
std::string encode_hold(const Hold& hold);
std::optional<Hold> decode_hold(std::string_view value);
// The ratchet's value: a format in decimal, nothing else.
std::optional<uint32_t> decode_format(std::string_view value);
// The highest format the holds let the ratchet reach (UINT32_MAX: none
// holds it): the lowest among those renewed within kHoldLifetimeMs.
uint32_t held_at(const std::vector<Hold>& holds, int64_t now_ms);

}  // namespace partid::upgrade
