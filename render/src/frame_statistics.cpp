#include "fleetscope/render/frame_statistics.hpp"

#include <algorithm>

namespace fleetscope::render {

void FrameStatistics::add(const FrameSample& sample) { samples_.push_back(sample); }

void FrameStatistics::add_ingest(double ingest_us) {
  ingest_us_sum_ += ingest_us;
  ++ingests_;
}

FrameSummary FrameStatistics::take(double seconds) {
  FrameSummary s;
  s.seconds = seconds;
  s.frames = samples_.size();
  s.fps = seconds > 0 ? static_cast<double>(s.frames) / seconds : 0.0;
  std::vector<double> latencies;
  std::uint64_t dirty = 0;
  for (const FrameSample& f : samples_) {
    s.frame_ms_mean += f.frame_ms;
    s.frame_ms_max = std::max(s.frame_ms_max, f.frame_ms);
    dirty += f.dirty_links;
    s.instances = f.instances;
    if (f.latency_ms >= 0) latencies.push_back(f.latency_ms);
  }
  if (s.frames > 0) {
    s.frame_ms_mean /= static_cast<double>(s.frames);
    s.dirty_links_per_frame = static_cast<double>(dirty) / static_cast<double>(s.frames);
  }
  s.ingest_us_mean = ingests_ > 0 ? ingest_us_sum_ / static_cast<double>(ingests_) : 0.0;
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(q * latencies.size()))]; };
    s.latency_ms_p50 = at(0.5);
    s.latency_ms_p99 = at(0.99);
    s.latency_samples = latencies.size();
  }
  samples_.clear();
  ingest_us_sum_ = 0.0;
  ingests_ = 0;
  return s;
}

}  // namespace fleetscope::render
