// The replay timeline under the 3D view: play/pause, step a frame back or forward, a scrub bar
// over the whole recording, the time, and the speed (0.1x-10x). Drives a ReplayController.
#pragma once

#include <QToolBar>
#include <cstdint>

class QComboBox;
class QLabel;
class QSlider;
class QToolButton;

namespace fleetscope::app {

class ReplayController;

class TimelineBar : public QToolBar {
  Q_OBJECT

 public:
  TimelineBar(ReplayController& replay, QWidget* parent = nullptr);

  QSlider* slider() const { return slider_; }
  QLabel* timeLabel() const { return time_; }
  QComboBox* speedBox() const { return speed_; }

 private:
  void updateRange();
  void updatePosition(std::uint64_t position);
  void updatePlaying(bool playing);
  void scrubTo(int ms);

  ReplayController& replay_;
  QAction* play_;
  QSlider* slider_;
  QLabel* time_;
  QComboBox* speed_;
};

}  // namespace fleetscope::app
