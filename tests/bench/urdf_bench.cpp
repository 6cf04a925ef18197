// URDF forward kinematics for 100 robots of a 30-joint chain per call (issue: real robots in;
// goal <= 100 us from NumPy), on its own and with the poses staged into a segment.
// Run: build/tests/urdf_bench   (the NumPy path: tests/bench/python_urdf_bench.py)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fleetscope/sim_bridge/urdf_model.hpp"

namespace {

constexpr std::uint32_t kRobots = 100;
constexpr std::uint32_t kJoints = 30;

// A chain of `joints` revolute joints (axes z, y, x in turn), a cylinder per link; the same
// robot python_urdf_bench.py writes.
std::string chain_urdf(std::uint32_t joints) {
  const char* axes[] = {"0 0 1", "0 1 0", "1 0 0"};
  std::string xml = "<?xml version=\"1.0\"?>\n<robot name=\"chain" + std::to_string(joints) + "\">\n";
  auto link = [&](std::uint32_t i) {
    xml += "  <link name=\"link" + std::to_string(i) +
           "\"><visual><origin xyz=\"0 0 0.05\"/><geometry><cylinder radius=\"0.03\" length=\"0.1\"/></geometry>"
           "</visual></link>\n";
  };
  link(0);
  for (std::uint32_t j = 1; j <= joints; ++j) {
    xml += "  <joint name=\"joint" + std::to_string(j) + "\" type=\"revolute\"><parent link=\"link" +
           std::to_string(j - 1) + "\"/><child link=\"link" + std::to_string(j) +
           "\"/><origin xyz=\"0 0 0.1\" rpy=\"0 0 0.1\"/><axis xyz=\"" + axes[j % 3] +
           "\"/><limit lower=\"-3\" upper=\"3\" effort=\"1\" velocity=\"1\"/></joint>\n";
    link(j);
  }
  return xml + "</robot>\n";
}

const fleetscope::urdf::UrdfModel& chain_model() {
  static const fleetscope::urdf::UrdfModel model = [] {
    const auto path = std::filesystem::temp_directory_path() / ("fleetscope-urdf-bench-" + std::to_string(::getpid()) + ".urdf");
    std::ofstream(path) << chain_urdf(kJoints);
    auto loaded = fleetscope::urdf::UrdfModel::load(path);
    std::filesystem::remove(path);
    return loaded;
  }();
  return model;
}

// Two sets of joint positions that differ in every joint, so every link moves every call.
std::vector<double> positions(double phase) {
  std::vector<double> q(std::size_t{kRobots} * kJoints);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.37 * static_cast<double>(i) + phase);
  return q;
}

void report(benchmark::State& state) {
  state.counters["robots"] = kRobots;
  state.counters["joints"] = kJoints;
  state.counters["links/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * kRobots * (kJoints + 1),
                                                 benchmark::Counter::kIsRate);
}

// FK only: link poses of 100 robots into a float array.
void BM_UrdfForwardKinematics(benchmark::State& state) {
  const auto& model = chain_model();
  const std::vector<double> a = positions(0.0), b = positions(0.5);
  std::vector<float> out(std::size_t{kRobots} * model.link_count() * 7);
  bool flip = false;
  for (auto _ : state) {
    model.forward_kinematics(flip ? b : a, {}, out, kRobots);
    benchmark::DoNotOptimize(out.data());
    flip = !flip;
  }
  report(state);
}

struct Segment {
  fleetscope::SimWriter writer;
  fleetscope::urdf::UrdfFleet fleet;
  Segment(const fleetscope::urdf::UrdfModel& model, bool detect)
      : writer(config(model, detect)), fleet(writer, model) {
    for (std::uint32_t r = 0; r < kRobots; ++r) {
      const double base[7] = {1.0 * (r % 10), 1.0 * (r / 10), 0, 0, 0, 0, 1};
      fleet.spawn("r" + std::to_string(r), base);
    }
  }
  static fleetscope::WriterConfig config(const fleetscope::urdf::UrdfModel& model, bool detect) {
    fleetscope::WriterConfig c;
    c.name = "bench.urdf." + std::to_string(::getpid()) + (detect ? ".d" : "");
    c.max_robots = 0;
    c.detect_changes = detect;
    model.reserve_capacity(c, kRobots);
    return c;
  }
};

// FK staged into the writer (what fs_urdf_write_poses and UrdfRobots.fk do per call).
// range(0): 1 = the writer detects changes (epsilon compare), 0 = not.
void BM_UrdfWritePoses(benchmark::State& state) {
  Segment segment(chain_model(), state.range(0) != 0);
  const std::vector<double> a = positions(0.0), b = positions(0.5);
  bool flip = false;
  for (auto _ : state) {
    segment.fleet.set_joint_positions(flip ? b : a);
    flip = !flip;
  }
  report(state);
}

// The whole step: FK, staging and publish (every link changed).
void BM_UrdfWritePosesAndPublish(benchmark::State& state) {
  Segment segment(chain_model(), state.range(0) != 0);
  const std::vector<double> a = positions(0.0), b = positions(0.5);
  bool flip = false;
  double t = 0;
  for (auto _ : state) {
    segment.fleet.set_joint_positions(flip ? b : a);
    benchmark::DoNotOptimize(segment.writer.publish(t += 0.01));
    flip = !flip;
  }
  report(state);
}

}  // namespace

BENCHMARK(BM_UrdfForwardKinematics)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UrdfWritePoses)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UrdfWritePosesAndPublish)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
