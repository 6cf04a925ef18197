// Everything the dashboards show, gathered from the telemetry sections of attached segments:
// scalar series per (source, tag), worker rows with derived state and timing windows, job rows
// with progress history and GPU lanes. Qt-free so it is tested and benchmarked on its own;
// not thread-safe (the GUI thread polls it).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/ipc/source_registry.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace fleetscope::app {

struct SeriesPoint {
  double step = 0.0;
  double time_s = 0.0;  // seconds since the store started (local receive clock)
  double value = 0.0;
  std::uint64_t wall_ns = 0;  // the writer's wall time (CLOCK_REALTIME, ns since the epoch)
};

// Recent points at full resolution, older history thinned: when a series reaches its bound, every
// other point of its older half goes, so memory stays bounded while the chart keeps the run's
// whole history (at coarser resolution further back).
struct Series {
  std::string source;
  std::string tag;
  std::deque<SeriesPoint> points;
  std::uint64_t received = 0;    // records ever taken for this series
  std::uint64_t compactions = 0;  // times the older half was thinned (invalidates derived caches)
  std::size_t from_history = 0;   // leading points taken from the producer's downsampled history
};

struct WorkerView {
  std::string source;
  ipc::WorkerRowRead row;
  ipc::WorkerState state = ipc::WorkerState::kStarting;  // what the viewer shows
  double heartbeat_age_s = 0.0;
  double exec_mean_s = 0.0, exec_p95_s = 0.0;
  double ipc_mean_s = 0.0, ipc_p95_s = 0.0;
};

struct JobView {
  std::string source;  // segment name, or the manifest path
  ipc::JobRowRead row;
  std::optional<double> eta_s;  // nullopt: no progress seen yet (or done)
};

// Grasps the job still has to collect (0 once its quota is reached).
std::uint64_t remaining_grasps(const ipc::JobRowRead& row);

struct LaneInterval {
  int gpu = 0;
  std::string object_code;
  double start_s = 0.0;  // seconds on the lane chart's clock
  double end_s = 0.0;
  bool running = false;  // still open at end_s
  bool failed = false;
};

struct GraspState {
  std::vector<JobView> jobs;
  std::vector<LaneInterval> lanes;
  double now_s = 0.0;  // the lane clock's "now"
  std::uint64_t target_total = 0;
  std::uint64_t collected_total = 0;  // each job's counted up to its quota
  std::optional<double> eta_s;

  // Appends a job and adds it to the totals (the one place they are summed).
  void add_job(JobView job);
  // Every job listed has reached its quota.
  bool all_done() const { return !jobs.empty() && collected_total == target_total; }
};

class TelemetryStore {
 public:
  struct Options {
    double stall_after_s = 2.0;         // no heartbeat for this long: stalled
    std::size_t max_points = 4000;      // per series (then the older half is thinned)
    double timing_window_s = 30.0;      // exec/IPC mean and p95 over this window
    std::size_t max_lane_intervals = 2000;
  };
  // Reads the telemetry of every source in `registry` (borrowed: it must outlive the store); the
  // store never opens a source itself. Sources without telemetry are skipped.
  explicit TelemetryStore(ipc::SourceRegistry& registry);
  TelemetryStore(ipc::SourceRegistry& registry, const Options& options);

  // Attaches through the registry. Throws ipc::SegmentError. Returns false when the source has
  // no telemetry.
  bool attach(const std::string& name);
  // Names of the registry's sources that carry telemetry.
  std::vector<std::string> sources() const;

  // Takes what is new in every source of the registry (totals: received_total(), lost_total()).
  // A producer restarted under the same name (a new generation) goes on in the same series.
  void poll();
  double now_s() const;

  const std::map<std::pair<std::string, std::string>, Series>& series() const { return series_; }
  std::uint64_t lost_total() const;
  std::uint64_t received_total() const { return received_total_; }
  std::vector<WorkerView> workers() const;
  GraspState grasp_state() const;
  // Aggregate steps/s of all live workers, one point per second.
  const std::deque<std::pair<double, double>>& throughput() const { return throughput_; }
  const std::map<std::string, std::string>& errors() const { return errors_; }

 private:
  // What the store keeps of one source between polls: where it is in the ring and its tags.
  struct Source {
    std::string name;
    std::uint64_t generation = 0;
    ipc::ScalarCursor cursor;
    std::vector<std::string> tags;
    double rows_read_s = -1.0;
    double liveness_checked_s = -1.0;  // worker processes last looked up
  };
  struct WorkerHistory {
    std::uint64_t last_steps = 0;
    std::deque<std::tuple<double, double, double>> samples;  // time, exec, ipc
    bool process_gone = false;
  };
  struct JobHistory {
    std::deque<std::pair<double, std::uint64_t>> progress;  // time, collected
  };
  void read_source(const ipc::Source& from, Source& source, double now);
  // Matches sources_ to the registry's sources: new, gone and restarted ones.
  void sync_sources();
  // What the row says, corrected by what the viewer can see for itself (process gone, silence).
  ipc::WorkerState shown_state(const ipc::WorkerRowRead& row, const WorkerHistory& history,
                               double heartbeat_age_s) const;
  void update_lanes(double now);

  ipc::SourceRegistry& registry_;
  Options options_;
  std::uint64_t start_ns_;
  std::map<std::string, Source> sources_;
  std::map<std::string, std::string> errors_;
  std::map<std::pair<std::string, std::string>, Series> series_;
  std::uint64_t received_total_ = 0;
  std::uint64_t lost_closed_ = 0;  // losses of detached sources
  std::map<std::pair<std::string, std::uint32_t>, std::pair<ipc::WorkerRowRead, WorkerHistory>> workers_;
  std::map<std::pair<std::string, std::string>, std::pair<ipc::JobRowRead, JobHistory>> jobs_;
  std::map<int, std::size_t> open_lane_;  // gpu -> index into lanes_ of its running interval
  std::deque<LaneInterval> lanes_;
  std::deque<std::pair<double, double>> throughput_;
  double last_throughput_s_ = -1.0;
};

// Mean and 95th percentile of `values` (empty: zeros).
std::pair<double, double> mean_and_p95(std::vector<double> values);

}  // namespace fleetscope::app
