// Test helper: a writer process with controllable behaviour.
//   fleetscope-test-writer NAME MODE ROBOTS LINKS
// MODE: stress  publish frames as fast as possible (stress pattern) until SIGTERM/SIGINT
//       steady  publish at ~100 Hz until signalled
//       paused  publish 3 frames, then stay alive without publishing until signalled
// Prints "ready" after its first publish. On SIGTERM/SIGINT it closes and removes the segment.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "stress_pattern.hpp"

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s NAME stress|steady|paused ROBOTS LINKS\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1], mode = argv[2];
  const auto robots = static_cast<std::uint32_t>(std::atoi(argv[3]));
  const auto links = static_cast<std::uint32_t>(std::atoi(argv[4]));
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    fleetscope::WriterConfig config;
    config.name = name;
    config.max_robots = robots;
    config.max_links = links;
    // A small telemetry section with a few records, so copies of this segment (the fuzzer's
    // seed among them) cover the telemetry format too.
    config.telemetry = fleetscope::ipc::TelemetryCapacities{64, 8, 4, 4};
    fleetscope::SimWriter writer(config);
    for (int i = 0; i < 80; ++i) writer.telemetry().scalar("test/value", i, i * 0.5);
    writer.telemetry().worker({1, ::getpid(), "test", fleetscope::ipc::WorkerState::kRunning, 8, 100, 10.0, 0.01, 0.001, 0});
    fleetscope::ipc::JobReport job;
    job.object_code = "test_object";
    job.target_count = 10;
    writer.telemetry().job(job);
    fleetscope::ModelDesc model{"stress", std::vector<fleetscope::LinkVisualDesc>(links)};
    const auto m = writer.add_model(model);
    for (std::uint32_t r = 0; r < robots; ++r) writer.spawn_robot("r" + std::to_string(r), m);
    std::vector<double> poses(writer.total_links() * 7);
    std::uint64_t frame = 0;
    auto publish_next = [&] {
      ++frame;
      for (std::size_t i = 0; i < writer.total_links(); ++i) {
        fleetscope::testing::stress_pose(frame, static_cast<std::uint32_t>(i % links), &poses[i * 7]);
      }
      writer.set_all_poses(std::span<const double>(poses));
      writer.publish(double(frame));
    };
    publish_next();
    std::printf("ready\n");
    std::fflush(stdout);
    while (!stop.load()) {
      if (mode == "stress") {
        publish_next();
      } else if (mode == "steady") {
        publish_next();
        ::usleep(10000);
      } else {
        if (frame < 3) publish_next();
        ::usleep(10000);
      }
    }
    writer.close();
    std::printf("closed after %llu frames\n", static_cast<unsigned long long>(frame));
    return 0;
  } catch (const fleetscope::ipc::SegmentError& e) {
    std::fprintf(stderr, "test-writer: %s\n", e.what());
    return 1;
  }
}
