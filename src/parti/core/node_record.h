// core: the node record every worker publishes to the heartbeat bucket (the
// seeds' SimpleNode). It is the only thing other nodes learn about a node, so
// decode() rejects anything that is not a complete, well-typed record.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "parti/core/hlc.h"

namespace parti {

enum class NodeState { Joining, Active, Draining, Leaving };

const char* to_string(NodeState s);
std::optional<NodeState> node_state_from_string(std::string_view s);

struct NodeRecord {
  std::string id;           // stable worker ID, e.g. "node-3"
  std::string instance;     // unique per process start
  std::string api_address;  // host:port, may be empty for plain workers
  std::string peer_address;
  NodeState state = NodeState::Joining;
  int64_t startup_ms = 0;  // wall clock at process start
  HlcTimestamp hlc;
  uint32_t weight = 1;
  std::set<uint32_t> locked_partitions;
  std::set<uint32_t> importing_partitions;
  std::set<uint32_t> migrating_partitions;
  std::map<uint32_t, uint64_t> handoff_final_sequence;  // partition -> last seq drained
  // partition -> how far this worker's copy has got, in the application's own
  // measure (bigger is further; partid: the last durable log sequence).
  // Refreshed with each heartbeat (Hooks::refresh_record), so up to one
  // heartbeat interval old. The calculator uses it only to pick a dead
  // leader's successor; nothing relies on it for safety.
  std::map<uint32_t, uint64_t> progress;
  // The highest data format this worker's process reads and writes, in the
  // application's own numbering (Config::data_format); 0: it did not say (a
  // build from before formats were published, or a plain worker).
  uint32_t format = 0;
  // This worker's libparti reads Assignment::since. The coordinator stamps
  // `since` only while every worker does: a build from before it would
  // derive epochs its own way and disagree (see Assignment::since).
  bool reads_since = false;
  // This worker asks not to lead (partid: its disk has been slow). The
  // coordinator gives its leaderships to another replica of each list that
  // did not ask, where there is one (build_assignment); it stays a replica.
  // A hint for latency, never for safety: the worker still serves anything
  // it is appointed to lead.
  bool avoid_leading = false;

  friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

std::string encode(const NodeRecord& r);
// Returns nullopt and sets *error on malformed input; never throws.
std::optional<NodeRecord> decode_node_record(std::string_view bytes, std::string* error);

}  // namespace parti
