#include <gtest/gtest.h>
#include <unistd.h>

#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;

TEST(Liveness, OwnProcessIsAliveWithItsStartTime) {
  const auto start = process_start_ticks(::getpid());
  ASSERT_TRUE(start.has_value());
  EXPECT_TRUE(process_alive(::getpid(), *start));
  EXPECT_FALSE(process_alive(::getpid(), *start + 1)) << "a reused pid must not count as the writer";
  EXPECT_FALSE(process_start_ticks(0).has_value());
}

TEST(Liveness, WriterStatesFollowPublishingAndClosing) {
  SegmentWriter writer(WriterOptions{fleetscope::testing::unique_name("states"), {2, 2, 1, 2, 16}, true, std::nullopt, false, std::nullopt, std::nullopt});
  const auto reader = SegmentReader::open(writer.name());
  writer.end_frame(0.0, 0, 0);
  EXPECT_EQ(reader.writer_status(1'000'000'000ULL).state, WriterState::kLive);
  ::usleep(30000);
  EXPECT_EQ(reader.writer_status(10'000'000ULL).state, WriterState::kPaused);
  writer.close(false);
  EXPECT_EQ(reader.writer_status().state, WriterState::kClosed);
  EXPECT_TRUE(reader.closed());
  SharedMemoryMapping::remove(writer.name());
}
