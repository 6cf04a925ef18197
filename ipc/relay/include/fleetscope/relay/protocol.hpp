// The relay's wire protocol (relay/PROTOCOL.md): versioned messages carrying a segment's layout,
// pose deltas (dirty links), telemetry (scalars, worker rows, job rows), stored meshes and writer
// state between a relay and its clients. One message is one ZeroMQ frame: a 40-byte header and a
// payload, zstd-compressed when that is smaller.
//
// decode() is strict: anything but a well-formed message of this version (sizes, counts, strings,
// enum values, compression with its content size checked before decompressing, indices in range)
// throws ProtocolError with a reason; a client counts what it refuses (DecodeCounters) and goes
// on. Nothing here knows about sockets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace fleetscope::relay {

inline constexpr std::uint32_t kMagic = 0x4C525346u;  // bytes "FSRL"
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 40;
// The most a payload may hold once decompressed (a zstd frame must say its content size, and it
// is checked against this before any decompression).
inline constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;
inline constexpr std::uint32_t kNoStream = 0xFFFFFFFFu;
inline constexpr std::uint32_t kFlagZstd = 1u << 0;
// Limits of message contents beyond those of the segment format.
inline constexpr std::uint32_t kMaxStreams = 65536;
inline constexpr std::uint32_t kMaxTags = 1u << 16;
inline constexpr std::uint32_t kMaxSamplesPerMessage = 1u << 20;
inline constexpr std::uint32_t kMaxWorkerRows = 1u << 16;
inline constexpr std::uint32_t kMaxJobRows = 1u << 20;
inline constexpr std::size_t kMaxNameBytes = 255;   // stream (segment) names, error texts up to 1024
inline constexpr std::size_t kMaxErrorBytes = 1024;

enum class MessageType : std::uint16_t {
  kSnapshotRequest = 1,  // client -> relay (snapshot socket)
  kSnapshotBegin = 2,    // relay -> client (snapshot socket)
  kSnapshotEnd = 3,
  kHeartbeat = 4,        // relay -> clients (publish socket)
  kStream = 5,           // a segment's name, producer and writer state
  kLayout = 6,
  kPoses = 7,
  kTelemetry = 8,
  kRemoved = 9,          // the relay no longer carries the stream
  kMesh = 10,            // a stored mesh (format 1.3)
};
const char* message_type_name(MessageType type) noexcept;

struct Header {
  MessageType type = MessageType::kHeartbeat;
  std::uint64_t session = 0;  // random per relay run: a new value means the relay restarted
  std::uint64_t seq = 0;      // publish sequence number (snapshot messages: the snapshot's)
  std::uint32_t stream = kNoStream;
};

struct SnapshotRequest {};
struct SnapshotBegin {
  std::uint32_t streams = 0;
};
struct SnapshotEnd {
  std::uint32_t messages = 0;  // messages between begin and end
};
struct Heartbeat {
  std::uint64_t relay_wall_ns = 0;
  std::uint32_t streams = 0;
};
struct StreamInfo {
  std::string name;
  std::uint64_t generation = 0;
  std::int32_t writer_pid = 0;
  ipc::WriterState state = ipc::WriterState::kLive;
  bool has_poses = false;
  bool has_telemetry = false;
  std::string error;
};
struct LayoutMessage {
  ipc::LayoutSnapshot layout;
};
struct RobotPoses {
  std::uint32_t slot = 0;
  std::vector<std::uint64_t> mask;        // ceil(link_count / 64) words: links carried
  std::vector<ipc::PoseRecord> poses;     // one per set bit, in link order
};
struct RobotAttributes {
  std::uint32_t slot = 0;
  ipc::RobotAttributeWords words;
};
struct PosesMessage {
  ipc::FrameInfo frame;
  bool full = false;  // every link of every robot (after a layout change or in a snapshot)
  std::vector<RobotPoses> robots;
  std::vector<RobotAttributes> attributes;
};
struct TelemetryMessage {
  bool reset = false;  // the client drops its telemetry first (snapshot, new producer)
  std::uint32_t tag_first = 0;
  std::vector<std::string> tags;  // ids [tag_first, tag_first + size)
  std::uint64_t first_index = 0;  // relay's record number of samples[0]
  std::uint64_t lost = 0;         // records the relay lost in total (it fell behind the ring)
  std::vector<ipc::ScalarSample> samples;
  std::optional<std::vector<ipc::WorkerRowRead>> workers;  // every row, when they changed
  std::optional<std::vector<ipc::JobRowRead>> jobs;
};
struct Removed {};
struct MeshMessage {
  std::uint32_t index = 0;
  ipc::MeshData mesh;
};

// In the order of MessageType: a body's variant index is its type - 1.
using Body = std::variant<SnapshotRequest, SnapshotBegin, SnapshotEnd, Heartbeat, StreamInfo, LayoutMessage,
                          PosesMessage, TelemetryMessage, Removed, MeshMessage>;

struct Message {
  Header header;
  Body body;
};

// Why a message was refused.
enum class Refusal : std::uint8_t {
  kTruncated,    // shorter than its header or than its sizes say
  kMagic,
  kVersion,      // another protocol version
  kType,         // unknown type, or a type not expected on this socket
  kSize,         // sizes or counts inconsistent or above the limits
  kCompression,  // unknown flag, bad zstd frame, content size missing or not the declared one
  kContent,      // a field out of its range (enum value, string without room, non-finite, ...)
  kIndex,        // an index out of range (slot, link, tag, model)
  kCount_,
};
inline constexpr std::size_t kRefusalCount = static_cast<std::size_t>(Refusal::kCount_);
const char* refusal_name(Refusal refusal) noexcept;

class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(Refusal refusal, const std::string& message) : std::runtime_error(message), refusal_(refusal) {}
  Refusal refusal() const noexcept { return refusal_; }

 private:
  Refusal refusal_;
};

struct DecodeCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::array<std::uint64_t, kRefusalCount> by_reason{};
  std::string last_error;
  void count(const ProtocolError& e) {
    ++refused;
    ++by_reason[static_cast<std::size_t>(e.refusal())];
    last_error = e.what();
  }
};

// One message as bytes (header.type is taken from the body); `compress` stores the payload as a zstd frame when that is smaller.
std::vector<std::byte> encode(const Header& header, const Body& body, bool compress = true);
// Header and body; throws ProtocolError.
Message decode(std::span<const std::byte> bytes);
// Only the header (no payload checks beyond the sizes); throws ProtocolError.
Header decode_header(std::span<const std::byte> bytes);

}  // namespace fleetscope::relay
