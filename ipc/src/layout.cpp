#include "fleetscope/ipc/layout.hpp"

#include <string>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/geometry_format.hpp"
#include "fleetscope/ipc/history_format.hpp"
#include "fleetscope/ipc/telemetry_format.hpp"

namespace fleetscope::ipc {
namespace {

constexpr std::uint64_t align_up(std::uint64_t value) {
  return (value + kCacheLine - 1) / kCacheLine * kCacheLine;
}

void require_in_range(const char* what, std::uint32_t value, std::uint32_t max) {
  if (value == 0 || value > max) {
    throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + " must be in 1.." +
                                                        std::to_string(max) + ", got " +
                                                        std::to_string(value));
  }
}

}  // namespace

Layout compute_layout(const Capacities& c) {
  require_in_range("robot capacity", c.robots, kMaxRobots);
  require_in_range("links per robot", c.links_per_robot, kMaxLinksPerRobot);
  require_in_range("model capacity", c.models, kMaxModels);
  require_in_range("visual capacity", c.visuals, kMaxVisuals);
  require_in_range("dirty history", c.dirty_history, kMaxDirtyHistory);

  // All products below fit in 64 bits given the limits above (largest: 2^20 * ~100 KiB).
  Layout l;
  l.capacities = c;
  l.dirty_words = (c.links_per_robot + 63) / 64;
  l.models_offset = align_up(sizeof(SegmentHeader));
  l.visuals_offset = align_up(l.models_offset + std::uint64_t{c.models} * sizeof(ModelRecord));
  l.robots_offset = align_up(l.visuals_offset + std::uint64_t{c.visuals} * sizeof(LinkVisual));
  l.blocks_offset = align_up(l.robots_offset + std::uint64_t{c.robots} * sizeof(RobotSlot));
  l.masks_in_block = sizeof(RobotSync);
  l.poses_in_block = align_up(l.masks_in_block + std::uint64_t{c.dirty_history} * l.dirty_words * 8);
  l.block_stride = align_up(l.poses_in_block + std::uint64_t{c.links_per_robot} * sizeof(PoseRecord));
  l.total_size = l.blocks_offset + std::uint64_t{c.robots} * l.block_stride;
  if (l.total_size > kMaxSegmentBytes) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "segment would need " + std::to_string(l.total_size) +
                           " bytes, above the format's limit of " + std::to_string(kMaxSegmentBytes));
  }
  return l;
}

TelemetryLayout compute_telemetry_layout(const TelemetryCapacities& c) {
  require_in_range("scalar ring capacity", c.scalars, kMaxScalarCapacity);
  if ((c.scalars & (c.scalars - 1)) != 0) {
    throw SegmentError(ErrorCode::kInvalidArgument, "scalar ring capacity must be a power of two, got " +
                                                        std::to_string(c.scalars));
  }
  require_in_range("tag capacity", c.tags, kMaxTags);
  require_in_range("worker capacity", c.workers, kMaxWorkers);
  require_in_range("job capacity", c.jobs, kMaxJobs);
  TelemetryLayout l;
  l.capacities = c;
  l.tags_offset = align_up(sizeof(TelemetryHeader));
  l.scalars_offset = align_up(l.tags_offset + std::uint64_t{c.tags} * sizeof(TagRecord));
  l.workers_offset = align_up(l.scalars_offset + std::uint64_t{c.scalars} * sizeof(ScalarRecord));
  l.jobs_offset = align_up(l.workers_offset + std::uint64_t{c.workers} * sizeof(WorkerRow));
  l.size = align_up(l.jobs_offset + std::uint64_t{c.jobs} * sizeof(JobRow));
  return l;
}

HistoryLayout compute_history_layout(const HistoryCapacities& c) {
  require_in_range("history tag capacity", c.tags, kMaxHistoryTags);
  require_in_range("history buckets", c.buckets, kMaxHistoryBuckets);
  if ((c.buckets & (c.buckets - 1)) != 0 || c.buckets < 2) {
    throw SegmentError(ErrorCode::kInvalidArgument, "history buckets must be a power of two of at least 2, got " +
                                                        std::to_string(c.buckets));
  }
  HistoryLayout l;
  l.capacities = c;
  l.blocks_offset = sizeof(HistoryHeader);
  l.block_stride = align_up(sizeof(HistoryBlockHeader) + std::uint64_t{c.buckets} * sizeof(HistoryBucket));
  l.size = l.blocks_offset + std::uint64_t{c.tags} * l.block_stride;
  return l;
}

GeometryLayout compute_geometry_layout(const GeometryCapacities& c) {
  require_in_range("geometry visual capacity", c.visuals, kMaxExtendedVisuals);
  require_in_range("mesh capacity", c.meshes, kMaxMeshes);
  if (c.mesh_bytes > kMaxMeshArenaBytes) {
    throw SegmentError(ErrorCode::kInvalidArgument, "mesh bytes must be at most " + std::to_string(kMaxMeshArenaBytes) +
                                                        ", got " + std::to_string(c.mesh_bytes));
  }
  GeometryLayout l;
  l.capacities = c;
  l.visuals_offset = align_up(sizeof(GeometryHeader));
  l.meshes_offset = align_up(l.visuals_offset + std::uint64_t{c.visuals} * sizeof(VisualRecord));
  l.arena_offset = align_up(l.meshes_offset + std::uint64_t{c.meshes} * sizeof(MeshRecord));
  l.size = align_up(l.arena_offset + c.mesh_bytes);
  return l;
}

}  // namespace fleetscope::ipc
