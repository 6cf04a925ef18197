// The client side of a relay: subscribes to its publish socket, asks its snapshot socket for a full
// snapshot (ZeroMQ's "Clone" pattern), then applies deltas in sequence order. A gap in the sequence
// (the relay's publish queue dropped messages for this slow client), a new relay session (the relay
// restarted) or a message it cannot apply makes it ask for a fresh snapshot. No heartbeat for a
// while: the relay is "unreachable". Every message goes through the strict decoder; refused ones are
// counted. Memory is bounded by the protocol's limits (layout, retained samples, rows).
// Not thread-safe: one thread polls it and reads its streams (the viewer's GUI thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "fleetscope/relay/endpoint.hpp"
#include "fleetscope/relay/keys.hpp"
#include "fleetscope/relay/protocol.hpp"

namespace fleetscope::relay {

struct ClientCurve {
  std::string server_public_key;  // the relay's (Z85)
  KeyPair client;                 // ours; its public key must be in the relay's allowed keys
};

struct ClientOptions {
  std::string endpoint = "tcp://127.0.0.1:7700";
  std::optional<ClientCurve> curve;
  std::uint64_t unreachable_after_ns = 1'500'000'000ULL;  // no message for this long
  std::uint64_t snapshot_timeout_ns = 2'000'000'000ULL;   // ask again (on a fresh socket)
  std::size_t max_buffered = 20000;  // publish messages held while a snapshot arrives
  std::size_t retained_samples = 65536;  // scalar records kept per stream
  int receive_hwm = 100000;  // publish messages queued in this process before the relay drops some
  int receive_buffer = 0;    // the publish socket's kernel buffer (SO_RCVBUF); 0: the system's
};

// One remote segment as this client knows it.
struct RemoteStream {
  std::uint32_t id = 0;
  StreamInfo info;
  bool removed = false;
  // Bumps whenever consumers must start again: a new relay session or a new producer.
  std::uint64_t generation = 0;
  // Poses.
  bool have_layout = false;
  std::uint64_t layout_serial = 0;  // bumps with every layout applied
  ipc::LayoutSnapshot layout;
  std::vector<std::int32_t> robot_of_slot;            // index into layout.robots, -1 if none
  std::vector<std::vector<ipc::PoseRecord>> poses;     // by slot
  std::vector<ipc::RobotAttributeWords> attributes;    // by slot
  ipc::FrameInfo frame;
  // What changed since the consumer last took it (RemoteSource::ingest).
  std::vector<std::vector<std::uint64_t>> pending;     // by slot: dirty link masks
  std::vector<std::uint32_t> pending_slots;
  std::vector<std::uint32_t> pending_attributes;
  // Telemetry.
  std::vector<std::string> tags;
  std::deque<ipc::ScalarSample> samples;
  std::uint64_t samples_first = 0;  // relay record number of samples.front()
  std::uint64_t samples_end = 0;    // one past the newest
  std::uint64_t relay_lost = 0;
  std::vector<ipc::WorkerRowRead> workers;
  std::vector<ipc::JobRowRead> jobs;
  std::map<std::uint32_t, std::shared_ptr<const ipc::MeshData>> meshes;
  std::size_t mesh_bytes = 0;  // at most 512 MiB a stream
};

struct ClientStats {
  std::uint64_t received = 0;          // messages accepted
  std::uint64_t received_bytes = 0;    // of every message, accepted or not
  std::uint64_t snapshots = 0;         // snapshots applied
  std::uint64_t snapshot_requests = 0;
  std::uint64_t gaps = 0;              // sequence gaps seen (each leads to a snapshot)
  std::uint64_t session_changes = 0;   // relay restarts seen
  std::uint64_t unapplicable = 0;      // well-formed messages that did not fit the state (slot, tag, ...)
  DecodeCounters decode;               // malformed messages refused
};

class RelayClient {
 public:
  // Connects (ZeroMQ connects in the background: nothing fails here for an absent relay).
  // Throws RelayError for a bad endpoint or keys.
  explicit RelayClient(ClientOptions options);
  ~RelayClient();
  RelayClient(const RelayClient&) = delete;
  RelayClient& operator=(const RelayClient&) = delete;

  // Takes every message waiting, without blocking; `wait_ms` > 0 waits up to that long for the
  // first one. Returns the number of messages taken.
  std::size_t poll(int wait_ms = 0);
  // True while heartbeats arrive and a snapshot has been applied.
  bool synced() const noexcept;
  bool reachable() const noexcept;
  const Endpoint& endpoint() const noexcept;
  // Streams by id; removed ones stay (removed = true).
  const std::map<std::uint32_t, RemoteStream>& streams() const noexcept;
  RemoteStream* find(const std::string& segment);
  const ClientStats& stats() const noexcept;
  std::uint64_t session() const noexcept;
  // Last publish latency seen: receive time minus the frame's publish time (CLOCK_MONOTONIC; only
  // meaningful when the relay runs on this host). Called for every pose message applied.
  void set_pose_observer(std::function<void(const RemoteStream&, const PosesMessage&, std::uint64_t now_ns)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetscope::relay
