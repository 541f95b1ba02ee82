// coord: how a NATS connection proves who it is to the server: a user and
// password, or a token. Also the one place that knows where credentials hide
// in a server URL, so no log line or error ever prints them.
//
// Not TLS: Debian's nats.c (3.4) drives one OpenSSL session from its reader
// and its flusher threads at once, which OpenSSL forbids (ThreadSanitizer
// showed a buffer freed by one thread while the other wrote from it); nats.c
// locks them only since nats-io/nats.c#913 (2025). Across machines, keep the
// NATS traffic on a private network or in a tunnel.
#pragma once

#include <nats/nats.h>

#include <string>
#include <vector>

namespace parti::coord {

struct NatsAccess {
  // At most one of: a user with a password, or a token. Credentials written
  // into the URL (nats://user:pass@host) work too, but every process on the
  // machine can read a command line: prefer these, filled from files.
  std::string user = {};
  std::string password = {};
  std::string token = {};
};

// Why `access` cannot be used as given (both a token and a user, a password
// without a user), or empty when it can.
std::string access_problem(const NatsAccess& access);

// Sets `access` on nats.c's options; throws CoordError naming what failed,
// never a credential.
void apply_access(const NatsAccess& access, natsOptions* options);

// The servers of a comma separated URL list, each trimmed of blanks: nats.c
// takes a list as an array (natsOptions_SetServers); given whole to SetURL a
// list is one address that connects to nothing.
std::vector<std::string> split_urls(const std::string& urls);

// `urls` (comma separated) with every password or token replaced by "***":
// what may be logged of a server address.
std::string redact_urls(const std::string& urls);

// True when some URL of `urls` carries credentials.
bool urls_carry_credentials(const std::string& urls);

}  // namespace parti::coord
