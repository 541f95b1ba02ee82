// tests: runs the partictl binary built with the tests and captures its exit
// code and output (stdout and stderr together).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace parti::testing {

struct PartictlRun {
  int code = -1;
  std::string out;
};

inline PartictlRun run_partictl(const std::string& args) {
  const std::string cmd = std::string(PARTICTL_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace parti::testing
