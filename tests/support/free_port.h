// tests: ports chosen for a process that binds them later (a nats-server, a
// node's peer port that a proxy forwards to).
#pragma once

namespace parti::testing {

// A loopback TCP port that nothing holds now, outside the kernel's ephemeral
// range, and not handed out before by this process. Every bind to port 0 (a
// node's API and peer listeners, a proxy) and every outgoing connection takes
// its port from the ephemeral range, so none of them, in this test or one
// running beside it, can take the port between this call and the bind it is
// for. Two tests choosing at once could still meet, at about 1 in 20,000.
// Throws std::runtime_error when no port is free.
int free_port();

}  // namespace parti::testing
