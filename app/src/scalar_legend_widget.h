// The legend of "colour robots by scalar": the colour ramp with the low and high values, laid
// over a corner of the 3D view. Hidden while robots show their own colours.
#pragma once

#include <QWidget>

#include "fleetscope/render/fleet_scene.hpp"

namespace fleetscope::app {

class ScalarLegendWidget : public QWidget {
  Q_OBJECT
 public:
  explicit ScalarLegendWidget(QWidget* parent = nullptr);
  // Shows the range (or "no robot publishes a scalar"); repaints only when the text changes.
  void setLegend(const render::ScalarLegend& legend);
  QString text() const { return text_; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  render::ScalarLegend legend_;
  QString text_;
};

}  // namespace fleetscope::app
