// Write, publish and ingest costs of pose segments (issue: foundation benchmarks).
// Run: build/tests/ipc_bench   (add --benchmark_repetitions=5 for spread)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Fleet {
  fleetscope::SimWriter writer;
  std::vector<double> a, b;  // two pose sets differing in every link
  explicit Fleet(std::uint32_t robots, std::uint32_t links, bool detect = false)
      : writer(config(robots, links, detect)) {
    fleetscope::ModelDesc model{"m", {}};
    for (std::uint32_t l = 0; l < links; ++l) model.links.push_back({});
    const auto m = writer.add_model(model);
    for (std::uint32_t r = 0; r < robots; ++r) writer.spawn_robot("r" + std::to_string(r), m);
    a.resize(writer.total_links() * 7);
    b.resize(a.size());
    for (std::size_t i = 0; i < writer.total_links(); ++i) {
      double* pa = &a[i * 7];
      double* pb = &b[i * 7];
      pa[0] = pb[0] = double(i);
      pa[1] = 0.0;
      pb[1] = 0.01;
      const double h = 0.1 * std::sin(double(i));
      pa[5] = std::sin(h), pa[6] = std::cos(h);
      pb[5] = std::sin(h + 0.01), pb[6] = std::cos(h + 0.01);
    }
  }
  static fleetscope::WriterConfig config(std::uint32_t robots, std::uint32_t links, bool detect) {
    fleetscope::WriterConfig c;
    c.detect_changes = detect;
    c.name = "bench." + std::to_string(::getpid()) + "." + std::to_string(robots);
    c.max_robots = robots;
    c.max_links = links;
    return c;
  }
};

// range(2): 1 = the writer detects changes itself (epsilon compare), 0 = every written link is published.
void BM_WritePublishAllChanged(benchmark::State& state) {
  Fleet fleet(static_cast<std::uint32_t>(state.range(0)), static_cast<std::uint32_t>(state.range(1)),
              state.range(2) != 0);
  bool flip = false;
  for (auto _ : state) {
    fleet.writer.set_all_poses(std::span<const double>(flip ? fleet.a : fleet.b));
    benchmark::DoNotOptimize(fleet.writer.publish(0.0));
    flip = !flip;
  }
  state.counters["links"] = double(fleet.writer.total_links());
  state.counters["segment_MiB"] = fleet.writer.segment().layout().total_size / 1048576.0;
}
BENCHMARK(BM_WritePublishAllChanged)
    ->ArgNames({"robots", "links", "detect"})
    ->Args({100, 30, 0})->Args({100, 30, 1})->Args({10000, 30, 0})->Args({10000, 30, 1})
    ->Unit(benchmark::kMicrosecond);

// Change detection on, every link written again with the values already published.
void BM_WritePublishNothingChanged(benchmark::State& state) {
  Fleet fleet(static_cast<std::uint32_t>(state.range(0)), static_cast<std::uint32_t>(state.range(1)), true);
  fleet.writer.set_all_poses(std::span<const double>(fleet.a));
  fleet.writer.publish(0.0);
  for (auto _ : state) {
    fleet.writer.set_all_poses(std::span<const double>(fleet.a));
    benchmark::DoNotOptimize(fleet.writer.publish(0.0));
  }
}
BENCHMARK(BM_WritePublishNothingChanged)->Args({100, 30})->Unit(benchmark::kMicrosecond);

// Reader cost of taking one frame in which every link changed (writer time excluded).
void BM_IngestAllChanged(benchmark::State& state) {
  Fleet fleet(static_cast<std::uint32_t>(state.range(0)), static_cast<std::uint32_t>(state.range(1)));
  const auto reader = fleetscope::ipc::SegmentReader::open(fleet.writer.segment().name());
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  bool flip = false;
  std::uint64_t links = 0;
  for (auto _ : state) {
    fleet.writer.set_all_poses(std::span<const double>(flip ? fleet.a : fleet.b));
    fleet.writer.publish(0.0);
    flip = !flip;
    const auto start = Clock::now();
    links = ingestor.ingest().links_changed;
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  state.counters["links_changed"] = double(links);
}
BENCHMARK(BM_IngestAllChanged)->Args({100, 30})->Args({10000, 30})->UseManualTime()->Unit(benchmark::kMicrosecond);

// A new frame in which no robot moved: the reader's cost must follow dirty links, not links.
void BM_IngestNothingChanged(benchmark::State& state) {
  Fleet fleet(static_cast<std::uint32_t>(state.range(0)), static_cast<std::uint32_t>(state.range(1)));
  const auto reader = fleetscope::ipc::SegmentReader::open(fleet.writer.segment().name());
  fleetscope::ipc::PoseIngestor ingestor(reader);
  fleet.writer.set_all_poses(std::span<const double>(fleet.a));
  fleet.writer.publish(0.0);
  ingestor.ingest();
  for (auto _ : state) {
    fleet.writer.publish(0.0);  // a new, empty frame
    const auto start = Clock::now();
    benchmark::DoNotOptimize(ingestor.ingest());
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
}
BENCHMARK(BM_IngestNothingChanged)->Args({100, 30})->Args({10000, 30})->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_Spawn100Robots(benchmark::State& state) {
  int round = 0;
  for (auto _ : state) {
    fleetscope::WriterConfig c;
    c.name = "bench.spawn." + std::to_string(::getpid()) + "." + std::to_string(round++);
    c.max_robots = 100;
    c.max_links = 30;
    fleetscope::SimWriter writer(c);
    fleetscope::ModelDesc model{"m", std::vector<fleetscope::LinkVisualDesc>(30)};
    const auto m = writer.add_model(model);
    const auto start = Clock::now();
    for (int r = 0; r < 100; ++r) writer.spawn_robot("r" + std::to_string(r), m);
    writer.publish(0.0);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
}
BENCHMARK(BM_Spawn100Robots)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
