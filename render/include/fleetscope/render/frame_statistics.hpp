// Per-frame figures gathered over a window (typically one second) and summarised: frames per
// second, frame time, ingest time, dirty links, instances, pose-to-photon latency percentiles.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace fleetscope::render {

struct FrameSample {
  double frame_ms = 0.0;     // render call
  double ingest_us = 0.0;    // segment ingest that fed this frame
  std::uint64_t dirty_links = 0;
  std::uint64_t instances = 0;
  double latency_ms = -1.0;  // publish to presented; < 0 when the frame carried no new poses
};

struct FrameSummary {
  double seconds = 0.0;
  std::uint64_t frames = 0;
  double fps = 0.0;
  double frame_ms_mean = 0.0;
  double frame_ms_max = 0.0;
  double ingest_us_mean = 0.0;
  double dirty_links_per_frame = 0.0;
  std::uint64_t instances = 0;
  double latency_ms_p50 = 0.0;
  double latency_ms_p99 = 0.0;
  std::uint64_t latency_samples = 0;
};

class FrameStatistics {
 public:
  void add(const FrameSample& sample);
  // Adds ingest work that did not lead to a frame (kept in the ingest mean).
  void add_ingest(double ingest_us);
  // Summary of everything since the last call, over `seconds` of wall time; then starts anew.
  FrameSummary take(double seconds);

 private:
  std::vector<FrameSample> samples_;
  double ingest_us_sum_ = 0.0;
  std::uint64_t ingests_ = 0;
};

}  // namespace fleetscope::render
