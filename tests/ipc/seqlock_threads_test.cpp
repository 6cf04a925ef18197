// The seqlock under threads: one writer thread publishing as fast as it can, reader threads
// checking that no robot is ever seen half-written. Small enough to run under ThreadSanitizer;
// the multi-process version with millions of reads is e2e/torn_read_stress_test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../e2e/stress_pattern.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;

TEST(SeqlockThreads, ReadersNeverSeeATornRobot) {
  constexpr std::uint32_t kRobots = 4, kLinks = 12;
  static_assert(kLinks < 64, "the dirty mask below is one word");
  ipc::WriterOptions options;
  options.name = fleetscope::testing::unique_name("seqlock");
  options.capacities.robots = kRobots;
  options.capacities.links_per_robot = kLinks;
  ipc::SegmentWriter writer(options);
  const auto m = writer.add_model("m", std::vector<ipc::LinkVisual>(kLinks));
  std::vector<std::uint32_t> slots;
  for (std::uint32_t r = 0; r < kRobots; ++r) slots.push_back(writer.spawn_robot("r" + std::to_string(r), m));
  // Every frame writes every link of every robot.
  const std::vector<std::uint64_t> all_links(writer.layout().dirty_words, (1ULL << kLinks) - 1);
  std::vector<float> poses(kLinks * 7);
  auto publish = [&](std::uint64_t frame) {
    double pose[7];
    for (std::uint32_t l = 0; l < kLinks; ++l) {
      fleetscope::testing::stress_pose(frame, l, pose);
      for (int k = 0; k < 7; ++k) poses[l * 7 + k] = static_cast<float>(pose[k]);
    }
    for (const std::uint32_t slot : slots) writer.write_robot(slot, poses, all_links);
    writer.end_frame(double(frame), kRobots * kLinks, kRobots);
  };
  publish(1);
  const auto reader_segment = ipc::SegmentReader::open(options.name);
  std::atomic<bool> stop{false};
  std::atomic<long long> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      // Each thread has its own reader: SegmentReader is not thread-safe.
      const auto reader = ipc::SegmentReader::open(options.name);
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
