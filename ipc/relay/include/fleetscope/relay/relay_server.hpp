// The relay: reads segments on this host as the viewer does (through ipc::SourceRegistry: dirty
// links only, telemetry records and rows, liveness) and publishes them over ZeroMQ (PUB), with
// full snapshots on request (ROUTER): ZeroMQ's "Clone" pattern. A reader like any other: it never
// slows a writer, and a slow client is dropped by its publish queue (high-water mark) and
// resynchronises with a snapshot, never blocking the relay.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/relay/endpoint.hpp"
#include "fleetscope/relay/keys.hpp"

namespace fleetscope::relay {

struct ServerCurve {
  KeyPair server;                        // the relay's key pair
  std::set<std::string> allowed_clients;  // Z85 public keys the ZAP handler accepts
};

struct ServerOptions {
  std::string bind = "tcp://127.0.0.1:7700";
  std::vector<std::string> segments;  // carried by name (followed across restarts; waited for)
  bool all = false;                   // every segment found on this host, as they come and go
  std::optional<ServerCurve> curve;   // CURVE encryption and authentication
  bool insecure = false;              // allow a non-loopback bind without keys
  ipc::ReaderOptions reader;
  std::uint64_t poll_ns = 1'000'000ULL;          // how often segments are looked at for new frames
  std::uint64_t telemetry_ns = 50'000'000ULL;    // scalars and rows
  std::uint64_t heartbeat_ns = 200'000'000ULL;
  std::uint64_t scan_ns = 1'000'000'000ULL;      // new segments (--all) and missing names
  int publish_hwm = 2000;                        // messages queued per client before it is dropped
  std::size_t retained_samples = 65536;          // scalar records kept per stream for snapshots
  bool compress = true;
};

struct ServerStats {
  std::uint64_t published = 0;        // messages
  std::uint64_t published_bytes = 0;
  std::uint64_t snapshots = 0;        // snapshots served
  std::uint64_t snapshot_bytes = 0;
  std::uint64_t refused_requests = 0;  // malformed requests on the snapshot socket
  std::uint64_t throttled_requests = 0;  // snapshot requests beyond the rate limits (dropped)
  std::uint64_t refused_clients = 0;   // ZAP: keys not allowed (or no key)
  std::uint64_t streams = 0;
  std::uint64_t streams_failed = 0;    // streams dropped on an error (truncated segment, too large)
};

class RelayServer {
 public:
  // Binds both sockets. Throws RelayError: a non-loopback address without keys and without
  // `insecure`, an address in use, a bad endpoint.
  explicit RelayServer(ServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Serves until `stop` is set (checked every poll).
  void run(const std::atomic<bool>& stop);
  ServerStats stats() const;
  const Endpoint& endpoint() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetscope::relay
