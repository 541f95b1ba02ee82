// cli: a small blocking HTTP/1.1 client (Boost.Beast) for partictl and the
// tests: one request per call, with a deadline. partictl is a command-line
// tool, so blocking is the right shape here.
#pragma once

#include <chrono>
#include <string>

namespace partid::cli {

struct HttpResult {
  int status = 0;  // 0: no response (error says why)
  std::string body;
  std::string retry_after;
  std::string error;
};

// `url` is "http://host:port" (a trailing path is ignored), `target` a path.
HttpResult http_request(const std::string& url, const std::string& method,
                        const std::string& target, const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                        const std::string& authorization = {});

}  // namespace partid::cli
