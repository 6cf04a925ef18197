// Test helper: a writer process with controllable behaviour.
//   fleetscope-test-writer NAME MODE ROBOTS LINKS
// MODE: stress  publish frames as fast as possible (stress pattern) until SIGTERM/SIGINT
//       steady  publish at ~100 Hz until signalled
//       paused  publish 3 frames, then stay alive without publishing until signalled
//   fleetscope-test-writer NAME MODE ROBOTS LINKS geometry
// also stores format 1.3 geometry: a model with a plane, an ellipsoid and two stored meshes (one
// zstd-compressed, with normals), a static robot of it ("world", not among the ROBOTS), and
// colour and attributes on robot r0. The fuzzer's seed is written so (.ci/run).
// Prints "ready" after its first publish. On SIGTERM/SIGINT it closes and removes the segment.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "stress_pattern.hpp"

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop.store(true); }

// Format 1.3 content (see the usage above); small, so that the fuzzer's seed stays small.
void add_geometry(fleetscope::SimWriter& writer, std::optional<std::uint32_t> r0) {
  using fleetscope::ipc::Shape;
  fleetscope::MeshData tetrahedron;
  tetrahedron.vertices = {0, 0, 0, 0.2f, 0, 0, 0, 0.2f, 0, 0, 0, 0.2f};
  tetrahedron.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  fleetscope::MeshData strip;  // repetitive: stored compressed
  for (std::uint32_t i = 0; i < 24; ++i) {
    strip.vertices.insert(strip.vertices.end(), {0.1f * static_cast<float>(i / 2), 0.1f * static_cast<float>(i % 2), 0.0f});
    strip.normals.insert(strip.normals.end(), {0.0f, 0.0f, 1.0f});
    if (i >= 2) strip.triangles.insert(strip.triangles.end(), {i - 2, i - 1, i});
  }
  fleetscope::LinkVisualDesc plane;
  plane.shape = Shape::kPlane;
  plane.dims = {10.0f, 10.0f, 0.0f};
  plane.rgba = {90, 90, 90, 255};
  fleetscope::LinkVisualDesc ellipsoid;
  ellipsoid.shape = Shape::kEllipsoid;
  ellipsoid.dims = {0.3f, 0.2f, 0.1f};
  ellipsoid.rgba = {200, 50, 50, 128};
  fleetscope::LinkVisualDesc part;
  part.shape = Shape::kInlineMesh;
  part.mesh = writer.add_mesh(tetrahedron);
  part.scale = {2.0f, 2.0f, 2.0f};
  fleetscope::LinkVisualDesc ribbon = part;
  ribbon.mesh = writer.add_mesh(strip);
  ribbon.offset_position = {0.0f, 0.0f, 1.0f};
  const std::uint32_t world = writer.add_model(fleetscope::RobotModelDesc{
      "world", {{"ground", {plane}}, {"props", {ellipsoid, part, ribbon}}, {"marker", {}}}});
  std::vector<double> poses(3 * 7, 0.0);
  for (int l = 0; l < 3; ++l) poses[l * 7 + 6] = 1.0;
  poses[7 + 2] = 0.5;
  writer.spawn_static("world", world, poses);
  if (r0) {
    writer.set_robot_color(*r0, std::array<std::uint8_t, 4>{255, 160, 0, 255});
    fleetscope::RobotAttributes attributes;
    attributes.worker = 1;  // the telemetry's worker row
    attributes.environment = 0;
    attributes.scalar = 2.5;
    writer.set_robot_attributes(*r0, attributes);
  }
}
}  // namespace

int main(int argc, char** argv) {
  const bool geometry = argc == 6 && std::string(argv[5]) == "geometry";
  if (argc != 5 && !geometry) {
    std::fprintf(stderr, "usage: %s NAME stress|steady|paused ROBOTS LINKS [geometry]\n", argv[0]);
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
    if (geometry) {
      config.max_robots = robots + 1;  // and the static "world"
      config.max_geometry_visuals = 16;  // a small section: the fuzzer's seed stays small
      config.max_meshes = 4;
      config.mesh_bytes = 4096;
    }
    fleetscope::SimWriter writer(config);
    for (int i = 0; i < 80; ++i) writer.telemetry().scalar("test/value", i, i * 0.5);
    writer.telemetry().worker({1, ::getpid(), "test", fleetscope::ipc::WorkerState::kRunning, 8, 100, 10.0, 0.01, 0.001, 0});
    fleetscope::ipc::JobReport job;
    job.object_code = "test_object";
    job.target_count = 10;
    writer.telemetry().job(job);
    fleetscope::ModelDesc model{"stress", std::vector<fleetscope::LinkVisualDesc>(links)};
    const auto m = writer.add_model(model);
    std::optional<std::uint32_t> r0;
    for (std::uint32_t r = 0; r < robots; ++r) {
      const std::uint32_t id = writer.spawn_robot("r" + std::to_string(r), m);
      if (r == 0) r0 = id;
    }
    if (geometry) add_geometry(writer, r0);
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
