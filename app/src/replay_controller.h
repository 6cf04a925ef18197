// Plays the recordings opened in the viewer (--open, File > Open recording): one clock over every
// recorded source in the registry, played at a speed, paused, stepped frame by frame or moved
// anywhere. The registry owns the sources; this looks them up by name on each move, so a source
// the user detached is simply skipped.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <cstdint>
#include <string>
#include <vector>

#include "fleetscope/ipc/source_registry.hpp"

namespace fleetscope::recording {
class RecordingSource;
}

namespace fleetscope::app {

class ReplayController : public QObject {
  Q_OBJECT

 public:
  static constexpr double kMinSpeed = 0.1, kMaxSpeed = 10.0;

  explicit ReplayController(ipc::SourceRegistry& registry, QObject* parent = nullptr);

  // A recorded source now in the registry; the timeline grows to cover it. The source is put at
  // the current position.
  void addSource(const std::string& name);
  bool empty() const noexcept { return names_.empty(); }

  // Log times (nanoseconds) of the timeline: the earliest start and the latest end.
  std::uint64_t start() const noexcept { return start_; }
  std::uint64_t end() const noexcept { return end_; }
  std::uint64_t position() const noexcept { return position_; }
  bool playing() const noexcept { return timer_.isActive(); }
  double speed() const noexcept { return speed_; }
  // Keyframe times of every source (for the scrub bar's marks), ascending.
  std::vector<std::uint64_t> keyframes() const;

 public slots:
  void play();
  void pause();
  void togglePlay();
  // Clamped to kMinSpeed..kMaxSpeed.
  void setSpeed(double speed);
  // Every source shows its state at `t` (clamped to the timeline).
  void seek(std::uint64_t t);
  // To the next (or previous) recorded frame of any source; pauses.
  void stepForward();
  void stepBack();

 signals:
  void positionChanged(std::uint64_t position);
  void playingChanged(bool playing);
  void rangeChanged();
  // Sources moved: the 3D view should draw a frame.
  void moved();

 private:
  void tick();
  std::vector<recording::RecordingSource*> sources() const;

  ipc::SourceRegistry& registry_;
  std::vector<std::string> names_;
  std::uint64_t start_ = 0, end_ = 0, position_ = 0;
  double speed_ = 1.0;
  QTimer timer_;
  QElapsedTimer since_tick_;
};

}  // namespace fleetscope::app
