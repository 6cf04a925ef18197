// One horizontal lane per GPU showing which object ran on it when (a small Gantt chart).
// Painted directly: a few hundred rectangles, cheaper than a chart series each.
#pragma once

#include <QWidget>
#include <vector>

#include "telemetry_store.h"

namespace fleetscope::app {

class GpuLanesWidget : public QWidget {
  Q_OBJECT
 public:
  explicit GpuLanesWidget(QWidget* parent = nullptr);
  // `window_s`: how much history to show, ending at now_s (0: everything).
  void setLanes(std::vector<LaneInterval> lanes, double now_s, double window_s);
  const std::vector<LaneInterval>& lanes() const { return lanes_; }
  QSize sizeHint() const override { return {600, 160}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  std::vector<LaneInterval> lanes_;
  double now_s_ = 0.0;
  double window_s_ = 0.0;
};

QColor object_color(const std::string& object_code);

}  // namespace fleetscope::app
