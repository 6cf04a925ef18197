// Where each section of a segment lives, computed from its capacities. Writer and reader both
// derive the layout from the capacities alone; a reader then requires the header's offsets to be
// exactly these, which rules out overlapping or out-of-range sections in one comparison.
#pragma once

#include <cstdint>

#include "fleetscope/ipc/format.hpp"

namespace fleetscope::ipc {

struct Capacities {
  std::uint32_t robots = 128;
  std::uint32_t links_per_robot = 32;
  std::uint32_t models = 16;
  std::uint32_t visuals = 1024;
  std::uint32_t dirty_history = 16;
};

struct Layout {
  Capacities capacities;
  std::uint32_t dirty_words = 0;
  std::uint64_t models_offset = 0;
  std::uint64_t visuals_offset = 0;
  std::uint64_t robots_offset = 0;
  std::uint64_t blocks_offset = 0;
  std::uint64_t block_stride = 0;
  std::uint64_t masks_in_block = 0;  // offset of the mask ring inside a block
  std::uint64_t poses_in_block = 0;  // offset of the pose records inside a block
  std::uint64_t total_size = 0;
};

// Throws SegmentError(kInvalidArgument) when a capacity is zero or above the format's limits.
Layout compute_layout(const Capacities& capacities);

// The telemetry section (format 1.1): scalar ring, tag table, worker and job tables.
struct TelemetryCapacities {
  std::uint32_t scalars = 16384;  // ring records; a power of two
  std::uint32_t tags = 256;
  std::uint32_t workers = 256;
  std::uint32_t jobs = 1024;
};

struct TelemetryLayout {
  TelemetryCapacities capacities;
  std::uint64_t tags_offset = 0;  // all offsets from the start of the section
  std::uint64_t scalars_offset = 0;
  std::uint64_t workers_offset = 0;
  std::uint64_t jobs_offset = 0;
  std::uint64_t size = 0;
};

// Throws SegmentError(kInvalidArgument) for a capacity out of range or a ring that is not a
// power of two.
TelemetryLayout compute_telemetry_layout(const TelemetryCapacities& capacities);

// The geometry section (format 1.3): every visual of every model, and meshes stored inline.
struct GeometryCapacities {
  std::uint32_t visuals = 1024;   // visual records over all models
  std::uint32_t meshes = 64;      // distinct stored meshes
  std::uint64_t mesh_bytes = 0;   // arena for their (compressed) data; 0: no stored meshes
};

struct GeometryLayout {
  GeometryCapacities capacities;
  std::uint64_t visuals_offset = 0;  // all offsets from the start of the section
  std::uint64_t meshes_offset = 0;
  std::uint64_t arena_offset = 0;
  std::uint64_t size = 0;
};

// Throws SegmentError(kInvalidArgument) for a capacity out of range (mesh_bytes may be 0).
GeometryLayout compute_geometry_layout(const GeometryCapacities& capacities);

// The scalar history section (format 1.3): per tag, `buckets` downsampled buckets of its series.
// 1024 buckets are 49,216 bytes a tag and keep a million steps at 1,024 steps a bucket.
struct HistoryCapacities {
  std::uint32_t tags = 32;       // the first this many tags of the telemetry tag table
  std::uint32_t buckets = 1024;  // a power of two
};

struct HistoryLayout {
  HistoryCapacities capacities;
  std::uint64_t blocks_offset = 0;  // from the start of the section
  std::uint64_t block_stride = 0;
  std::uint64_t size = 0;
};

// Throws SegmentError(kInvalidArgument) for a capacity out of range or buckets not a power of two.
HistoryLayout compute_history_layout(const HistoryCapacities& capacities);

}  // namespace fleetscope::ipc
