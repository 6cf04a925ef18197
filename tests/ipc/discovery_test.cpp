#include <gtest/gtest.h>

#include <algorithm>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;

TEST(Discovery, ListsEverySegmentWithItsRobotsAndLinks) {
  WriterConfig a, b;
  a.name = fleetscope::testing::unique_name("disc.a");
  b.name = fleetscope::testing::unique_name("disc.b");
  SimWriter wa(a), wb(b);
  const auto m = wa.add_model(ModelDesc{"m", std::vector<LinkVisualDesc>(5)});
  wa.spawn_robot("x", m);
  wa.spawn_robot("y", m);
  wa.publish(0.0);
  const auto names = ipc::list_segment_names();
  EXPECT_NE(std::find(names.begin(), names.end(), a.name), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), b.name), names.end());
  const auto all = ipc::discover_segments();
  const auto it = std::find_if(all.begin(), all.end(), [&](const auto& s) { return s.name == a.name; });
  ASSERT_NE(it, all.end());
  EXPECT_TRUE(it->readable) << it->error;
  EXPECT_EQ(it->robots, 2u);
  EXPECT_EQ(it->links, 10u);
  EXPECT_EQ(it->writer_pid, ::getpid());
  EXPECT_EQ(it->status.state, ipc::WriterState::kLive);
}

TEST(Discovery, AClosedWriterLeavesNothingBehind) {
  WriterConfig c;
  c.name = fleetscope::testing::unique_name("disc.closed");
  {
    SimWriter w(c);
  }
  const auto names = ipc::list_segment_names();
  EXPECT_EQ(std::find(names.begin(), names.end(), c.name), names.end());
}
