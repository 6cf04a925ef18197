#include "replay_controller.h"

#include <algorithm>
#include <limits>

#include "fleetscope/recording/recording_source.hpp"

namespace fleetscope::app {
namespace {
constexpr int kTickMs = 15;  // about 60 moves a second; the 3D view draws at its own rate
}

ReplayController::ReplayController(ipc::SourceRegistry& registry, QObject* parent)
    : QObject(parent), registry_(registry) {
  timer_.setInterval(kTickMs);
  connect(&timer_, &QTimer::timeout, this, &ReplayController::tick);
}

std::vector<recording::RecordingSource*> ReplayController::sources() const {
  std::vector<recording::RecordingSource*> out;
  for (const auto& name : names_) {
    if (auto* s = dynamic_cast<recording::RecordingSource*>(registry_.find(name))) out.push_back(s);
  }
  return out;
}

void ReplayController::addSource(const std::string& name) {
  auto* source = dynamic_cast<recording::RecordingSource*>(registry_.find(name));
  if (!source) return;
  const bool first = names_.empty();
  names_.push_back(name);
  start_ = first ? source->start_time() : std::min(start_, source->start_time());
  end_ = first ? source->end_time() : std::max(end_, source->end_time());
  if (first) position_ = start_;
  position_ = std::clamp(position_, start_, end_);
  source->seek(position_);
  emit rangeChanged();
  emit positionChanged(position_);
  emit moved();
}

std::vector<std::uint64_t> ReplayController::keyframes() const {
  std::vector<std::uint64_t> out;
  for (auto* s : sources()) {
    const auto times = s->keyframe_times();
    out.insert(out.end(), times.begin(), times.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void ReplayController::play() {
  if (names_.empty() || timer_.isActive()) return;
  if (position_ >= end_) seek(start_);  // at the end: play from the start again
  since_tick_.start();
  timer_.start();
  emit playingChanged(true);
}

void ReplayController::pause() {
  if (!timer_.isActive()) return;
  timer_.stop();
  emit playingChanged(false);
}

void ReplayController::togglePlay() { playing() ? pause() : play(); }

void ReplayController::setSpeed(double speed) { speed_ = std::clamp(speed, kMinSpeed, kMaxSpeed); }

void ReplayController::seek(std::uint64_t t) {
  position_ = std::clamp(t, start_, end_);
  for (auto* s : sources()) s->seek(position_);
  if (timer_.isActive()) since_tick_.restart();
  emit positionChanged(position_);
  emit moved();
}

void ReplayController::stepForward() {
  pause();
  std::uint64_t next = std::numeric_limits<std::uint64_t>::max();
  for (auto* s : sources()) {
    if (const auto t = s->frame_after(position_)) next = std::min(next, *t);
  }
  if (next == std::numeric_limits<std::uint64_t>::max()) return;
  position_ = std::min(next, end_);
  for (auto* s : sources()) s->advance_to(position_);
  emit positionChanged(position_);
  emit moved();
}

void ReplayController::stepBack() {
  pause();
  std::uint64_t previous = 0;
  bool any = false;
  for (auto* s : sources()) {
    if (const auto t = s->frame_before(position_)) {
      previous = any ? std::max(previous, *t) : *t;
      any = true;
    }
  }
  if (any) seek(previous);
}

void ReplayController::tick() {
  // Wall time since the last tick, at the chosen speed: a slow frame does not slow the replay.
  const auto elapsed_ns = static_cast<double>(since_tick_.nsecsElapsed());
  since_tick_.restart();
  const auto advance = static_cast<std::uint64_t>(elapsed_ns * speed_);
  position_ = end_ - position_ < advance ? end_ : position_ + advance;
  for (auto* s : sources()) s->advance_to(position_);
  emit positionChanged(position_);
  emit moved();
  if (position_ >= end_) pause();
}

}  // namespace fleetscope::app
