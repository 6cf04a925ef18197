// fleetscope-telemetry-load: many telemetry writers at a fixed record rate, for the dashboard
// benchmark. Forks one process per worker; each owns the segment <prefix>.wNN and publishes
// --rate scalar records per second (in 100 batches a second, over two tags, or over --tags tags
// named like a trainer's: rollout/..., train/..., time/..., perf/..., eval/... in turn) plus its
// worker row ten times a second, until --seconds pass or SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace po = boost::program_options;

namespace {

std::atomic<bool> stop{false};
void on_signal(int) { stop.store(true); }

// `tags` records per batch round-robin over trainer-like tags, each tag with its own steps.
int run_many_tags(fleetscope::SimWriter& writer, std::uint32_t id, int rate, double seconds, int tags) {
  auto& t = writer.telemetry();
  static const char* kGroups[] = {"rollout", "train", "time", "perf", "eval"};
  std::vector<std::uint32_t> ids;
  for (int k = 0; k < tags; ++k) {
    ids.push_back(t.tag(std::string(kGroups[k % 5]) + "/metric_" + std::to_string(k)));
  }
  std::vector<std::int64_t> steps(static_cast<std::size_t>(tags), 0);
  std::mt19937 rng(id);
  std::normal_distribution<double> noise(0.0, 0.05);
  constexpr int kBatchesPerSecond = 100;
  const int per_batch = std::max(1, rate / kBatchesPerSecond);
  const auto start = std::chrono::steady_clock::now();
  auto next = start;
  std::uint64_t records = 0;
  std::size_t turn = 0;
  for (int tick = 0; !stop.load(); ++tick) {
    if (seconds > 0 && std::chrono::steady_clock::now() - start > std::chrono::duration<double>(seconds)) break;
    for (int i = 0; i < per_batch; ++i, turn = (turn + 1) % ids.size()) {
      const double x = static_cast<double>(steps[turn]) / 1000.0;
      t.scalar(ids[turn], steps[turn]++, std::exp(-x * (1 + turn % 7)) + noise(rng));
      ++records;
    }
    if (tick % (kBatchesPerSecond / 10) == 0) {
      t.worker({id, ::getpid(), "load", fleetscope::ipc::WorkerState::kRunning, 16, records, double(rate), 0.004, 0.0006, 0});
    }
    next += std::chrono::milliseconds(1000 / kBatchesPerSecond);
    std::this_thread::sleep_until(next);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("worker %u: %llu records over %d tags in %.1f s (%.0f/s)\n", id, static_cast<unsigned long long>(records), tags,
              elapsed, records / elapsed);
  return 0;
}

int run_worker(const std::string& name, std::uint32_t id, int rate, double seconds, int tag_count) {
  fleetscope::WriterConfig config;
  config.name = name;
  config.max_robots = 0;  // telemetry only
  config.telemetry = fleetscope::ipc::TelemetryCapacities{};
  config.history_tags = 64;
  fleetscope::SimWriter writer(config);
  if (tag_count != 2) return run_many_tags(writer, id, rate, seconds, tag_count);
  auto& t = writer.telemetry();
  const std::uint32_t exec_tag = t.tag("load/exec_ms");
  const std::uint32_t ipc_tag = t.tag("load/ipc_ms");
  std::mt19937 rng(id);
  std::normal_distribution<double> exec(4.0, 0.8), ipc(0.6, 0.2);
  constexpr int kBatchesPerSecond = 100;
  const int per_batch = std::max(1, rate / kBatchesPerSecond);
  std::vector<std::int64_t> steps(static_cast<std::size_t>(per_batch / 2 + 1));
  std::vector<double> values(steps.size());
  std::int64_t step = 0;
  const auto start = std::chrono::steady_clock::now();
  auto next = start;
  std::uint64_t records = 0;
  for (int tick = 0; !stop.load(); ++tick) {
    if (seconds > 0 && std::chrono::steady_clock::now() - start > std::chrono::duration<double>(seconds)) break;
    // Half the batch to each tag.
    for (int k = 0; k < 2; ++k) {
      const std::size_t n = static_cast<std::size_t>(k == 0 ? per_batch / 2 : per_batch - per_batch / 2);
      for (std::size_t i = 0; i < n; ++i) {
        steps[i] = step + static_cast<std::int64_t>(i);
        values[i] = k == 0 ? exec(rng) : ipc(rng);
      }
      t.scalars(k == 0 ? exec_tag : ipc_tag, std::span(steps).first(n), std::span(values).first(n));
      records += n;
    }
    step += per_batch;
    if (tick % (kBatchesPerSecond / 10) == 0) {
      t.worker({id, ::getpid(), "load", fleetscope::ipc::WorkerState::kRunning, 16, static_cast<std::uint64_t>(step),
                double(rate), exec(rng) / 1000.0, ipc(rng) / 1000.0, 0});
    }
    next += std::chrono::milliseconds(1000 / kBatchesPerSecond);
    std::this_thread::sleep_until(next);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("worker %u: %llu records in %.1f s (%.0f/s)\n", id, static_cast<unsigned long long>(records), elapsed,
              records / elapsed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 64, rate = 1000, tags = 2;
  double seconds = 0;
  std::string prefix;
  po::options_description opts("fleetscope-telemetry-load: many telemetry writers at a fixed rate");
  opts.add_options()("help,h", "show this help")(
      "workers", po::value(&workers)->default_value(64), "writer processes")(
      "rate", po::value(&rate)->default_value(1000), "scalar records per second per writer")(
      "seconds", po::value(&seconds)->default_value(0), "run time; 0 = until SIGTERM")(
      "tags", po::value(&tags)->default_value(2), "scalar tags per writer (1..200)")(
      "prefix", po::value(&prefix)->default_value("load"), "segment names are <prefix>.wNN");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-telemetry-load: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (workers < 1 || workers > 1024 || rate < 2 || rate > 1000000 || tags < 1 || tags > 200) {
    std::cerr << "fleetscope-telemetry-load: --workers must be 1..1024, --rate 2..1000000 and --tags 1..200\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::vector<pid_t> children;
  for (int i = 0; i < workers; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      char name[64];
      std::snprintf(name, sizeof name, "%s.w%02d", prefix.c_str(), i);
      try {
        const int code = run_worker(name, static_cast<std::uint32_t>(i), rate, seconds, tags);
        std::fflush(stdout);
        std::_Exit(code);
      } catch (const fleetscope::ipc::SegmentError& e) {
        std::fprintf(stderr, "fleetscope-telemetry-load: %s\n", e.what());
        std::_Exit(1);
      }
    }
    if (pid < 0) {
      std::perror("fork");
      stop.store(true);
      break;
    }
    children.push_back(pid);
  }
  std::printf("fleetscope-telemetry-load: %zu writers x %d records/s\n", children.size(), rate);
  std::fflush(stdout);
  int failed = 0;
  for (pid_t pid : children) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      if (stop.load()) {
        for (pid_t c : children) ::kill(c, SIGTERM);
      }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  return failed == 0 ? 0 : 1;
}
