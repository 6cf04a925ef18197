// The reading side of a pose segment: opening and validating, writer liveness, consistent
// snapshots of the layout (models, visuals, robots) and of single robots. Never writes to the
// segment (it is mapped read-only) and never takes anything the writer waits on.
// A SegmentReader is not thread-safe; use one per thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/geometry_format.hpp"
#include "fleetscope/ipc/layout.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/reader_state.hpp"
#include "fleetscope/ipc/shared_access.hpp"
#include "fleetscope/ipc/shared_memory.hpp"

namespace fleetscope::ipc {

struct ReaderOptions {
  bool allow_other_users = false;  // refuse segments owned by another uid unless set
};

// Facts fixed at creation, copied out of the header after validation.
struct SegmentInfo {
  std::string name;
  std::uint16_t abi_major = 0;
  std::uint16_t abi_minor = 0;
  Layout layout;
  pid_t writer_pid = 0;
  uid_t writer_uid = 0;
  std::uint64_t writer_start_ticks = 0;
  std::uint64_t created_unix_ns = 0;
  bool telemetry_only = false;  // kFlagTelemetryOnly: no robots, only telemetry
  // The telemetry section (format 1.1), when the segment has one.
  std::uint64_t telemetry_offset = 0;
  std::optional<TelemetryLayout> telemetry;
  // The geometry section (format 1.3), when the segment has one.
  std::uint64_t geometry_offset = 0;
  std::optional<GeometryLayout> geometry;
  // The scalar history section (format 1.3), when the segment has one.
  std::uint64_t history_offset = 0;
  std::optional<HistoryLayout> history;
  uid_t owner_uid = 0;  // of the shared memory object
  unsigned mode = 0;    // permission bits of the shared memory object
};

// What a reader allocates follows what a segment uses (robot_high_water, link counts of the
// robots in use), never the capacities it claims; and it refuses a layout that uses more than
// these (FORMAT.md, "Reader limits").
inline constexpr std::uint32_t kReaderMaxRobots = 1u << 17;
inline constexpr std::uint64_t kReaderMaxLinks = 1ULL << 22;
// Per-link records plus geometry-section visuals over all models (ranges of models may overlap,
// so this bounds what a layout copy allocates, not the section's size).
inline constexpr std::uint64_t kReaderMaxVisuals = 1ULL << 19;

struct FrameInfo {
  std::uint64_t frame = 0;  // 0 until the first publish
  std::uint64_t publish_ns = 0;
  double sim_time = 0.0;
  std::uint64_t dirty_links = 0;
  std::uint64_t changed_robots = 0;
};

// kUnreachable: a remote source (relay) whose relay cannot be reached; the writer's own state is
// not known. Never reported for a local segment.
enum class WriterState { kLive, kPaused, kDead, kClosed, kUnreachable };
const char* writer_state_name(WriterState state);
// Dead or closed: this writer will not write again.
constexpr bool writer_is_gone(WriterState state) noexcept {
  return state == WriterState::kDead || state == WriterState::kClosed;
}

struct WriterStatus {
  WriterState state = WriterState::kDead;
  std::uint64_t heartbeat_age_ns = 0;
  std::uint64_t publish_age_ns = 0;  // since the last publish (or creation)
};

// One visual of a model with the link it belongs to (format 1.3; before 1.3 every link has
// exactly one, its LinkVisual).
struct ModelVisual {
  std::uint32_t link = 0;
  LinkVisual visual{};     // shape any of kExtendedShapeCount; strings validated NUL-terminated
  std::uint32_t mesh = 0;  // kInlineMesh: index of the stored mesh (SegmentReader::read_mesh)
};

struct ModelSnapshot {
  std::string name;
  // One per link: its name, and the visual a 1.2 reader draws (shapes 0..4). Its size is the
  // model's link count.
  std::vector<LinkVisual> visuals;
  // Every visual to draw, of any shape, any number per link: the geometry section's list when
  // the model has one, else the per-link table.
  std::vector<ModelVisual> all_visuals;
};

struct RobotSnapshot {
  std::uint32_t slot = 0;
  std::string name;
  std::uint32_t model = 0;
  std::uint32_t link_count = 0;
  std::uint64_t spawn_id = 0;
};

struct LayoutSnapshot {
  std::uint64_t epoch = 0;  // layout_seq / 2 when taken
  bool torn = false;        // copied from a dead writer in the middle of a change
  std::vector<ModelSnapshot> models;
  std::vector<RobotSnapshot> robots;  // robots in use, by slot
};

// One consistent read of a robot block (seqlock-validated).
struct RobotRead {
  std::uint64_t spawn_id = 0;
  std::uint64_t change_count = 0;
  std::uint64_t last_change_frame = 0;
  RobotAttributeWords attributes;  // format 1.3; zero before
  bool torn = false;  // copied from a dead writer in the middle of a write: no later copy is better
};

class SegmentReader {
 public:
  // Opens and validates. Throws SegmentError: kNotFound, kPermission (other user's segment,
  // refused before it is mapped), kVersionMismatch (names both versions), kCorrupt (also: not a
  // regular file), kNotReady (still being created).
  static SegmentReader open(std::string_view name, const ReaderOptions& options = {});
  // Validates a segment image held in memory (tests and the fuzzer). `bytes` must be 64-byte
  // aligned and outlive the reader.
  static SegmentReader over_bytes(std::span<const std::byte> bytes);
  // Validates the segment of an existing read-only mapping, which stays the caller's.
  static SegmentReader over_mapping(const SharedMemoryMapping& mapping, std::string_view name);

  SegmentReader(SegmentReader&&) noexcept = default;
  SegmentReader& operator=(SegmentReader&&) noexcept = default;

  const SegmentInfo& info() const noexcept { return info_; }
  // The whole mapped segment (read-only); for section readers such as TelemetryReader.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  FrameInfo frame() const;
  std::uint64_t layout_epoch() const noexcept;
  bool closed() const noexcept;
  WriterStatus writer_status(std::uint64_t stale_after_ns = 1'000'000'000ULL) const;
  // True once the reader has seen that the writer process is gone or closed the segment. From
  // then on an odd seqlock is read once and reported torn instead of retried: a dead writer never
  // finishes its write. Learnt from writer_status() and when a seqlock stays busy.
  bool writer_gone() const noexcept { return state_->writer_gone(); }

  // Throws SegmentError(kCorrupt) once the segment's file has shrunk below the mapping (its owner
  // truncated it): reading on would fault. One fstat. frame(), writer_status() and read_layout()
  // call it; callers that read robots or telemetry call it once per poll. Sticky.
  void check_mapping() const { state_->check_mapping(); }
  // Shared with section readers (TelemetryReader); stable across moves of this reader.
  const std::shared_ptr<ReaderState>& state() const noexcept { return state_; }

  // A validated copy of models and robots. Throws kCorrupt on inconsistent content, kNotReady
  // when the layout kept changing (or a writer died mid-change) for every retry.
  LayoutSnapshot read_layout() const;

  // Copies the robot's sync fields, the dirty masks of changes (seen_changes, change_count] and
  // the poses of the links selected. Returns nullopt if the writer kept the robot busy for
  // every retry (the caller takes it next time). `dirty_out` gets the union of masks, or all
  // ones when the reader fell more than dirty_history changes behind (or seen_changes is
  // nullopt: a first read). `poses_out` receives link poses for links set in dirty_out.
  std::optional<RobotRead> read_robot(std::uint32_t slot, std::optional<std::uint64_t> seen_changes,
                                      std::uint32_t link_count, std::span<std::uint64_t> dirty_out,
                                      std::span<PoseRecord> poses_out) const;
  // Stored meshes counted so far (format 1.3; 0 without a geometry section).
  std::uint32_t mesh_count() const;
  // A stored mesh, validated: record and sizes checked, decompressed, CRC verified, indices in
  // range, coordinates finite and bounded. Throws SegmentError(kCorrupt) naming the mesh, or
  // kInvalidArgument for an index not below mesh_count().
  MeshData read_mesh(std::uint32_t index) const;
  // Cheap pre-check without the seqlock: the robot's change counter now.
  std::uint64_t change_count(std::uint32_t slot) const noexcept;

 private:
  SegmentReader(std::shared_ptr<ReaderState> state, std::span<const std::byte> bytes);
  void validate();
  const SegmentHeader& header() const noexcept;
  const std::byte* block(std::uint32_t slot) const noexcept;
  // After a seqlock stayed busy: is the writer gone? Reads /proc at most every 100 ms.
  bool learn_writer_gone() const;
  // seqlock_read with this segment's knowledge of its writer: when the lock stays busy and the
  // writer turns out to be gone, the lock is read once more, as a gone writer's.
  template <typename Copy>
  SeqlockOutcome read_seqlocked(const std::atomic<std::uint64_t>& seq, const SeqlockPolicy& policy, Copy&& copy) const {
    const SeqlockOutcome outcome = seqlock_read(seq, policy, writer_gone(), copy);
    if (outcome != SeqlockOutcome::kBusy || !learn_writer_gone()) return outcome;
    return seqlock_read(seq, policy, true, copy);
  }

  std::shared_ptr<ReaderState> state_;
  std::span<const std::byte> bytes_;
  SegmentInfo info_;
};

}  // namespace fleetscope::ipc
