#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;

namespace {

ipc::WriterOptions options(const std::string& stem) {
  ipc::WriterOptions o;
  o.name = fleetscope::testing::unique_name(stem);
  return o;
}

}  // namespace

TEST(Discovery, ListsEverySegmentWithItsRobotsAndLinks) {
  ipc::SegmentWriter wa(options("disc.a")), wb(options("disc.b"));
  const auto m = wa.add_model("m", std::vector<ipc::LinkVisual>(5));
  wa.spawn_robot("x", m);
  wa.spawn_robot("y", m);
  wa.end_frame(0.0, 0, 0);
  const auto names = ipc::list_segment_names();
  EXPECT_NE(std::find(names.begin(), names.end(), wa.name()), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), wb.name()), names.end());
  const auto all = ipc::discover_segments();
  const auto it = std::find_if(all.begin(), all.end(), [&](const auto& s) { return s.name == wa.name(); });
  ASSERT_NE(it, all.end());
  EXPECT_TRUE(it->readable) << it->error;
  EXPECT_EQ(it->robots, 2u);
  EXPECT_EQ(it->links, 10u);
  EXPECT_EQ(it->writer_pid, ::getpid());
  EXPECT_EQ(it->status.state, ipc::WriterState::kLive);
}

TEST(Discovery, AClosedWriterLeavesNothingBehind) {
  const auto o = options("disc.closed");
  {
    ipc::SegmentWriter w(o);
  }
  const auto names = ipc::list_segment_names();
  EXPECT_EQ(std::find(names.begin(), names.end(), o.name), names.end());
}
