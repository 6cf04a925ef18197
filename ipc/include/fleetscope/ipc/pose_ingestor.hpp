// A reader's view of one segment kept up to date frame by frame: it follows layout changes and
// copies only the links that changed since it last looked (the dirty-bit resynchronisation rule
// is in FORMAT.md). The renderer and the console monitor both consume segments through this.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"

namespace fleetscope::ipc {

struct LinkChange {
  std::uint32_t slot;
  std::uint32_t link;
};

struct IngestStats {
  bool layout_changed = false;
  std::uint64_t frame = 0;
  std::uint64_t publish_ns = 0;     // writer's CLOCK_MONOTONIC time of `frame`
  std::uint32_t robots_read = 0;    // robots with at least one changed link
  std::uint32_t robots_deferred = 0;  // busy for every retry; taken next time
  std::uint32_t robots_torn = 0;      // left mid-write by a dead writer: last consistent poses kept
  std::uint64_t links_changed = 0;
};

class PoseIngestor {
 public:
  // `reader` must outlive the ingestor.
  explicit PoseIngestor(const SegmentReader& reader);

  // Brings the local copy up to date. Throws SegmentError (kCorrupt, kNotReady, kCapacity) from
  // layout reads and when the segment was truncated. Memory follows the robots in use, not the
  // capacities the segment claims. Once the writer is gone, a layout that failed is not read
  // again: the same error is thrown without touching the segment.
  IngestStats ingest();

  const LayoutSnapshot& layout() const noexcept { return layout_; }
  // Poses of the robot in `slot` as last ingested (link_count entries; empty if not in use).
  std::span<const PoseRecord> poses(std::uint32_t slot) const noexcept;
  // (slot, link) pairs whose pose changed in the last ingest(), robot by robot.
  std::span<const LinkChange> changes() const noexcept { return changes_; }
  // The robot's attributes (format 1.3: colour, flags, producer, scalar) as last ingested.
  RobotAttributeWords attributes(std::uint32_t slot) const noexcept;
  // Slots whose attributes changed in the last ingest() (a robot's first read counts when it
  // has any).
  std::span<const std::uint32_t> attribute_changes() const noexcept { return attribute_changes_; }

 private:
  struct Tracked {
    std::uint64_t spawn_id = 0;
    std::optional<std::uint64_t> seen_changes;
    std::vector<PoseRecord> poses;  // link_count entries
    RobotAttributeWords attributes;
  };
  void refresh_layout();

  const SegmentReader& reader_;
  LayoutSnapshot layout_;
  bool have_layout_ = false;
  std::optional<SegmentError> failed_layout_;  // of a gone writer: final
  std::uint64_t last_frame_ = ~0ULL;
  std::vector<Tracked> tracked_;          // per slot, up to the highest slot in use
  std::vector<PoseRecord> scratch_;       // one robot, for reads that may be retried
  std::vector<std::uint64_t> dirty_;      // one robot's mask
  std::vector<LinkChange> changes_;
  std::vector<std::uint32_t> attribute_changes_;
};

}  // namespace fleetscope::ipc
