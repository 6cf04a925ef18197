// A test producer whose robots say who produced them (format 1.3 robot attributes): one segment
// with telemetry, `workers` worker rows (pid = this process) and two robots per worker in a row
// along x (worker w's robots at x = 2w and 2w + 1), each with its worker id, environment index,
// episode return and episode progress. Publishes at 30 Hz (small motions) until SIGTERM/SIGINT.
//   linked_fleet_writer NAME WORKERS [STALL_WORKER]
// A STALL_WORKER's row stops reporting after one second (the viewer then shows it stalled).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace {
volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: linked_fleet_writer NAME WORKERS [STALL_WORKER]\n");
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  const int workers = std::stoi(argv[2]);
  const int stall = argc > 3 ? std::stoi(argv[3]) : -1;
  fleetscope::WriterConfig c;
  c.name = argv[1];
  c.max_robots = static_cast<std::uint32_t>(2 * workers);
  c.max_links = 2;
  c.telemetry = fleetscope::ipc::TelemetryCapacities{1024, 8, static_cast<std::uint32_t>(workers), 4};
  fleetscope::SimWriter w(c);
  fleetscope::LinkVisualDesc body;
  body.shape = fleetscope::ipc::Shape::kBox;
  body.dims = {0.5f, 0.5f, 0.5f};
  body.rgba = {60, 140, 220, 255};
  fleetscope::LinkVisualDesc head = body;
  head.shape = fleetscope::ipc::Shape::kSphere;
  head.dims = {0.18f, 0, 0};
  const auto model = w.add_model(fleetscope::ModelDesc{"bot", {body, head}});
  std::vector<std::uint32_t> robots;
  for (int i = 0; i < 2 * workers; ++i) {
    robots.push_back(w.spawn_robot("w" + std::to_string(i / 2) + "-env" + std::to_string(i % 2), model));
  }
  std::printf("linked_fleet_writer: segment %s, %d workers\n", c.name.c_str(), workers);
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  for (int frame = 0; !stop; ++frame) {
    const double t = frame / 30.0;
    for (int i = 0; i < 2 * workers; ++i) {
      const double z = 0.25 + 0.02 * std::sin(t + i);
      const double poses[14] = {2.0 * i, 0, z, 0, 0, 0, 1, 2.0 * i, 0, z + 0.45, 0, 0, 0, 1};
      w.set_robot_poses(robots[i], std::span<const double>(poses, 14));
      fleetscope::RobotAttributes a;
      a.worker = static_cast<std::uint32_t>(i / 2);
      a.environment = static_cast<std::uint32_t>(i % 2);
      a.scalar = 10.0 * i + 0.1 * (frame % 10);
      a.episode = std::pair<std::uint32_t, std::uint32_t>{static_cast<std::uint32_t>(frame % 200),
                                                         static_cast<std::uint32_t>(frame / 200)};
      w.set_robot_attributes(robots[i], a);
    }
    w.publish(t);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (int k = 0; k < workers; ++k) {
      if (k == stall && elapsed > 1.0) continue;  // this worker went silent
      fleetscope::ipc::WorkerReport r;
      r.worker_id = static_cast<std::uint32_t>(k);
      r.pid = ::getpid();
      r.host = "test";
      r.steps = static_cast<std::uint64_t>(frame) * 2;
      r.steps_per_s = 60.0;
      w.telemetry().worker(r);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(33));
  }
  return 0;
}
