#include "mash/ops/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace mash::ops {

std::string Endpoint::ToString() const {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

Result<Endpoint> ParseLoopbackEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("expected \"[::1]:PORT\"");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgument("expected \"127.0.0.1:PORT\" or \"[::1]:PORT\"");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return InvalidArgument("port must be 0..65535");
  }
  boost::system::error_code parse_error;
  const auto address = boost::asio::ip::make_address(std::string(host), parse_error);
  if (parse_error) return InvalidArgument("not an IP address (names are not accepted)");
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return InvalidArgument("use the IPv4 form of a loopback address");
  }
  if (!address.is_loopback()) {
    return InvalidArgument("the ops listener must be on a loopback address (127.0.0.0/8 or ::1)");
  }
  return Endpoint{address.to_string(), static_cast<uint16_t>(port)};
}

}  // namespace mash::ops
