#include "partid/secret_file.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace partid {
namespace {

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::optional<std::string> read_secret_file(const std::string& path, const std::string& what,
                                            size_t min_bytes, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = fmt::format("cannot read {} from {}", what, path);
    return std::nullopt;
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string secret = trimmed(content.str());
  if (secret.size() < min_bytes) {
    *error = fmt::format("{} in {} has {} bytes; at least {} are needed", what, path, secret.size(),
                         min_bytes);
    return std::nullopt;
  }
  return secret;
}

}  // namespace partid
