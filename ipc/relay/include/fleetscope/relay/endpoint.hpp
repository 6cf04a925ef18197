// A relay's address: tcp://HOST:PORT names its snapshot socket (ROUTER); its publish socket (PUB)
// is PORT+1 on the same host (relay/PROTOCOL.md).
#pragma once

#include <cstdint>
#include <string>

namespace fleetscope::relay {

inline constexpr std::uint16_t kDefaultPort = 7700;

struct Endpoint {
  std::string host;  // as given: a name, an IPv4 address, [IPv6] or * (bind only)
  std::uint16_t port = kDefaultPort;

  std::string snapshot() const { return "tcp://" + host + ":" + std::to_string(port); }
  std::string publish() const { return "tcp://" + host + ":" + std::to_string(port + 1); }
  // 127.0.0.0/8, ::1 or localhost.
  bool loopback() const;
  // How sources from this relay are named: HOST:SEGMENT, or HOST:PORT:SEGMENT off the default port.
  std::string source_name(const std::string& segment) const;
};

// Parses tcp://HOST:PORT (PORT 1..65534; the publish socket takes PORT+1) or HOST:PORT or HOST
// (default port). Throws RelayError with the reason.
Endpoint parse_endpoint(const std::string& text);

}  // namespace fleetscope::relay
