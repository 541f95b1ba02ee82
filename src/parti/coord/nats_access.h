// coord: how a NATS connection proves who it is to the server and checks
// that the server is the one it means: credentials (a user and password, or a
// token) and TLS (the server's certificate verified against trusted CAs and,
// optionally, a name; a client certificate for servers that ask for one).
// Also the one place that knows where credentials hide in a server URL, so no
// log line or error ever prints them.
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
  // TLS with the server's certificate verified (nats.c never skips that here).
  bool tls = false;
  std::string tls_ca_file = {};  // trusted CAs, PEM; empty: the system's
  // A client certificate and its key, PEM, for servers that verify clients.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
  // The name the server's certificate must carry; empty: any certificate a
  // trusted CA signed is accepted.
  std::string tls_hostname = {};
};

// Why `access` cannot be used as given (both a token and a user, a password
// without a user, a certificate without its key, TLS files without TLS), or
// empty when it can.
std::string access_problem(const NatsAccess& access);

// Sets `access` on nats.c's options; throws CoordError naming what failed (a
// CA file that does not load, say), never a credential.
void apply_access(const NatsAccess& access, natsOptions* options);

// `urls` (comma separated, as nats.c takes them) with every password or
// token replaced by "***": what may be logged of a server address.
std::string redact_urls(const std::string& urls);

// True when some URL of `urls` carries credentials.
bool urls_carry_credentials(const std::string& urls);

// The hosts `urls` name ("nats://u:p@db1:4222,tls://[::1]:4223" -> db1, ::1),
// each once, in order.
std::vector<std::string> url_hosts(const std::string& urls);

}  // namespace parti::coord
