#include "telemetry_store.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"

namespace fleetscope::app {
namespace {

constexpr double kWriterCheckEvery_s = 1.0;   // worker processes looked up
constexpr double kRowsEvery_s = 0.3;          // worker and job rows (scalars: every poll)
constexpr double kThroughputEvery_s = 1.0;
constexpr std::size_t kMaxThroughputPoints = 3600;
constexpr double kEtaWindow_s = 120.0;

}  // namespace

std::pair<double, double> mean_and_p95(std::vector<double> values) {
  if (values.empty()) return {0.0, 0.0};
  double sum = 0.0;
  for (double v : values) sum += v;
  const std::size_t k = static_cast<std::size_t>(std::ceil(0.95 * values.size())) - 1;
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return {sum / values.size(), values[k]};
}

std::uint64_t remaining_grasps(const ipc::JobRowRead& row) {
  return row.target_count > row.collected_count ? row.target_count - row.collected_count : 0;
}

void GraspState::add_job(JobView job) {
  target_total += job.row.target_count;
  collected_total += std::min(job.row.collected_count, job.row.target_count);
  jobs.push_back(std::move(job));
}

TelemetryStore::TelemetryStore(ipc::SourceRegistry& registry) : TelemetryStore(registry, Options{}) {}

TelemetryStore::TelemetryStore(ipc::SourceRegistry& registry, const Options& options)
    : registry_(registry), options_(options), start_ns_(ipc::monotonic_ns()) {}

double TelemetryStore::now_s() const { return (ipc::monotonic_ns() - start_ns_) / 1e9; }

bool TelemetryStore::attach(const std::string& name) {
  const bool telemetry = registry_.attach(name).has_telemetry();
  sync_sources();
  return telemetry;
}

std::vector<std::string> TelemetryStore::sources() const {
  std::vector<std::string> names;
  for (const auto& [name, source] : sources_) names.push_back(name);
  return names;
}

std::uint64_t TelemetryStore::lost_total() const {
  std::uint64_t lost = lost_closed_;
  for (const auto& [name, source] : sources_) lost += source.cursor.lost;
  return lost;
}

void TelemetryStore::sync_sources() {
  std::set<std::string> present;
  for (const auto& from : registry_.sources()) {
    if (!from->has_telemetry()) continue;
    present.insert(from->name());
    auto [it, added] = sources_.try_emplace(from->name());
    Source& source = it->second;
    if (added) {
      source.name = from->name();
      source.generation = from->generation();
    } else if (source.generation != from->generation()) {
      // A writer restarted under the same name: a new ring and tag table, the same series. A
      // recording moved back in time: its series start again, read up to the new position.
      lost_closed_ += source.cursor.lost;
      source = Source{from->name(), from->generation(), {}, {}, -1.0, -1.0};
      if (from->kind() == "recording") {
        std::erase_if(series_, [&](const auto& entry) { return entry.first.first == from->name(); });
      }
    }
  }
  for (auto it = sources_.begin(); it != sources_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    lost_closed_ += it->second.cursor.lost;
    errors_.erase(it->first);
    it = sources_.erase(it);
  }
}

void TelemetryStore::read_source(const ipc::Source& from, Source& source, double now) {
  std::vector<ipc::ScalarSample> samples;
  from.read_scalars(source.cursor, samples);  // losses add up in the cursor
  if (source.tags.size() < from.tag_count()) {
    const auto first_new = static_cast<std::uint32_t>(source.tags.size());
    auto added = from.tags_from(first_new);
    source.tags.insert(source.tags.end(), added.begin(), added.end());
    // A tag seen for the first time starts with the producer's downsampled history (format 1.3)
    // up to the first record the ring still holds: a viewer attached after the ring wrapped
    // draws the run from its first step, coarser where the ring no longer reaches.
    for (auto tag = first_new; tag < source.tags.size(); ++tag) {
      const auto history = from.history(tag);
      if (!history || history->points.empty()) continue;
      std::int64_t ring_first = INT64_MAX;
      for (const auto& s : samples) {
        if (s.tag == tag) ring_first = std::min(ring_first, s.step);
      }
      auto& entry = series_[{source.name, source.tags[tag]}];
      if (!entry.points.empty()) continue;  // a restarted producer goes on in its series
      entry.source = source.name;
      entry.tag = source.tags[tag];
      for (const auto& p : history->points) {
        if (p.last_step >= ring_first) break;
        entry.points.push_back({static_cast<double>(p.last_step), now, p.mean, p.last_wall_unix_ns});
      }
      entry.from_history = entry.points.size();
    }
  }
  // Consecutive records of one tag go to the same series: look it up once per run.
  Series* series = nullptr;
  std::uint32_t series_tag = UINT32_MAX;
  for (const auto& s : samples) {
    if (s.tag >= source.tags.size()) continue;  // the tag table is read after the records
    if (s.tag != series_tag) {
      auto& entry = series_[{source.name, source.tags[s.tag]}];
      if (entry.tag.empty()) {
        entry.source = source.name;
        entry.tag = source.tags[s.tag];
      }
      series = &entry;
      series_tag = s.tag;
    }
    series->points.push_back({static_cast<double>(s.step), now, s.value, s.wall_unix_ns});
    ++series->received;
    if (series->points.size() > options_.max_points) {
      auto& pts = series->points;
      const std::size_t half = pts.size() / 2;
      std::size_t kept = 0;
      for (std::size_t i = 0; i < half; i += 2) pts[kept++] = pts[i];
      pts.erase(pts.begin() + static_cast<std::ptrdiff_t>(kept), pts.begin() + static_cast<std::ptrdiff_t>(half));
      ++series->compactions;
    }
  }
  received_total_ += samples.size();

  // Rows carry their own heartbeat times, so reading them a few times a second loses nothing
  // the panels show; the scalar ring is drained on every poll.
  if (now - source.rows_read_s < kRowsEvery_s) return;
  source.rows_read_s = now;
  const bool check = now - source.liveness_checked_s >= kWriterCheckEvery_s;
  if (check) source.liveness_checked_s = now;
  for (const auto& row : from.workers()) {
    auto& [latest, history] = workers_[{source.name, row.worker_id}];
    if (row.steps != history.last_steps || history.samples.empty()) {
      history.samples.emplace_back(now, row.exec_s, row.ipc_s);
      history.last_steps = row.steps;
    }
    while (!history.samples.empty() && now - std::get<0>(history.samples.front()) > options_.timing_window_s) {
      history.samples.pop_front();
    }
    if (check || latest.pid != row.pid) {
      history.process_gone = row.pid > 0 && !ipc::process_alive(row.pid, row.start_ticks);
    }
    latest = row;
  }
  for (const auto& row : from.jobs()) {
    auto& [latest, history] = jobs_[{source.name, row.object_code}];
    if (history.progress.empty() || history.progress.back().second != row.collected_count) {
      history.progress.emplace_back(now, row.collected_count);
    }
    while (history.progress.size() > 2 && now - history.progress.front().first > kEtaWindow_s) {
      history.progress.pop_front();
    }
    latest = row;
  }
}

void TelemetryStore::update_lanes(double now) {
  std::map<int, std::string> running;  // gpu -> object
  for (const auto& [key, entry] : jobs_) {
    const auto& row = entry.first;
    if (row.state == ipc::JobState::kRunning && row.gpu >= 0) running[row.gpu] = row.object_code;
  }
  for (auto it = open_lane_.begin(); it != open_lane_.end();) {
    LaneInterval& lane = lanes_[it->second];
    lane.end_s = now;
    const auto r = running.find(it->first);
    if (r == running.end() || r->second != lane.object_code) {
      lane.running = false;
      it = open_lane_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [gpu, object] : running) {
    if (open_lane_.count(gpu)) continue;
    lanes_.push_back({gpu, object, now, now, true, false});
    open_lane_[gpu] = lanes_.size() - 1;
  }
  while (lanes_.size() > options_.max_lane_intervals) {
    lanes_.pop_front();
    for (auto& [gpu, index] : open_lane_) --index;  // open intervals are the newest, never popped
  }
}

void TelemetryStore::poll() {
  const double now = now_s();
  // Liveness and restarts are the registry's (the 3D view refreshes it every poll; a store
  // without a view refreshes it here: calls between its intervals cost nothing).
  registry_.refresh();
  sync_sources();
  for (auto& [name, source] : sources_) {
    const ipc::Source* from = registry_.find(name);
    if (!from) continue;
    try {
      read_source(*from, source, now);
      errors_.erase(name);
    } catch (const ipc::SegmentError& e) {
      errors_[name] = e.what();  // a corrupt table: keep what we have, say why
    }
  }
  update_lanes(now);
  if (now - last_throughput_s_ >= kThroughputEvery_s) {
    const std::uint64_t now_ns = ipc::monotonic_ns();
    double total = 0.0;
    for (const auto& [key, entry] : workers_) {
      const auto& [row, history] = entry;
      const double age = now_ns > row.heartbeat_ns ? (now_ns - row.heartbeat_ns) / 1e9 : 0.0;
      if (shown_state(row, history, age) == ipc::WorkerState::kRunning) total += row.steps_per_s;
    }
    if (!workers_.empty()) throughput_.emplace_back(now, total);
    if (throughput_.size() > kMaxThroughputPoints) throughput_.pop_front();
    last_throughput_s_ = now;
  }
}

ipc::WorkerState TelemetryStore::shown_state(const ipc::WorkerRowRead& row, const WorkerHistory& history,
                                             double heartbeat_age_s) const {
  if (row.state == ipc::WorkerState::kStopped || row.state == ipc::WorkerState::kRestarting) return row.state;
  if (history.process_gone) return ipc::WorkerState::kDead;
  if (row.state != ipc::WorkerState::kDead && heartbeat_age_s > options_.stall_after_s) return ipc::WorkerState::kStalled;
  return row.state;
}

std::vector<WorkerView> TelemetryStore::workers() const {
  const std::uint64_t now_ns = ipc::monotonic_ns();
  const double now = now_s();
  std::vector<WorkerView> out;
  out.reserve(workers_.size());
  for (const auto& [key, entry] : workers_) {
    const auto& [row, history] = entry;
    WorkerView v;
    v.source = key.first;
    v.row = row;
    v.heartbeat_age_s = now_ns > row.heartbeat_ns ? (now_ns - row.heartbeat_ns) / 1e9 : 0.0;
    v.state = shown_state(row, history, v.heartbeat_age_s);
    std::vector<double> exec, ipc;
    for (const auto& [t, e, i] : history.samples) {
      if (now - t > options_.timing_window_s) continue;
      exec.push_back(e);
      ipc.push_back(i);
    }
    std::tie(v.exec_mean_s, v.exec_p95_s) = mean_and_p95(std::move(exec));
    std::tie(v.ipc_mean_s, v.ipc_p95_s) = mean_and_p95(std::move(ipc));
    out.push_back(std::move(v));
  }
  return out;
}

GraspState TelemetryStore::grasp_state() const {
  GraspState state;
  state.now_s = now_s();
  double rate_total = 0.0;
  for (const auto& [key, entry] : jobs_) {
    const auto& [row, history] = entry;
    JobView v;
    v.source = key.first;
    v.row = row;
    const std::uint64_t remaining = remaining_grasps(row);
    if (history.progress.size() >= 2) {
      const auto& [t0, c0] = history.progress.front();
      const double dt = state.now_s - t0;
      const double rate = dt > 0 && row.collected_count > c0 ? (row.collected_count - c0) / dt : 0.0;
      if (rate > 0 && remaining > 0) v.eta_s = remaining / rate;
      rate_total += rate;
    }
    if (remaining == 0) v.eta_s = 0.0;
    state.add_job(std::move(v));
  }
  if (state.all_done()) {
    state.eta_s = 0.0;
  } else if (rate_total > 0) {
    state.eta_s = (state.target_total - state.collected_total) / rate_total;
  }
  state.lanes.assign(lanes_.begin(), lanes_.end());
  return state;
}

}  // namespace fleetscope::app
