// api: how long a forwarded request stays worth serving. The node that
// forwards a request stops waiting after --forward-timeout-ms and answers its
// client 504 (outcome unknown), but the request may still be on its way: held
// in a partitioned link, queued behind a paused peer. Served when it finally
// arrives, a write would land seconds or minutes after its client was told it
// timed out, over writes made since. So a forward carries the wall-clock time
// its asker gives up (its deadline), and the node asked refuses it unserved
// once that time is past by more than the nodes' clocks may differ
// (--max-clock-offset-ms, 500 ms by default, as CockroachDB's --max-offset).
// Within that margin the outcome stays unknown, as the 504 said; past it the
// write is certain not to be applied. Pure: unit tested.
#pragma once

#include <chrono>
#include <cstdint>

namespace partid::api {

uint64_t unix_ms(std::chrono::system_clock::time_point t);

// The deadline to send with a forward made at `now_ms` that its asker waits
// `timeout` for: no later than the deadline of the request being forwarded
// (`inherited`, 0 when the client asked this node directly).
uint64_t forward_deadline(uint64_t now_ms, std::chrono::milliseconds timeout, uint64_t inherited);

// Whether a forward with `deadline_ms` (0: an older build sent none) arriving
// at `now_ms` is past its asker's patience beyond any clock difference.
bool forward_expired(uint64_t deadline_ms, uint64_t now_ms,
                     std::chrono::milliseconds max_clock_offset);

}  // namespace partid::api
