#include <gtest/gtest.h>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/layout.hpp"

using namespace fleetscope::ipc;

TEST(Layout, SectionsAreAlignedOrderedAndDisjoint) {
  const Layout l = compute_layout({100, 30, 4, 120, 16});
  EXPECT_EQ(l.models_offset, sizeof(SegmentHeader));
  for (auto offset : {l.models_offset, l.visuals_offset, l.robots_offset, l.blocks_offset, l.block_stride,
                      l.poses_in_block}) {
    EXPECT_EQ(offset % kCacheLine, 0u);
  }
  EXPECT_GE(l.visuals_offset, l.models_offset + 4 * sizeof(ModelRecord));
  EXPECT_GE(l.robots_offset, l.visuals_offset + 120 * sizeof(LinkVisual));
  EXPECT_GE(l.blocks_offset, l.robots_offset + 100 * sizeof(RobotSlot));
  EXPECT_GE(l.poses_in_block, l.masks_in_block + 16 * 8);
  EXPECT_GE(l.block_stride, l.poses_in_block + 30 * sizeof(PoseRecord));
  EXPECT_EQ(l.total_size, l.blocks_offset + 100 * l.block_stride);
}

TEST(Layout, DirtyWordsCoverEveryLink) {
  EXPECT_EQ(compute_layout({1, 64, 1, 64, 16}).dirty_words, 1u);
  EXPECT_EQ(compute_layout({1, 65, 1, 65, 16}).dirty_words, 2u);
  EXPECT_EQ(compute_layout({1, 1024, 1, 1024, 16}).dirty_words, 16u);
}

TEST(Layout, TenThousandRobotsOfThirtyLinksFitIn32MiB) {
  const Layout l = compute_layout({10000, 30, 16, 1024, 16});
  EXPECT_LE(l.total_size, 32u * 1024 * 1024);
}

TEST(Layout, RejectsZeroAndOversizedCapacities) {
  EXPECT_THROW(compute_layout({0, 30, 4, 120, 16}), SegmentError);
  EXPECT_THROW(compute_layout({10, 0, 4, 120, 16}), SegmentError);
  EXPECT_THROW(compute_layout({10, kMaxLinksPerRobot + 1, 4, 120, 16}), SegmentError);
  EXPECT_THROW(compute_layout({kMaxRobots + 1, 30, 4, 120, 16}), SegmentError);
  EXPECT_THROW(compute_layout({kMaxRobots, kMaxLinksPerRobot, 4, 120, kMaxDirtyHistory}), SegmentError);
}
