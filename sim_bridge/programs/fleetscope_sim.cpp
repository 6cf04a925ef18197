// fleetscope-sim: the reference fleet simulation. Publishes N mobile manipulators into a pose
// segment at a fixed simulated rate and real-time factor, and reports its own write cost. With
// --urdf, the robots are N copies of a URDF robot on a grid, their joints moved by sines.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numbers>
#include <optional>
#include <iostream>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "fleet_models.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "fleetscope/sim_bridge/urdf_model.hpp"

namespace po = boost::program_options;

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

struct Options {
  std::string name = "fleet";
  fleetscope::sim::FleetSpec fleet;
  double rate = 60.0;
  double rtf = 1.0;
  double duration = 0.0;
  bool quiet = false;
  std::string urdf;                       // empty: the reference fleet
  std::vector<std::string> package_path;  // for the URDF's package:// and relative paths
};

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

// Returns the exit code to use, or -1 to run.
int parse(int argc, char** argv, Options& o) {
  std::string links = "10-30";
  bool verbose = false;
  po::options_description desc(
      "fleetscope-sim: reference fleet simulation publishing into a fleetscope segment\n"
      "Usage: fleetscope-sim [options]\nOptions");
  desc.add_options()
      ("help,h", "show this help")
      ("name", po::value(&o.name)->default_value(o.name), "segment name ([A-Za-z0-9_.-], up to 47)")
      ("robots", po::value(&o.fleet.robots)->default_value(o.fleet.robots), "number of robots")
      ("links", po::value(&links)->default_value(links), "links per robot: N or MIN-MAX")
      ("models", po::value(&o.fleet.model_count)->default_value(o.fleet.model_count), "distinct robot models")
      ("still", po::value(&o.fleet.still_fraction)->default_value(o.fleet.still_fraction),
       "share of the time each robot stands still (0..0.95)")
      ("rate", po::value(&o.rate)->default_value(o.rate), "frames per simulated second")
      ("rtf", po::value(&o.rtf)->default_value(o.rtf), "real-time factor; 0 = as fast as possible")
      ("duration", po::value(&o.duration)->default_value(o.duration),
       "stop after this many simulated seconds; 0 = until SIGINT/SIGTERM")
      ("urdf", po::value(&o.urdf), "publish --robots copies of this URDF robot on a grid instead, joints moved by sines")
      ("package-path", po::value(&o.package_path)->composing(),
       "directory searched for the URDF's package:// and relative mesh paths (repeatable; ROS_PACKAGE_PATH is also used)")
      ("quiet,q", po::bool_switch(&o.quiet), "no per-second statistics")
      ("verbose,v", po::bool_switch(&verbose), "log details");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-sim: " << e.what() << "\n(try --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  if (!parse_links(links, o.fleet.min_links, o.fleet.max_links)) {
    std::cerr << "fleetscope-sim: --links must be N or MIN-MAX, got '" << links << "'\n";
    return 2;
  }
  if (!(o.rate > 0.0 && o.rate <= 100000.0)) {
    std::cerr << "fleetscope-sim: --rate must be in (0, 100000]\n";
    return 2;
  }
  if (!(o.rtf >= 0.0) || !(o.duration >= 0.0) || !(o.fleet.still_fraction >= 0.0 && o.fleet.still_fraction <= 0.95)) {
    std::cerr << "fleetscope-sim: --rtf and --duration must be >= 0, --still in 0..0.95\n";
    return 2;
  }
  return -1;
}

void sleep_until(std::uint64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000ULL);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000ULL);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    if (stop_requested.load(std::memory_order_relaxed)) return;
  }
}

// Per-second statistics of the write cost (set_all_poses + publish).
struct CostWindow {
  std::vector<double> us;
  std::uint64_t dirty = 0;
  void report(double sim_time, std::uint64_t frame, double seconds) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double v : us) sum += v;
    const double p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    std::printf("t=%.2fs frame=%llu fps=%.1f write_us mean=%.1f p99=%.1f max=%.1f dirty_links/frame=%.0f\n",
                sim_time, static_cast<unsigned long long>(frame), us.size() / seconds,
                sum / us.size(), p99, us.back(), double(dirty) / us.size());
    std::fflush(stdout);
    us.clear();
    dirty = 0;
  }
};

// N copies of a URDF robot on a grid, each joint swinging through the middle of its range on a
// sine of its own period (continuous joints turn), robots out of phase.
class UrdfFleetMotion {
 public:
  UrdfFleetMotion(fleetscope::SimWriter& writer, const fleetscope::urdf::UrdfModel& model, std::uint32_t robots,
                  double spacing)
      : fleet_(writer, model), q_(std::size_t{robots} * model.dof()) {
    const auto columns = static_cast<std::uint32_t>(std::ceil(std::sqrt(static_cast<double>(robots))));
    for (std::uint32_t r = 0; r < robots; ++r) {
      const double base[fleetscope::kPoseValues] = {(r % columns) * spacing, (r / columns) * spacing, 0, 0, 0, 0, 1};
      fleet_.spawn("robot" + std::to_string(r), base);
    }
    motions_.resize(model.dof());
    for (const auto& joint : model.joints()) {
      if (!joint.actuated || joint.mimic) continue;
      const std::size_t j = *joint.actuated;
      const bool turns = joint.type == fleetscope::urdf::JointType::kContinuous;
      const double range = joint.upper - joint.lower;
      motions_[j] = {turns ? 0.0 : 0.5 * (joint.lower + joint.upper), turns ? 0.0 : (range > 0 ? 0.4 * range : 0.5),
                     2.0 * std::numbers::pi / (3.0 + 1.3 * static_cast<double>(j % 5)), turns};
    }
  }

  void move_joints(double t) {
    const std::size_t dof = motions_.size();
    for (std::size_t r = 0; r < fleet_.size(); ++r) {
      const double phase = 0.7 * static_cast<double>(r);
      for (std::size_t j = 0; j < dof; ++j) {
        const Motion& m = motions_[j];
        q_[r * dof + j] = m.turns ? m.omega * t + phase : m.centre + m.amplitude * std::sin(m.omega * t + phase + j);
      }
    }
  }
  void write() { fleet_.set_joint_positions(q_); }

 private:
  struct Motion {
    double centre = 0, amplitude = 0, omega = 0;
    bool turns = false;
  };
  fleetscope::urdf::UrdfFleet fleet_;
  std::vector<Motion> motions_;
  std::vector<double> q_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int code = parse(argc, argv, o); code >= 0) return code;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  try {
    // Each frame: prepare (the simulation's own work, not timed), then stage and publish (the
    // write cost reported; for a URDF fleet it includes the forward kinematics).
    std::function<void(double)> prepare, stage;
    std::optional<fleetscope::SimWriter> writer;
    std::optional<fleetscope::sim::FleetKinematics> fleet;
    std::optional<UrdfFleetMotion> urdf;
    std::vector<double> poses;
    if (o.urdf.empty()) {
      fleet.emplace(o.fleet);
      fleetscope::WriterConfig config;
      config.name = o.name;
      config.max_robots = o.fleet.robots;
      config.max_links = o.fleet.max_links;
      config.max_models = static_cast<std::uint32_t>(fleet->models().size());
      config.max_visuals = static_cast<std::uint32_t>(fleet->models().size()) * o.fleet.max_links;
      config.detect_changes = true;  // robots standing still publish nothing
      writer.emplace(config);

      std::vector<std::uint32_t> model_ids;
      for (const auto& model : fleet->models()) model_ids.push_back(writer->add_model(model));
      for (std::size_t r = 0; r < fleet->robots().size(); ++r) {
        writer->spawn_robot("robot" + std::to_string(r), model_ids[fleet->robots()[r].model]);
      }
      poses.resize(fleet->total_links() * fleetscope::kPoseValues);
      if (!o.quiet) {
        std::printf("fleetscope-sim: segment '%s', %u robots, %zu links, %zu models, %.0f Hz, rtf %g\n",
                    o.name.c_str(), o.fleet.robots, fleet->total_links(), fleet->models().size(), o.rate, o.rtf);
      }
      prepare = [&](double t) { fleet->poses_at(t, poses); };
      stage = [&](double) { writer->set_all_poses(std::span<const double>(poses)); };
    } else {
      fleetscope::urdf::UrdfOptions options;
      options.search_path.assign(o.package_path.begin(), o.package_path.end());
      const auto model = fleetscope::urdf::UrdfModel::load(o.urdf, options);
      fleetscope::WriterConfig config;
      config.name = o.name;
      // Capacities for exactly this model and these robots.
      config.max_robots = 0;
      config.max_links = 1;
      config.max_models = 0;
      config.max_visuals = 0;
      config.max_meshes = 0;
      config.mesh_bytes = 0;
      model.reserve_capacity(config, o.fleet.robots);
      config.detect_changes = true;
      writer.emplace(config);
      urdf.emplace(*writer, model, o.fleet.robots, o.fleet.grid_spacing);
      if (!o.quiet) {
        std::printf("fleetscope-sim: segment '%s', %u robots of URDF '%s' (%zu links, %zu joints, %zu meshes), "
                    "%.0f Hz, rtf %g\n",
                    o.name.c_str(), o.fleet.robots, model.name().c_str(), model.link_count(), model.dof(),
                    model.meshes().size(), o.rate, o.rtf);
      }
      prepare = [&](double t) { urdf->move_joints(t); };
      stage = [&](double) { urdf->write(); };
    }
    std::fflush(stdout);

    const double dt = 1.0 / o.rate;
    const std::uint64_t period_ns = o.rtf > 0 ? static_cast<std::uint64_t>(dt / o.rtf * 1e9) : 0;
    std::uint64_t next = fleetscope::ipc::monotonic_ns();
    std::uint64_t window_start = next;
    CostWindow window;
    double t = 0.0;
    std::uint64_t frame = 0;
    while (!stop_requested.load(std::memory_order_relaxed)) {
      if (o.duration > 0 && t >= o.duration - 1e-9) break;
      t += dt;
      prepare(t);
      const std::uint64_t start = fleetscope::ipc::monotonic_ns();
      stage(t);
      const fleetscope::PublishStats stats = writer->publish(t);
      const std::uint64_t end = fleetscope::ipc::monotonic_ns();
      frame = stats.frame;
      window.us.push_back((end - start) / 1e3);
      window.dirty += stats.dirty_links;
      if (end - window_start >= 1000000000ULL) {
        if (!o.quiet) window.report(t, frame, (end - window_start) / 1e9);
        window.us.clear();
        window.dirty = 0;
        window_start = end;
      }
      if (period_ns > 0) {
        next += period_ns;
        const std::uint64_t now = fleetscope::ipc::monotonic_ns();
        if (next > now) sleep_until(next);
        else if (now - next > 100 * period_ns) next = now;  // fell far behind: do not burst
      }
    }
    writer->close();
    if (!o.quiet) std::printf("fleetscope-sim: stopped after %llu frames, segment removed\n",
                              static_cast<unsigned long long>(frame));
    return 0;
  } catch (const fleetscope::ipc::SegmentError& e) {
    std::cerr << "fleetscope-sim: " << e.what() << "\n";
    return 1;
  }
}
