// partid: reading a secret from a file (the cluster secret, NATS credentials).
// Secrets come from files, not flags: a command line is readable by every
// process on the machine, a file of mode 0600 by its owner only.
#pragma once

#include <optional>
#include <string>

namespace partid {

// The file's content with surrounding whitespace (a trailing newline) trimmed.
// nullopt with `error` set when it cannot be read or holds fewer than
// `min_bytes`; `what` names the secret in the message ("the cluster secret").
// The message never contains the secret.
std::optional<std::string> read_secret_file(const std::string& path, const std::string& what,
                                            size_t min_bytes, std::string* error);

}  // namespace partid
