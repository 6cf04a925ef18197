// The seqlock under threads: one writer thread publishing as fast as it can, reader threads
// checking that no robot is ever seen half-written. Small enough to run under ThreadSanitizer;
// the multi-process version with millions of reads is e2e/torn_read_stress_test.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../e2e/stress_pattern.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;

TEST(SeqlockThreads, ReadersNeverSeeATornRobot) {
  constexpr std::uint32_t kRobots = 4, kLinks = 12;
  WriterConfig c;
  c.name = fleetscope::testing::unique_name("seqlock");
  c.max_robots = kRobots;
  c.max_links = kLinks;
  SimWriter writer(c);
  const auto m = writer.add_model(ModelDesc{"m", std::vector<LinkVisualDesc>(kLinks)});
  for (std::uint32_t r = 0; r < kRobots; ++r) writer.spawn_robot("r" + std::to_string(r), m);
  std::vector<double> poses(writer.total_links() * 7);
  auto publish = [&](std::uint64_t frame) {
    for (std::size_t i = 0; i < writer.total_links(); ++i) {
      fleetscope::testing::stress_pose(frame, static_cast<std::uint32_t>(i % kLinks), &poses[i * 7]);
    }
    writer.set_all_poses(std::span<const double>(poses));
    writer.publish(double(frame));
  };
  publish(1);
  const auto reader_segment = ipc::SegmentReader::open(c.name);
  std::atomic<bool> stop{false};
  std::atomic<long long> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      // Each thread has its own reader: SegmentReader is not thread-safe.
      const auto reader = ipc::SegmentReader::open(c.name);
      const auto layout = reader.read_layout();
      std::vector<std::uint64_t> dirty(reader.info().layout.dirty_words);
      std::vector<ipc::PoseRecord> out(kLinks);
      while (!stop.load(std::memory_order_relaxed)) {
        for (const auto& robot : layout.robots) {
          if (!reader.read_robot(robot.slot, std::nullopt, kLinks, dirty, out)) continue;
          reads.fetch_add(1, std::memory_order_relaxed);
          const long long first = fleetscope::testing::decode_stress_pose(out[0], 0);
          for (std::uint32_t l = 0; l < kLinks; ++l) {
            if (fleetscope::testing::decode_stress_pose(out[l], l) != first || first < 0) {
              torn.fetch_add(1);
              break;
            }
          }
        }
      }
    });
  }
  std::uint64_t frame = 1;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  while (std::chrono::steady_clock::now() < until) publish(++frame);
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 100);
  EXPECT_GT(frame, 10u);
  (void)reader_segment;
}
