// api: the resize guard (DESIGN 4.3; seeds 000 and 002, "ResizeInProgress"):
// an explicit resize request, a drain, is refused while the cluster still
// moves data for the last change, so two changes never overlap unasked.
// "Moving" is narrower than /cluster/resize's "not settled": a follower that
// catches up from its leader's log is ordinary replication lag under writes
// and does not count. A partition that is sealing, handing over, awaiting its
// leader or whose leader is unreachable counts, and so does one whose
// follower needs a snapshot (a copy is under way), and so does any
// unreachable node: draining one node while another is away can leave
// partitions without a quorum.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace partid::api {

// `summary`: a GET /cluster/resize answer (its "moving" and "unreachable").
// Why a resize may not start now, or nullopt when it may.
std::optional<std::string> resize_in_progress(const nlohmann::json& summary);

}  // namespace partid::api
