// fleetscope-mujoco: runs a MuJoCo model (MJCF) and publishes it into a fleetscope segment after
// every physics step, at a chosen real-time factor, and reports what stepping and publishing cost.
#include <mujoco/mujoco.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/mujoco_publisher.hpp"

namespace po = boost::program_options;

namespace {

std::atomic<bool> stop_requested{false};
// For MuJoCo's fatal error handler, which must not return: close the segment before exiting.
fleetscope::MujocoPublisher* live_publisher = nullptr;

void on_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

void on_mujoco_warning(const char* message) {
  // Instead of MuJoCo's default, which also appends to MUJOCO_LOG.TXT in the working directory.
  std::fprintf(stderr, "fleetscope-mujoco: MuJoCo warning: %s\n", message);
}

[[noreturn]] void on_mujoco_error(const char* message) {
  std::fprintf(stderr, "fleetscope-mujoco: MuJoCo error: %s\n", message);
  if (live_publisher != nullptr) live_publisher->close();
  std::_Exit(1);
}

enum class Controls { kZero, kRandom, kSine };

struct Options {
  std::string model_path;
  std::string name = "mujoco";
  double rtf = 1.0;
  double duration = 0.0;
  Controls controls = Controls::kZero;
  bool quiet = false;
  bool verbose = false;
};

// Returns the exit code to use, or -1 to run.
int parse(int argc, char** argv, Options& o) {
  std::string controls = "zero";
  po::options_description desc(
      "fleetscope-mujoco: runs a MuJoCo model and publishes it into a fleetscope segment after every step\n"
      "Usage: fleetscope-mujoco MODEL.xml [options]\nOptions");
  desc.add_options()
      ("help,h", "show this help")
      ("name", po::value(&o.name)->default_value(o.name), "segment name ([A-Za-z0-9_.-], up to 47)")
      ("rtf", po::value(&o.rtf)->default_value(o.rtf), "real-time factor; 0 = as fast as possible")
      ("duration", po::value(&o.duration)->default_value(o.duration),
       "stop after this many simulated seconds; 0 = until SIGINT/SIGTERM")
      ("controls", po::value(&controls)->default_value(controls),
       "actuator controls: zero, random (uniform in the control range, every step) or sine")
      ("quiet,q", po::bool_switch(&o.quiet), "no per-second statistics (the summary at exit stays)")
      ("verbose,v", po::bool_switch(&o.verbose), "list the robots and models published");
  po::options_description hidden;
  hidden.add_options()("model", po::value(&o.model_path));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-mujoco: " << e.what() << "\n(try --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (o.model_path.empty()) {
    std::cerr << "fleetscope-mujoco: no model given\nUsage: fleetscope-mujoco MODEL.xml [options] (try --help)\n";
    return 2;
  }
  if (controls == "zero") {
    o.controls = Controls::kZero;
  } else if (controls == "random") {
    o.controls = Controls::kRandom;
  } else if (controls == "sine") {
    o.controls = Controls::kSine;
  } else {
    std::cerr << "fleetscope-mujoco: --controls must be zero, random or sine, got '" << controls << "'\n";
    return 2;
  }
  if (!(o.rtf >= 0.0) || !(o.duration >= 0.0)) {
    std::cerr << "fleetscope-mujoco: --rtf and --duration must be >= 0\n";
    return 2;
  }
  return -1;
}

using ModelPtr = std::unique_ptr<mjModel, decltype(&mj_deleteModel)>;
using DataPtr = std::unique_ptr<mjData, decltype(&mj_deleteData)>;

// Durations in microseconds: the mean exactly, percentiles from log-spaced buckets 2 % wide, so
// that a run of any length keeps a fixed size.
class Timings {
 public:
  void add(double us) {
    ++count_;
    sum_ += us;
    max_ = std::max(max_, us);
    const double position = std::log(std::max(us, kMinUs) / kMinUs) / std::log(kRatio);
    const auto bucket = std::min(static_cast<std::size_t>(position), kBuckets - 1);
    ++buckets_[bucket];
  }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double max() const { return max_; }
  // The upper edge of the bucket holding the q-quantile (never above the largest value seen).
  double percentile(double q) const {
    if (count_ == 0) return 0.0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += buckets_[b];
      if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(max_, kMinUs * std::pow(kRatio, static_cast<double>(b + 1)));
    }
    return max_;
  }
  void clear() { *this = Timings{}; }

 private:
  static constexpr double kMinUs = 0.01;
  static constexpr double kRatio = 1.02;
  static constexpr std::size_t kBuckets = 1200;  // 0.01 us .. about 200 s
  std::vector<std::uint64_t> buckets_ = std::vector<std::uint64_t>(kBuckets, 0);
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  double max_ = 0.0;
};

class Controller {
 public:
  Controller(const mjModel* m, Controls kind) : m_(m), kind_(kind) {}

  void apply(mjData* d) {
    if (kind_ == Controls::kZero) return;  // mj_makeData starts with zero controls
    for (int i = 0; i < m_->nu; ++i) {
      double lo = -1.0, hi = 1.0;
      if (m_->actuator_ctrllimited[i]) {
        lo = m_->actuator_ctrlrange[2 * i];
        hi = m_->actuator_ctrlrange[2 * i + 1];
      }
      if (kind_ == Controls::kRandom) {
        d->ctrl[i] = std::uniform_real_distribution<double>(lo, hi)(random_);
      } else {
        // 0.5 Hz, each actuator a little out of phase with the last.
        const double phase = 2.0 * std::numbers::pi * 0.5 * d->time + 0.7 * i;
        d->ctrl[i] = 0.5 * (lo + hi) + 0.5 * (hi - lo) * std::sin(phase);
      }
    }
  }

 private:
  const mjModel* m_;
  Controls kind_;
  std::mt19937_64 random_{1};
};

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void sleep_until(std::uint64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000ULL);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000ULL);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    if (stop_requested.load(std::memory_order_relaxed)) return;
  }
}

void print_timings(const char* label, const Timings& step, const Timings& publish) {
  const double share = step.sum() > 0 ? 100.0 * publish.sum() / step.sum() : 0.0;
  std::printf("%s step_us mean=%.1f p99=%.1f publish_us mean=%.2f p99=%.2f publish/step=%.3f%%\n", label,
              step.mean(), step.percentile(0.99), publish.mean(), publish.percentile(0.99), share);
  std::fflush(stdout);
}

void describe(const fleetscope::MujocoPublisher& publisher, const Options& o, bool verbose) {
  const auto& s = publisher.summary();
  std::printf("fleetscope-mujoco: %s -> segment '%s': %zu robots (%zu static) of %zu models, %zu links, "
              "%zu visuals (%zu geoms hidden), %zu meshes\n",
              o.model_path.c_str(), o.name.c_str(), s.dynamic_robots + s.static_robots, s.static_robots,
              s.models, s.links, s.visuals, s.hidden_geoms, s.meshes);
  if (!verbose) return;
  for (const auto& robot : publisher.robots()) {
    std::printf("  robot '%s': model %u, %zu links%s\n", robot.name.c_str(), robot.model, robot.bodies.size(),
                robot.is_static ? ", static" : "");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int code = parse(argc, argv, o); code >= 0) return code;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  mju_user_warning = on_mujoco_warning;
  mju_user_error = on_mujoco_error;

  std::error_code ec;
  if (!std::filesystem::is_regular_file(o.model_path, ec)) {
    const bool exists = std::filesystem::exists(o.model_path, ec);
    std::fprintf(stderr, "fleetscope-mujoco: cannot open model '%s': %s\n", o.model_path.c_str(),
                 exists ? "not a regular file" : "no such file");
    return 1;
  }
  char error[1024] = "";
  ModelPtr model(mj_loadXML(o.model_path.c_str(), nullptr, error, sizeof error), mj_deleteModel);
  if (!model) {
    std::fprintf(stderr, "fleetscope-mujoco: invalid model '%s': %s\n", o.model_path.c_str(), error);
    return 1;
  }
  if (error[0] != '\0') std::fprintf(stderr, "fleetscope-mujoco: MuJoCo warning: %s\n", error);
  DataPtr data(mj_makeData(model.get()), mj_deleteData);
  if (!data) {
    std::fprintf(stderr, "fleetscope-mujoco: MuJoCo could not allocate the model's data\n");
    return 1;
  }

  try {
    fleetscope::MujocoPublisherOptions options;
    options.name = o.name;
    fleetscope::MujocoPublisher publisher(model.get(), options);
    live_publisher = &publisher;
    describe(publisher, o, o.verbose);
    Controller controller(model.get(), o.controls);

    mj_forward(model.get(), data.get());
    publisher.publish(data.get());  // the initial state, before the first step

    Timings step, publish, total_step, total_publish;
    std::uint64_t dirty = 0, window_steps = 0;
    const std::uint64_t start_ns = now_ns();
    const double start_time = data->time;
    std::uint64_t report_ns = start_ns;
    while (!stop_requested.load(std::memory_order_relaxed)) {
      if (o.duration > 0.0 && data->time - start_time >= o.duration) break;
      controller.apply(data.get());
      const std::uint64_t t0 = now_ns();
      mj_step(model.get(), data.get());
      const std::uint64_t t1 = now_ns();
      const fleetscope::PublishStats stats = publisher.publish(data.get());
      const std::uint64_t t2 = now_ns();
      const double step_us = static_cast<double>(t1 - t0) / 1e3, publish_us = static_cast<double>(t2 - t1) / 1e3;
      step.add(step_us);
      publish.add(publish_us);
      total_step.add(step_us);
      total_publish.add(publish_us);
      dirty += stats.dirty_links;
      ++window_steps;
      if (o.rtf > 0.0) {
        sleep_until(start_ns + static_cast<std::uint64_t>((data->time - start_time) / o.rtf * 1e9));
      }
      if (const std::uint64_t now = now_ns(); now - report_ns >= 1000000000ULL) {
        if (!o.quiet) {
          const double wall = static_cast<double>(now - report_ns) / 1e9;
          char label[160];
          std::snprintf(label, sizeof label, "t=%.2fs steps/s=%.0f dirty_links/step=%.0f",
                        data->time, static_cast<double>(window_steps) / wall,
                        static_cast<double>(dirty) / static_cast<double>(window_steps));
          print_timings(label, step, publish);
        }
        step.clear();
        publish.clear();
        dirty = window_steps = 0;
        report_ns = now;
      }
    }
    const double wall = static_cast<double>(now_ns() - start_ns) / 1e9;
    char label[160];
    std::snprintf(label, sizeof label, "summary: steps=%llu sim_time=%.2fs wall=%.2fs rtf=%.2f",
                  static_cast<unsigned long long>(total_step.count()), data->time - start_time, wall,
                  wall > 0 ? (data->time - start_time) / wall : 0.0);
    print_timings(label, total_step, total_publish);
    live_publisher = nullptr;
  } catch (const fleetscope::ipc::SegmentError& e) {
    live_publisher = nullptr;
    std::fprintf(stderr, "fleetscope-mujoco: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    live_publisher = nullptr;
    std::fprintf(stderr, "fleetscope-mujoco: out of memory (a height field or mesh too large to publish?)\n");
    return 1;
  } catch (const std::exception& e) {
    live_publisher = nullptr;
    std::fprintf(stderr, "fleetscope-mujoco: %s\n", e.what());
    return 1;
  }
  return 0;
}
