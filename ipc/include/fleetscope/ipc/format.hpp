// The byte layout of a fleetscope pose segment, version 1.3 (telemetry: telemetry_format.hpp;
// visuals, meshes and robot attributes of 1.3: geometry_format.hpp). ipc/FORMAT.md is the prose version of
// this file; the two must agree (the static_asserts below pin every offset FORMAT.md names).
//
// Conventions: little-endian, naturally aligned, every section starts on a 64-byte boundary.
// Everything written after creation is accessed through 8-byte atomics (std::atomic or
// std::atomic_ref); a reader never trusts a value from shared memory before validating it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace fleetscope::ipc {

inline constexpr std::uint64_t kMagic = 0x45504F4353544C46ULL;  // bytes "FLTSCOPE"
inline constexpr std::uint16_t kAbiMajor = 1;
// 1.1 adds the telemetry section, 1.2 the flags, 1.3 the geometry and scalar history sections and
// robot attributes.
inline constexpr std::uint16_t kAbiMinor = 3;
inline constexpr std::size_t kCacheLine = 64;

// Name limits: a segment name is [A-Za-z0-9_.-]{1,47}; the shared memory object is
// "/fleetscope.<name>" (on Linux the file /dev/shm/fleetscope.<name>).
inline constexpr std::size_t kNameBytes = 48;
inline constexpr std::size_t kModelNameBytes = 48;
inline constexpr std::size_t kRobotNameBytes = 48;
inline constexpr std::size_t kLinkNameBytes = 32;
inline constexpr std::size_t kMeshPathBytes = 192;

// Hard limits a reader enforces on capacities before computing sizes (no overflow possible).
inline constexpr std::uint32_t kMaxRobots = 1u << 20;
inline constexpr std::uint32_t kMaxLinksPerRobot = 1024;
inline constexpr std::uint32_t kMaxModels = 4096;
inline constexpr std::uint32_t kMaxVisuals = 1u << 20;
inline constexpr std::uint32_t kMaxDirtyHistory = 256;
inline constexpr std::uint64_t kMaxSegmentBytes = 1ULL << 34;  // 16 GiB

enum class SegmentState : std::uint32_t { kInitialising = 0, kOpen = 1, kClosed = 2 };

// SegmentHeader::flags (1.2; zero in older segments).
inline constexpr std::uint32_t kFlagTelemetryOnly = 1u << 0;  // no robots: the pose part is a placeholder
inline constexpr std::uint32_t kKnownFlags = kFlagTelemetryOnly;

// Shapes 0..4 may appear in the per-link visual table (LinkVisual); the geometry section's visual
// table (1.3) adds plane, ellipsoid and meshes stored in the segment.
enum class Shape : std::uint32_t {
  kBox = 0,
  kSphere = 1,
  kCylinder = 2,
  kCapsule = 3,
  kMesh = 4,        // a mesh file by path
  kPlane = 5,       // 1.3: a finite plane, dims x, y: full side lengths; normal +z
  kEllipsoid = 6,   // 1.3: dims: the three radii
  kInlineMesh = 7,  // 1.3: a mesh stored in the segment's geometry section
};
inline constexpr std::uint32_t kShapeCount = 5;          // valid in the per-link table
inline constexpr std::uint32_t kExtendedShapeCount = 8;  // valid in the geometry section's table

// --- header (512 bytes at offset 0) --------------------------------------------------------------
struct SegmentHeader {
  // Immutable after creation. Written before `state` becomes kOpen (release), so a reader that
  // loads `state` with acquire and sees kOpen or kClosed may read them with plain loads.
  std::uint64_t magic;                  // 0
  std::uint16_t abi_major;              // 8
  std::uint16_t abi_minor;              // 10
  std::uint32_t header_size;            // 12  == sizeof(SegmentHeader)
  std::uint64_t total_size;             // 16  bytes of the whole segment
  std::uint32_t robot_capacity;         // 24  robot slots
  std::uint32_t link_capacity;          // 28  links per robot, at most
  std::uint32_t model_capacity;         // 32
  std::uint32_t visual_capacity;        // 36  link visuals over all models
  std::uint32_t dirty_words;            // 40  64-bit words per dirty mask = ceil(link_capacity/64)
  std::uint32_t dirty_history;          // 44  masks kept per robot (K)
  std::uint64_t models_offset;          // 48  ModelRecord[model_capacity]
  std::uint64_t visuals_offset;         // 56  LinkVisual[visual_capacity]
  std::uint64_t robots_offset;          // 64  RobotSlot[robot_capacity]
  std::uint64_t blocks_offset;          // 72  robot_capacity blocks of block_stride bytes
  std::uint64_t block_stride;           // 80
  std::uint64_t telemetry_offset;       // 88  end of the robot blocks, or 0 without telemetry
  std::uint64_t telemetry_size;         // 96  0 without telemetry (always 0 in 1.0)
  char name[kNameBytes];                // 104 NUL-terminated
  std::int32_t writer_pid;              // 152
  std::uint32_t writer_uid;             // 156
  std::uint64_t writer_start_ticks;     // 160 /proc/<pid>/stat field 22, against pid reuse
  std::uint64_t created_unix_ns;        // 168
  std::uint32_t flags;                  // 176 kFlag* (1.2); unknown bits are ignored
  std::uint32_t reserved_flags_pad;     // 180 zero
  std::uint64_t geometry_offset;        // 184 1.3: == total_size when there is a geometry section, else 0
  std::uint64_t geometry_size;          // 192 1.3: bytes of the geometry section (after total_size)
  std::uint64_t history_offset;         // 200 1.3: the scalar history section (after geometry), or 0
  std::uint64_t history_size;           // 208 1.3: its bytes
  std::uint8_t reserved0[256 - 216];    // 216 zero

  // Live fields, one cache line each.
  alignas(kCacheLine) std::atomic<std::uint32_t> state;  // 256 SegmentState
  std::atomic<std::uint32_t> model_count;                // 260 models published so far
  std::atomic<std::uint64_t> heartbeat_ns;               // 264 CLOCK_MONOTONIC, writer alive
  std::atomic<std::uint64_t> closed_unix_ns;             // 272
  std::uint8_t reserved1[kCacheLine - 24];

  // Seqlock over ModelRecord, LinkVisual and RobotSlot contents and model_count. Odd while the
  // writer changes the layout. layout_epoch = layout_seq / 2.
  alignas(kCacheLine) std::atomic<std::uint64_t> layout_seq;  // 320
  std::atomic<std::uint64_t> robot_high_water;               // 328 slots [0, hw) may be in use
  std::uint8_t reserved2[kCacheLine - 16];

  // Seqlock over the frame record below. Odd while a publish is being recorded.
  alignas(kCacheLine) std::atomic<std::uint64_t> frame_seq;   // 384
  std::atomic<std::uint64_t> frame;                          // 392 frames published (1 = first)
  std::atomic<std::uint64_t> publish_ns;                     // 400 CLOCK_MONOTONIC of last publish
  std::atomic<std::uint64_t> sim_time_bits;                  // 408 IEEE-754 double, bit pattern
  std::atomic<std::uint64_t> frame_dirty_links;              // 416 links changed in last frame
  std::atomic<std::uint64_t> frame_changed_robots;           // 424
  std::uint8_t reserved3[kCacheLine - 48];
};

// --- models (under layout_seq) -------------------------------------------------------------------
struct ModelRecord {  // 64 bytes
  char name[kModelNameBytes];     // 0
  std::uint32_t first_visual;     // 48 index into LinkVisual[]
  std::uint32_t link_count;       // 52 number of links (and visuals) of this model
  // 1.3: the model's visuals in the geometry section's table, [first, first + count); count 0:
  // the per-link table above is the whole story (one visual per link, as before 1.3).
  std::uint32_t first_extended_visual;  // 56
  std::uint32_t extended_visual_count;  // 60
};
// first_extended_visual with a count of 0: the model has visuals in no link (1.3).
inline constexpr std::uint32_t kNoExtendedVisuals = 0xFFFFFFFFu;

struct LinkVisual {  // 288 bytes: one visual per link, pose relative to the link frame
  char link_name[kLinkNameBytes];   // 0
  std::uint32_t shape;              // 32 Shape
  std::uint32_t reserved0;          // 36
  float dims[3];                    // 40 box: size x,y,z; sphere: radius; cylinder/capsule:
                                    //    radius, length (along local z); mesh: unused
  float scale[3];                   // 52 mesh scale (1,1,1 for primitives)
  float offset_position[3];         // 64 visual origin in the link frame
  float offset_orientation[4];      // 76 qx, qy, qz, qw
  std::uint8_t rgba[4];             // 92
  char mesh_path[kMeshPathBytes];   // 96 NUL-terminated, empty unless shape == kMesh
};

// --- robots -------------------------------------------------------------------------------------
struct RobotSlot {  // 64 bytes, under layout_seq
  char name[kRobotNameBytes];  // 0
  std::uint32_t in_use;        // 48 0 = free, 1 = in use
  std::uint32_t model_index;   // 52
  std::uint64_t spawn_id;      // 56 unique per spawn in this segment, never 0 when in use
};

// Start of each robot block; the block continues with
//   std::uint64_t masks[dirty_history][dirty_words]   at +64
//   PoseRecord poses[link_capacity]                   at +64 + 8*dirty_history*dirty_words
struct RobotSync {  // 64 bytes
  std::atomic<std::uint64_t> seq;                // 0  seqlock over this block; odd while written
  std::atomic<std::uint64_t> spawn_id;           // 8  copy of RobotSlot::spawn_id
  std::atomic<std::uint64_t> change_count;       // 16 publishes that changed this robot
  std::atomic<std::uint64_t> last_change_frame;  // 24 frame number of the latest change
  // 1.3: attributes of this robot, under `seq` like the poses; zero in older segments.
  std::atomic<std::uint64_t> color_and_flags;    // 32 low 32 bits: rgba (r in the lowest byte); high: kRobot* flags
  std::atomic<std::uint64_t> producer;           // 40 low 32 bits: worker id; high: environment index
  std::atomic<std::uint64_t> scalar_bits;        // 48 IEEE-754 double, the robot's "colour by" value
  std::atomic<std::uint64_t> episode;            // 56 low 32 bits: steps into the current episode; high: episodes finished
};

// RobotSync::color_and_flags >> 32 (1.3).
inline constexpr std::uint32_t kRobotColorOverride = 1u << 0;  // draw every visual in the rgba above
inline constexpr std::uint32_t kRobotStatic = 1u << 1;         // world geometry: poses never change
inline constexpr std::uint32_t kRobotHasProducer = 1u << 2;    // `producer` holds worker and environment
inline constexpr std::uint32_t kRobotHasScalar = 1u << 3;      // `scalar_bits` holds a value
inline constexpr std::uint32_t kRobotHasEpisode = 1u << 4;     // `episode` holds the episode's progress

// The three attribute words of a robot block (1.3), as stored.
struct RobotAttributeWords {
  std::uint64_t color_and_flags = 0;
  std::uint64_t producer = 0;
  std::uint64_t scalar_bits = 0;
  std::uint64_t episode = 0;
  std::uint32_t flags() const noexcept { return static_cast<std::uint32_t>(color_and_flags >> 32); }
  bool operator==(const RobotAttributeWords&) const = default;
};

struct PoseRecord {  // 32 bytes: x, y, z, qx, qy, qz, qw (float32), pad
  float position[3];
  float orientation[4];
  float pad;
};

// Pinned layout: FORMAT.md documents exactly these numbers.
static_assert(sizeof(SegmentHeader) == 448);
static_assert(offsetof(SegmentHeader, name) == 104);
static_assert(offsetof(SegmentHeader, writer_pid) == 152);
static_assert(offsetof(SegmentHeader, created_unix_ns) == 168);
static_assert(offsetof(SegmentHeader, flags) == 176);
static_assert(offsetof(SegmentHeader, geometry_offset) == 184);
static_assert(offsetof(SegmentHeader, geometry_size) == 192);
static_assert(offsetof(SegmentHeader, history_offset) == 200);
static_assert(offsetof(SegmentHeader, history_size) == 208);
static_assert(offsetof(ModelRecord, first_extended_visual) == 56);
static_assert(offsetof(RobotSync, color_and_flags) == 32);
static_assert(offsetof(RobotSync, producer) == 40);
static_assert(offsetof(RobotSync, scalar_bits) == 48);
static_assert(offsetof(RobotSync, episode) == 56);
static_assert(offsetof(SegmentHeader, state) == 256);
static_assert(offsetof(SegmentHeader, heartbeat_ns) == 264);
static_assert(offsetof(SegmentHeader, closed_unix_ns) == 272);
static_assert(offsetof(SegmentHeader, layout_seq) == 320);
static_assert(offsetof(SegmentHeader, robot_high_water) == 328);
static_assert(offsetof(SegmentHeader, frame_seq) == 384);
static_assert(offsetof(SegmentHeader, frame) == 392);
static_assert(offsetof(SegmentHeader, frame_changed_robots) == 424);
static_assert(sizeof(ModelRecord) == 64);
static_assert(sizeof(LinkVisual) == 288);
static_assert(offsetof(LinkVisual, mesh_path) == 96);
static_assert(sizeof(RobotSlot) == 64);
static_assert(sizeof(RobotSync) == 64);
static_assert(sizeof(PoseRecord) == 32);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace fleetscope::ipc
