// api: how long a forwarded request stays worth serving. The node that
// forwards a request stops waiting after --forward-timeout-ms and answers its
// client 504 (outcome unknown), but the request may still be on its way: held
// in a partitioned link, queued behind a paused peer. Served when it finally
// arrives, a write would land seconds or minutes after its client was told it
// timed out, over writes made since. So a forward carries the wall-clock time
// its asker gives up (its deadline, on the asker's clock), and the node asked
// refuses it unserved once that time is past on its own clock by more than
// the two clocks may differ: by the offset it measured between them, within
// that measurement's uncertainty (peer/peer_clocks.h), or, with no recent
// measurement, by --max-clock-offset-ms (500 ms by default, as CockroachDB's
// --max-offset). Within that margin the outcome stays unknown, as the 504
// said; past it the write is certain not to be applied. Pure: unit tested.
#pragma once

#include <chrono>
#include <cstdint>

namespace partid::api {

uint64_t unix_ms(std::chrono::system_clock::time_point t);

// The deadline to send with a forward made at `now_ms` that its asker waits
// `timeout` for: no later than the deadline of the request being forwarded
// (`inherited`, 0 when the client asked this node directly).
uint64_t forward_deadline(uint64_t now_ms, std::chrono::milliseconds timeout, uint64_t inherited);

// Whether a forward with `deadline_ms` (on this node's clock; 0: an older
// build sent none) arriving at `now_ms` is past its asker's patience by more
// than `margin`, how far off the deadline may be.
bool forward_expired(uint64_t deadline_ms, uint64_t now_ms, std::chrono::milliseconds margin);

}  // namespace partid::api
