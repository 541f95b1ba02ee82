// Tests that talk raw bytes to a node's API or peer port: a blocking TCP
// connection to "host:port".
#pragma once

#include <boost/asio.hpp>
#include <string>

namespace parti::testing {

inline boost::asio::ip::tcp::socket connect_to(boost::asio::io_context& io,
                                               const std::string& address) {
  boost::asio::ip::tcp::socket s(io);
  const auto colon = address.rfind(':');
  s.connect({boost::asio::ip::make_address(address.substr(0, colon)),
             static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))});
  return s;
}

}  // namespace parti::testing
