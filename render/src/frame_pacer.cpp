#include "fleetscope/render/frame_pacer.hpp"

#include <algorithm>

namespace fleetscope::render {

FramePacer::FramePacer(const PacerSettings& settings) : settings_(settings) { retarget(); }

void FramePacer::set_max_fps(double fps) noexcept {
  settings_.max_fps = std::max(fps, 1.0);
  settings_.min_fps = std::min(settings_.min_fps, settings_.max_fps);
  retarget();
}

void FramePacer::retarget() noexcept {
  const double shortest = 1e9 / settings_.max_fps;
  const double longest = 1e9 / settings_.min_fps;
  interval_ns_ = static_cast<std::uint64_t>(std::clamp(cost_ns_ * settings_.cost_headroom, shortest, longest));
}

void FramePacer::request(std::uint64_t) noexcept { pending_ = true; }

bool FramePacer::due(std::uint64_t now_ns) const noexcept { return wait_ns(now_ns) == 0; }

std::int64_t FramePacer::wait_ns(std::uint64_t now_ns) const noexcept {
  if (!pending_) return -1;
  if (!any_frame_) return 0;
  const std::uint64_t next = last_frame_ns_ + interval_ns_;
  return now_ns >= next ? 0 : static_cast<std::int64_t>(next - now_ns);
}

void FramePacer::rendered(std::uint64_t start_ns, std::uint64_t cost_ns) noexcept {
  pending_ = false;
  last_frame_ns_ = start_ns;
  // Exponential smoothing: one slow frame does not halve the rate, a lasting change moves it.
  cost_ns_ = any_frame_ ? 0.8 * cost_ns_ + 0.2 * static_cast<double>(cost_ns) : static_cast<double>(cost_ns);
  any_frame_ = true;
  retarget();
}

}  // namespace fleetscope::render
