// cli: starting and stopping the local processes of `partictl cluster`.
// Children are started in their own session (they outlive partictl) with
// stdout and stderr appended to a log file, and no other descriptor of the
// starter open.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace partid::cli {

// Starts `argv` (argv[0] is the program path) detached; -1 and *error on failure.
pid_t spawn_detached(const std::vector<std::string>& argv, const std::string& log_file,
                     std::string* error);
bool process_alive(pid_t pid);
// SIGTERM, then SIGKILL after `grace`; true if it exited within the grace.
bool stop_process(pid_t pid, std::chrono::milliseconds grace);
// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();
// A file's size, 0 when it does not exist yet.
std::uintmax_t file_size_or_zero(const std::string& path);
// What a file holds past `offset` bytes: this run's lines of a log that
// earlier runs appended to.
std::string read_from_offset(const std::string& path, std::uintmax_t offset);
// The directory holding the running executable.
std::string self_dir();
// `name` next to this executable if it exists there, else looked up in PATH.
std::string find_program(const std::string& name);

}  // namespace partid::cli
