// The viewer's own KPIs over time: frame rate, frame and ingest time, latency, CPU (all and
// telemetry alone), memory and dirty links per frame. One sample a second from the main window.
#pragma once

#include <deque>
#include <vector>

#include "dashboard_panel.h"

class QLineSeries;
class QValueAxis;

namespace fleetscope::app {

class ChartView;

struct ViewerKpiSample {
  double time_s = 0.0;
  double fps = 0.0;
  double frame_ms = 0.0;
  double ingest_us = 0.0;
  double latency_p50_ms = 0.0;
  double latency_p99_ms = 0.0;
  double cpu_percent = 0.0;
  double telemetry_cpu_percent = 0.0;
  double rss_mib = 0.0;
  double dirty_links = 0.0;
};

class ViewerKpiPanel : public DashboardPanel {
  Q_OBJECT
 public:
  explicit ViewerKpiPanel(QWidget* parent = nullptr);
  void addSample(const ViewerKpiSample& sample);
  // Redraws the charts if the panel is on screen.
  void refresh() override;
  const std::deque<ViewerKpiSample>& samples() const { return samples_; }
  ChartView* chart(int index) const { return charts_.at(static_cast<std::size_t>(index)).view; }
  int chartCount() const { return static_cast<int>(charts_.size()); }

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  struct Chart {
    ChartView* view;
    QValueAxis* x;
    QValueAxis* y;
    std::vector<std::pair<QLineSeries*, double ViewerKpiSample::*>> lines;
  };
  void redraw();
  std::deque<ViewerKpiSample> samples_;
  std::vector<Chart> charts_;
};

}  // namespace fleetscope::app
