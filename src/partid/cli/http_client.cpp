#include "partid/cli/http_client.h"

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace partid::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResult http_request(const std::string& url, const std::string& method,
                        const std::string& target, const std::string& body,
                        std::chrono::milliseconds timeout, const std::string& authorization) {
  HttpResult out;
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    out.error = "bad URL '" + url + "' (expected http://host:port)";
    return out;
  }
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(rest.substr(0, colon), rest.substr(colon + 1)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    if (req.method() == http::verb::unknown) req.method_string(method);
    req.set(http::field::host, rest);
    req.set(http::field::user_agent, "partictl");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      out.retry_after = std::string(it->value());
    }
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  } catch (const std::exception& e) {
    out.error = std::string("cannot reach ") + url + ": " + e.what();
  }
  return out;
}

}  // namespace partid::cli
