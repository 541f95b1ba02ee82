// partid_probe: how long a node takes to answer while something heavy runs
// in it. Sends GET <path> (or, with --body, POSTs that JSON body: a write)
// over one keep-alive connection, one request after the other, for
// --seconds, and prints one JSON line: requests, median, p99 and longest
// answer (ms), the answers slower than --stall-ms with when they came
// (seconds since the start), and how many answers were not 2xx ("failed").
// A node whose event loop is held up answers nothing meanwhile, so the
// longest answer bounds how long it was; a write's answer also waits for
// its commit, so a write probe shows the disk path held up too.
// A connection that fails is opened again (counted in "reconnects").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string path = "/health";
  std::string body;  // empty: GET
  double seconds = 10;
  double stall_ms = 50;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// One request on `stream`: its status, or nullopt when the connection failed.
std::optional<unsigned> ask(beast::tcp_stream& stream, const Options& o) {
  http::request<http::string_body> request{o.body.empty() ? http::verb::get : http::verb::post,
                                           o.path, 11};
  request.set(http::field::host, o.host);
  if (!o.body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = o.body;
    request.prepare_payload();
  }
  beast::error_code ec;
  http::write(stream, request, ec);
  if (ec) return std::nullopt;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  if (ec) return std::nullopt;
  return response.result_int();
}

std::unique_ptr<beast::tcp_stream> connect(asio::io_context& io, const Options& o) {
  beast::error_code ec;
  auto endpoints = asio::ip::tcp::resolver(io).resolve(o.host, o.port, ec);
  if (ec) return nullptr;
  auto stream = std::make_unique<beast::tcp_stream>(io);
  stream->connect(endpoints, ec);
  if (ec) return nullptr;
  return stream;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"GET a path over one connection and report how long the answers took"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port)->required();
  app.add_option("--path", o.path);
  app.add_option("--body", o.body, "POST this JSON body instead of a GET");
  app.add_option("--seconds", o.seconds);
  app.add_option("--stall-ms", o.stall_ms);
  CLI11_PARSE(app, argc, argv);

  asio::io_context io;
  std::vector<double> answers;
  nlohmann::json stalls = nlohmann::json::array();
  uint64_t reconnects = 0;
  uint64_t failed = 0;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::unique_ptr<beast::tcp_stream> stream;
  while (Clock::now() < end) {
    if (!stream) {
      stream = connect(io, o);
      if (!stream) {
        ++reconnects;
        // Not a wait for a state: a probe that cannot connect should not
        // take the CPU the node it measures needs to come back.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    const auto sent = Clock::now();
    const auto status = ask(*stream, o);
    if (!status) {
      stream.reset();
      ++reconnects;
      continue;
    }
    const double took = ms_since(sent);
    if (*status < 200 || *status >= 300) ++failed;
    answers.push_back(took);
    if (took > o.stall_ms) stalls.push_back({{"at_s", ms_since(start) / 1000}, {"ms", took}});
  }
  std::sort(answers.begin(), answers.end());
  const auto at = [&](double q) {
    return answers.empty() ? 0.0 : answers[static_cast<size_t>(q * (answers.size() - 1))];
  };
  std::cout << nlohmann::json{{"requests", answers.size()},
                              {"median_ms", at(0.5)},
                              {"p99_ms", at(0.99)},
                              {"max_ms", at(1.0)},
                              {"stalls", stalls},
                              {"reconnects", reconnects},
                              {"failed", failed}}
                   .dump()
            << "\n";
  return answers.empty() ? 1 : 0;
}
