// Test helper: a reader process checking the no-torn-pose invariant.
//   fleetscope-test-reader NAME READS
// Reads robots round-robin (full reads through the seqlock) until READS robot reads succeeded;
// every link must decode to one frame value and every link of a robot to the same one.
// Prints "reads=N torn=T deferred=D frames_seen=F"; exits 0 only if T == 0.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "stress_pattern.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s NAME READS\n", argv[0]);
    return 2;
  }
  const long long wanted = std::atoll(argv[2]);
  try {
    const auto reader = fleetscope::ipc::SegmentReader::open(argv[1]);
    const auto layout = reader.read_layout();
    const auto& l = reader.info().layout;
    std::vector<std::uint64_t> dirty(l.dirty_words);
    std::vector<fleetscope::ipc::PoseRecord> poses(l.capacities.links_per_robot);
    long long reads = 0, torn = 0, deferred = 0;
    std::uint64_t last_value = 0, distinct_frames = 0;
    std::size_t next = 0;
    while (reads < wanted) {
      const auto& robot = layout.robots[next++ % layout.robots.size()];
      const auto read = reader.read_robot(robot.slot, std::nullopt, robot.link_count, dirty, poses);
      if (!read) {
        ++deferred;
        continue;
      }
      ++reads;
      long long value = -2;
      for (std::uint32_t link = 0; link < robot.link_count; ++link) {
        const long long v = fleetscope::testing::decode_stress_pose(poses[link], link);
        if (v < 0 || (value != -2 && v != value)) {
          ++torn;
          break;
        }
        value = v;
      }
      if (value >= 0 && static_cast<std::uint64_t>(value) != last_value) {
        last_value = static_cast<std::uint64_t>(value);
        ++distinct_frames;
      }
      if (reader.closed()) break;
    }
    std::printf("reads=%lld torn=%lld deferred=%lld frames_seen=%llu\n", reads, torn, deferred,
                static_cast<unsigned long long>(distinct_frames));
    return torn == 0 ? 0 : 1;
  } catch (const fleetscope::ipc::SegmentError& e) {
    std::fprintf(stderr, "test-reader: %s\n", e.what());
    return 3;
  }
}
