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

}  // namespace fleetscope::ipc
