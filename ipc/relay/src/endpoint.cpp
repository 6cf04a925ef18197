#include "fleetscope/relay/endpoint.hpp"

#include <charconv>

#include "fleetscope/relay/keys.hpp"

namespace fleetscope::relay {

bool Endpoint::loopback() const {
  return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string Endpoint::source_name(const std::string& segment) const {
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (port == kDefaultPort) return h + ":" + segment;
  return h + ":" + std::to_string(port) + ":" + segment;
}

Endpoint parse_endpoint(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("tcp://", 0) == 0) {
    rest = rest.substr(6);
  } else if (rest.find("://") != std::string::npos) {
    throw RelayError("endpoint '" + text + "': only tcp://HOST:PORT is supported");
  }
  Endpoint e;
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) throw RelayError("endpoint '" + text + "': unterminated [IPv6 address]");
    e.host = rest.substr(0, close + 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw RelayError("endpoint '" + text + "': expected :PORT after the address");
      port = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    e.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (e.host.empty()) throw RelayError("endpoint '" + text + "': no host");
  for (const char c : e.host) {
    if (c <= ' ' || c == '/' || c == '\x7f') throw RelayError("endpoint '" + text + "': bad character in the host");
  }
  if (!port.empty() || (rest.find(':') != std::string::npos && rest.front() != '[')) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65534) {
      throw RelayError("endpoint '" + text + "': port must be 1..65534 (the publish socket takes PORT+1)");
    }
    e.port = static_cast<std::uint16_t>(value);
  }
  return e;
}

}  // namespace fleetscope::relay
