// replication core: whether a message is consistent in itself, whatever
// state it meets. The core's steps assume what every honest sender
// guarantees (a run of entries is consecutive from the position it follows,
// its epochs never go down nor past the message's): a message breaking
// that is corrupt or forged, and is dropped whole before it can leave
// memory and disk disagreeing halfway through a step.
#pragma once

#include "partid/replication/core/types.h"

namespace partid::replication::core {

bool well_formed(const Message& message);

}  // namespace partid::replication::core
