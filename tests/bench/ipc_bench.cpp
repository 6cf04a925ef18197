// Write, publish and ingest costs of pose segments (issue: foundation benchmarks).
// Run: build/tests/ipc_bench   (add --benchmark_repetitions=5 for spread)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
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

// --- telemetry -------------------------------------------------------------------------------
fleetscope::SimWriter telemetry_writer(const char* stem, bool history = true) {
  fleetscope::WriterConfig c;
  c.name = std::string("bench.") + stem + "." + std::to_string(::getpid());
  c.max_robots = 0;
  c.telemetry = fleetscope::ipc::TelemetryCapacities{};
  c.history_tags = history ? 32 : 0;
  return fleetscope::SimWriter(c);
}

// One scalar record by tag id (the hot path of a trainer that keeps its tag ids).
void BM_TelemetryScalar(benchmark::State& state) {
  auto w = telemetry_writer("scalar");
  const auto tag = w.telemetry().tag("train/loss");
  std::int64_t step = 0;
  for (auto _ : state) w.telemetry().scalar(tag, ++step, 0.5);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TelemetryScalar)->Unit(benchmark::kNanosecond);

// The same without the scalar history (format 1.3): the difference is the history's write cost.
void BM_TelemetryScalarNoHistory(benchmark::State& state) {
  auto w = telemetry_writer("scalar-nohistory", false);
  const auto tag = w.telemetry().tag("train/loss");
  std::int64_t step = 0;
  for (auto _ : state) w.telemetry().scalar(tag, ++step, 0.5);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TelemetryScalarNoHistory)->Unit(benchmark::kNanosecond);

// One scalar record by tag name (what the C ABI's fs_writer_scalar does).
void BM_TelemetryScalarByName(benchmark::State& state) {
  auto w = telemetry_writer("scalar-name");
  std::int64_t step = 0;
  for (auto _ : state) w.telemetry().scalar(std::string_view("train/loss"), ++step, 0.5);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TelemetryScalarByName)->Unit(benchmark::kNanosecond);

// A batch of N records of one tag; items/s gives the per-record cost.
void BM_TelemetryScalarBatch(benchmark::State& state) {
  auto w = telemetry_writer("batch");
  const auto tag = w.telemetry().tag("load/exec_ms");
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::int64_t> steps(n);
  std::vector<double> values(n, 1.0);
  for (std::size_t i = 0; i < n; ++i) steps[i] = static_cast<std::int64_t>(i);
  for (auto _ : state) w.telemetry().scalars(tag, steps, values);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_TelemetryScalarBatch)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_TelemetryWorkerRow(benchmark::State& state) {
  auto w = telemetry_writer("worker");
  fleetscope::ipc::WorkerReport r{3, ::getpid(), "gpu0", fleetscope::ipc::WorkerState::kRunning, 16, 0, 1000.0, 0.004, 0.001, 0};
  for (auto _ : state) {
    ++r.steps;
    w.telemetry().worker(r);
  }
}
BENCHMARK(BM_TelemetryWorkerRow)->Unit(benchmark::kNanosecond);

void BM_TelemetryJobRow(benchmark::State& state) {
  auto w = telemetry_writer("job");
  fleetscope::ipc::JobReport r;
  r.object_code = "ycb_025_mug";
  r.target_count = 400;
  for (auto _ : state) {
    ++r.collected_count;
    w.telemetry().job(r);
  }
}
BENCHMARK(BM_TelemetryJobRow)->Unit(benchmark::kNanosecond);

// The reader's side: taking 1000 new records from a ring.
void BM_TelemetryRead1000(benchmark::State& state) {
  auto w = telemetry_writer("read");
  const auto tag = w.telemetry().tag("x");
  const auto segment = fleetscope::ipc::SegmentReader::open(w.segment().name());
  const auto reader = fleetscope::ipc::TelemetryReader::of(segment);
  fleetscope::ipc::ScalarCursor cursor;
  std::vector<fleetscope::ipc::ScalarSample> out;
  out.reserve(1000);
  std::int64_t step = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < 1000; ++i) w.telemetry().scalar(tag, ++step, 1.0);
    out.clear();
    state.ResumeTiming();
    reader->read_scalars(cursor, out);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_TelemetryRead1000)->Unit(benchmark::kMicrosecond);

}  // namespace

// A writer that stopped in the middle of writes (robot 0's and the frame's seqlocks odd): what a
// reader's poll costs. range(0) = 0: the writer is alive (it may finish, so the reader retries on
// every poll; this was every poll's cost for a dead writer before dead writers were recognised);
// 1: the writer is gone (learnt on the first poll; later polls read the odd seqlocks once).
void BM_IngestOddSeqlock(benchmark::State& state) {
  const bool dead = state.range(0) != 0;
  Fleet fleet(100, 30);
  fleet.writer.set_all_poses(std::span<const double>(fleet.a));
  fleet.writer.publish(0.0);
  const std::string path = "/dev/shm/fleetscope." + Fleet::config(100, 30, false).name;
  const int fd = ::open(path.c_str(), O_RDWR);
  struct stat st {};
  ::fstat(fd, &st);
  auto* base = static_cast<std::byte*>(::mmap(nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  auto& h = *reinterpret_cast<fleetscope::ipc::SegmentHeader*>(base);
  const std::int32_t real_pid = h.writer_pid;
  if (dead) h.writer_pid = 0;  // no such process
  auto& robot0 = *reinterpret_cast<fleetscope::ipc::RobotSync*>(base + h.blocks_offset);
  const auto reader = fleetscope::ipc::SegmentReader::open(Fleet::config(100, 30, false).name);
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  robot0.seq.fetch_add(1);
  robot0.change_count.fetch_add(1);
  h.frame_seq.fetch_add(1);
  h.frame.fetch_add(1);
  ingestor.ingest();  // the first poll after the crash (learns a dead writer)
  std::uint64_t deferred = 0;
  for (auto _ : state) deferred += ingestor.ingest().robots_deferred;
  state.counters["deferred_per_poll"] = benchmark::Counter(double(deferred) / double(state.iterations()));
  robot0.seq.fetch_add(1);
  h.frame_seq.fetch_add(1);
  h.writer_pid = real_pid;
  ::munmap(base, st.st_size);
}
BENCHMARK(BM_IngestOddSeqlock)->ArgName("writer_dead")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
