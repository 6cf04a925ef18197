// When to render: only when something changed (poses, layout, camera), no more often than the
// adaptive target interval, which follows the measured frame cost between a floor and a ceiling
// rate. Pure logic over explicit times so it is tested without a clock. Not thread-safe.
#pragma once

#include <cstdint>

namespace fleetscope::render {

struct PacerSettings {
  double min_fps = 10.0;  // floor: a frame at least this often while things change
  double max_fps = 60.0;  // ceiling
  // The target interval is this many times the smoothed frame cost, leaving the rest of each
  // interval to ingest and the UI.
  double cost_headroom = 1.5;
};

class FramePacer {
 public:
  explicit FramePacer(const PacerSettings& settings = {});

  // Something visible changed at `now_ns`: a frame is owed.
  void request(std::uint64_t now_ns) noexcept;
  bool pending() const noexcept { return pending_; }
  // True when a frame is owed and the target interval has passed since the last one.
  bool due(std::uint64_t now_ns) const noexcept;
  // Nanoseconds until due(); 0 when due now; -1 when nothing is owed.
  std::int64_t wait_ns(std::uint64_t now_ns) const noexcept;
  // A frame started at `start_ns` and cost `cost_ns`.
  void rendered(std::uint64_t start_ns, std::uint64_t cost_ns) noexcept;

  double target_fps() const noexcept { return 1e9 / static_cast<double>(interval_ns_); }
  double smoothed_cost_ms() const noexcept { return cost_ns_ / 1e6; }
  void set_max_fps(double fps) noexcept;

 private:
  void retarget() noexcept;
  PacerSettings settings_;
  bool pending_ = false;
  std::uint64_t last_frame_ns_ = 0;
  bool any_frame_ = false;
  double cost_ns_ = 0.0;
  std::uint64_t interval_ns_ = 0;
};

}  // namespace fleetscope::render
