// fleetscope-many-segments: many small pose segments from one process, for the viewer's
// many-sources benchmark and tests. Owns --segments segments named <prefix>.NNNN, each with
// --robots reference robots (the fleet of fleetscope-sim, --links links each, laid out on one
// grid across all segments) and publishes every segment --rate times a second, round-robin from
// one loop, until --seconds pass or SIGTERM/SIGINT. Its segments are removed on exit.
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fleet_models.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace po = boost::program_options;

namespace {

std::atomic<bool> stop{false};
void on_signal(int) { stop.store(true, std::memory_order_relaxed); }

void sleep_until(std::uint64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000ULL);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000ULL);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    if (stop.load(std::memory_order_relaxed)) return;
  }
}

// Every segment keeps its shared memory object open: one descriptor each.
void raise_fd_limit(std::size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted + 64) {
    std::fprintf(stderr, "fleetscope-many-segments: only %llu file descriptors allowed for %zu segments\n",
                 static_cast<unsigned long long>(limit.rlim_cur), wanted);
  }
}

bool parse_links(const std::string& text, std::uint32_t& lo, std::uint32_t& hi) {
  try {
    std::size_t used = 0;
    const auto dash = text.find('-');
    if (dash == std::string::npos) {
      lo = hi = static_cast<std::uint32_t>(std::stoul(text, &used));
      return used == text.size();
    }
    lo = static_cast<std::uint32_t>(std::stoul(text.substr(0, dash), &used));
    if (used != dash) return false;
    const std::string rest = text.substr(dash + 1);
    hi = static_cast<std::uint32_t>(std::stoul(rest, &used));
    return used == rest.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int segments = 1000;
  std::uint32_t robots = 2;
  std::string links = "3-5";
  double rate = 30.0, seconds = 0.0;
  std::string prefix = "many";
  bool quiet = false;
  po::options_description opts(
      "fleetscope-many-segments: many small pose segments written by one process\n"
      "Usage: fleetscope-many-segments [options]\nOptions");
  opts.add_options()("help,h", "show this help")(
      "segments", po::value(&segments)->default_value(segments), "segments to own (1..10000)")(
      "robots", po::value(&robots)->default_value(robots), "robots per segment")(
      "links", po::value(&links)->default_value(links), "links per robot: N or MIN-MAX")(
      "rate", po::value(&rate)->default_value(rate), "publishes per second of every segment")(
      "seconds", po::value(&seconds)->default_value(seconds), "run time; 0 = until SIGTERM")(
      "prefix", po::value(&prefix)->default_value(prefix), "segment names are <prefix>.NNNN")(
      "quiet,q", po::bool_switch(&quiet), "no per-second statistics");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-many-segments: " << e.what() << "\n(try --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  fleetscope::sim::FleetSpec spec;
  if (!parse_links(links, spec.min_links, spec.max_links)) {
    std::cerr << "fleetscope-many-segments: --links must be N or MIN-MAX, got '" << links << "'\n";
    return 2;
  }
  if (segments < 1 || segments > 10000 || robots < 1 || robots > 1000 || !(rate > 0.0 && rate <= 10000.0) ||
      !(seconds >= 0.0) || prefix.empty() || prefix.size() > 40) {
    std::cerr << "fleetscope-many-segments: --segments must be 1..10000, --robots 1..1000, --rate in (0, 10000], "
                 "--seconds >= 0 and --prefix 1..40 characters\n";
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  raise_fd_limit(static_cast<std::size_t>(segments));

  try {
    // One fleet across all segments: segment i owns robots [i * robots, (i + 1) * robots) of it,
    // so every segment's robots stand on their own patch of the common grid.
    spec.robots = static_cast<std::uint32_t>(segments) * robots;
    const fleetscope::sim::FleetKinematics fleet(spec);
    std::vector<std::unique_ptr<fleetscope::SimWriter>> writers;
    std::vector<std::size_t> first_value;  // where each segment's poses start in `poses`
    std::size_t offset = 0;
    for (int i = 0; i < segments && !stop.load(std::memory_order_relaxed); ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "%s.%04d", prefix.c_str(), i);
      fleetscope::WriterConfig config;
      config.name = name;
      config.max_robots = robots;
      config.max_links = spec.max_links;
      config.max_models = static_cast<std::uint32_t>(fleet.models().size());
      config.max_visuals = static_cast<std::uint32_t>(fleet.models().size()) * spec.max_links;
      config.detect_changes = true;  // robots standing still publish nothing, as in fleetscope-sim
      auto writer = std::make_unique<fleetscope::SimWriter>(config);
      std::vector<std::uint32_t> model_ids;
      for (const auto& model : fleet.models()) model_ids.push_back(writer->add_model(model));
      first_value.push_back(offset);
      for (std::uint32_t r = 0; r < robots; ++r) {
        const auto& plan = fleet.robots()[static_cast<std::size_t>(i) * robots + r];
        writer->spawn_robot("robot" + std::to_string(r), model_ids[plan.model]);
        offset += plan.links * fleetscope::kPoseValues;
      }
      writers.push_back(std::move(writer));
    }
    std::vector<double> poses(fleet.total_links() * fleetscope::kPoseValues);
    if (!quiet) {
      std::printf("fleetscope-many-segments: %zu segments %s.0000..%s.%04d, %u robots each, %zu links in all, %.0f Hz\n",
                  writers.size(), prefix.c_str(), prefix.c_str(), segments - 1, robots, fleet.total_links(), rate);
      std::fflush(stdout);
    }
    const std::uint64_t period_ns = static_cast<std::uint64_t>(1e9 / rate);
    const std::uint64_t start = fleetscope::ipc::monotonic_ns();
    std::uint64_t next = start, window_start = start, window_publishes = 0, window_busy_ns = 0;
    double t = 0.0;
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t now = fleetscope::ipc::monotonic_ns();
      if (seconds > 0 && now - start >= static_cast<std::uint64_t>(seconds * 1e9)) break;
      t += 1.0 / rate;
      fleet.poses_at(t, poses);
      for (std::size_t i = 0; i < writers.size(); ++i) {
        const std::size_t end = i + 1 < writers.size() ? first_value[i + 1] : poses.size();
        writers[i]->set_all_poses(std::span<const double>(poses).subspan(first_value[i], end - first_value[i]));
        writers[i]->publish(t);
      }
      window_publishes += writers.size();
      const std::uint64_t done = fleetscope::ipc::monotonic_ns();
      window_busy_ns += done - now;
      if (done - window_start >= 1000000000ULL) {
        if (!quiet) {
          const double s = (done - window_start) / 1e9;
          std::printf("publishes/s %.0f, busy %.0f %% of a core\n", window_publishes / s, window_busy_ns / 1e7 / s);
          std::fflush(stdout);
        }
        window_start = done;
        window_publishes = window_busy_ns = 0;
      }
      next += period_ns;
      if (next > done) {
        sleep_until(next);
      } else if (done - next > 10 * period_ns) {
        next = done;  // fell far behind: do not burst
      }
    }
    for (auto& w : writers) w->close();
    if (!quiet) std::printf("fleetscope-many-segments: stopped, %zu segments removed\n", writers.size());
    return 0;
  } catch (const fleetscope::ipc::SegmentError& e) {
    std::cerr << "fleetscope-many-segments: " << e.what() << "\n";
    return 1;
  }
}
