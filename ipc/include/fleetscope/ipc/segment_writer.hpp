// The writing side of a pose segment: creation, models, robot slots and per-robot seqlocked
// publication. One SegmentWriter per segment, used from one thread (not thread-safe). Every call
// is wait-free with respect to readers: nothing here waits on or reads anything a reader writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/layout.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/shared_memory.hpp"
#include "fleetscope/ipc/telemetry_writer.hpp"

namespace fleetscope::ipc {

struct WriterOptions {
  std::string name;
  Capacities capacities;
  // When a segment of that name exists and its writer is dead (or it was closed), remove it and
  // create a new one. A live writer's segment is never touched: creation fails instead.
  bool replace_stale = true;
  // A telemetry section (format 1.1) after the robot blocks: scalar series, worker and job rows.
  std::optional<TelemetryCapacities> telemetry;
  // The segment carries telemetry only (needs `telemetry`): its pose part is a placeholder and
  // readers know not to look for robots (kFlagTelemetryOnly).
  bool telemetry_only = false;
  // The geometry section (format 1.3): visuals of any shape, any number per link, and meshes
  // stored in the segment. Without it the segment is readable as 1.2 is (one visual per link).
  std::optional<GeometryCapacities> geometry;
  // The scalar history section (format 1.3; needs `telemetry`): a downsampled record of each
  // tag's whole series, for readers that attach after the ring has wrapped.
  std::optional<HistoryCapacities> history;
};

class SegmentWriter {
 public:
  // Throws SegmentError: kInvalidArgument (name, capacities), kAlreadyExists (a live writer
  // holds the name), kSystem.
  explicit SegmentWriter(const WriterOptions& options);
  SegmentWriter(SegmentWriter&&) noexcept = default;
  SegmentWriter& operator=(SegmentWriter&&) noexcept = delete;
  ~SegmentWriter();  // close(true) unless already closed

  const Layout& layout() const noexcept { return layout_; }
  const std::string& name() const noexcept { return name_; }
  std::uint64_t frame() const noexcept { return frame_; }

  // Appends a model; returns its index. Throws kCapacity or kInvalidArgument.
  std::uint32_t add_model(std::string_view name, std::span<const LinkVisual> visuals);
  // Format 1.3: `links` holds one record per link for 1.2 readers (shapes 0..4, see FORMAT.md),
  // `visuals` every visual of the model (any shape, any number per link) for the geometry
  // section. Needs WriterOptions::geometry.
  std::uint32_t add_model(std::string_view name, std::span<const LinkVisual> links,
                          std::span<const VisualRecord> visuals);
  std::uint32_t model_link_count(std::uint32_t model) const;
  bool has_geometry() const noexcept { return geometry_.has_value(); }

  // Stores an encoded mesh (encode_mesh) in the geometry section; returns its index. Throws
  // kCapacity when the mesh table or the arena is full, kInvalidArgument without geometry.
  std::uint32_t add_mesh(const EncodedMesh& mesh);
  std::uint32_t mesh_count() const noexcept { return mesh_count_; }
  // Bytes of the mesh arena used so far (stored, i.e. compressed, sizes and alignment).
  std::uint64_t mesh_bytes_used() const noexcept { return arena_used_; }
  // Bytes of the whole shared memory object.
  std::uint64_t size_bytes() const noexcept { return mapping_.bytes().size(); }

  // Takes a free robot slot; returns its index. Its poses start as identity; its attributes
  // (format 1.3: colour, flags, producer, scalar) are `attributes`.
  std::uint32_t spawn_robot(std::string_view name, std::uint32_t model,
                            const RobotAttributeWords& attributes = {});
  void remove_robot(std::uint32_t slot);
  bool slot_in_use(std::uint32_t slot) const noexcept;

  // Publishes the links of one robot whose bit is set in `dirty` (one bit per link, 64 a word)
  // as part of the frame being built; `poses` holds all links of the robot, 7 floats each
  // (x y z qx qy qz qw). A robot written twice in one frame gets the union of both masks.
  void write_robot(std::uint32_t slot, std::span<const float> poses,
                   std::span<const std::uint64_t> dirty);
  // Stores the robot's attributes (format 1.3) as part of the frame being built: a change of
  // the robot with no dirty link (or merged into this frame's change), so readers notice it.
  void write_robot_attributes(std::uint32_t slot, const RobotAttributeWords& attributes);
  // Ends the frame being built: bumps the frame counter and records its time.
  void end_frame(double sim_time, std::uint64_t dirty_links, std::uint64_t changed_robots);

  bool has_telemetry() const noexcept { return telemetry_.has_value(); }
  // Throws kInvalidArgument when the segment was created without a telemetry section.
  TelemetryWriter& telemetry();

  void heartbeat() noexcept;
  // Marks the segment closed (readers see a clean close) and, if `unlink`, removes its name.
  void close(bool unlink) noexcept;
  bool closed() const noexcept { return closed_; }

 private:
  // `telemetry` is options.telemetry's layout, computed once by the public constructor.
  SegmentWriter(const WriterOptions& options, const std::optional<TelemetryLayout>& telemetry);
  SegmentHeader& header() const noexcept;
  std::byte* block(std::uint32_t slot) const noexcept;
  std::byte* geometry_base() const noexcept;
  // Opens (or continues) this frame's change of the robot in `slot`, inside its seqlock: returns
  // its mask entry, cleared for a new change.
  std::uint64_t* begin_change(std::uint32_t slot);
  // Appends a model record and its per-link visuals under the layout seqlock; `store_more`
  // stores what else the model needs inside the same change (its geometry-section visuals).
  template <typename StoreMore>
  void add_model_records(std::string_view name, std::span<const LinkVisual> visuals, std::uint32_t first_extended,
                         std::uint32_t extended_count, StoreMore&& store_more);

  std::string name_;
  Layout layout_;
  std::optional<GeometryLayout> geometry_;
  std::uint64_t geometry_offset_ = 0;  // == the header's total_size
  std::optional<HistoryLayout> history_;
  std::uint64_t history_offset_ = 0;   // after the geometry section
  SharedMemoryMapping mapping_;
  std::uint64_t frame_ = 0;          // last published frame
  std::uint64_t next_spawn_id_ = 1;
  std::uint32_t model_count_ = 0;
  std::uint32_t visual_count_ = 0;
  std::vector<std::uint32_t> model_links_;
  std::vector<std::uint8_t> slot_used_;
  std::vector<std::uint64_t> last_written_frame_;  // per slot, to merge masks within a frame
  std::optional<TelemetryWriter> telemetry_;
  std::uint32_t extended_visual_count_ = 0;
  std::uint32_t mesh_count_ = 0;
  std::uint64_t arena_used_ = 0;
  bool closed_ = false;
};

}  // namespace fleetscope::ipc
