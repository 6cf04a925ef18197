// The RL trainer panel: headline tiles, a chart per scalar tag grouped by prefix (with
// TensorBoard-style smoothing) and a stacked chart of where each iteration's time went.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "dashboard_panel.h"
#include "telemetry_store.h"

class QGridLayout;
class QLabel;
class QScrollArea;
class QAreaSeries;
class QLineSeries;
class QSlider;
class QVBoxLayout;
class QValueAxis;

namespace fleetscope::app {

class ChartView;

// TensorBoard's smoothing, one value at a time: a debiased exponential moving average with weight
// in [0, 1). Non-finite values pass through and leave the average alone.
class Smoother {
 public:
  explicit Smoother(double weight = 0.0) : weight_(weight) {}
  double add(double value);

 private:
  double weight_;
  double ema_ = 0.0;
  double debias_ = 0.0;
};
std::vector<double> smooth_values(const std::vector<double>& values, double weight);

struct TileSpec {
  const char* tag;
  const char* title;
  const char* unit;  // shown after the value ("" for none)
  int decimals;
  double scale = 1.0;  // the tag's value times this is what the tile shows (e.g. 1000: seconds as ms)
};
// The tags the headline tiles read (README.md lists them for producers).
const std::vector<TileSpec>& trainer_tiles();
// The tags of the time-breakdown chart, bottom to top.
const std::vector<std::string>& time_breakdown_tags();

class TrainerPanel : public DashboardPanel {
  Q_OBJECT
 public:
  // Shows what `store` holds (it outlives the panel).
  explicit TrainerPanel(const TelemetryStore& store, QWidget* parent = nullptr);
  void refresh() override;
  double smoothing() const;
  void setSmoothing(double weight);
  QString tileText(const QString& tag) const;
  ChartView* chartFor(const QString& tag) const;
  ChartView* breakdownChart() const { return breakdown_; }
  int chartCount() const { return static_cast<int>(charts_.size()); }

 private:
  // One source's line in a tag's chart, with its smoothing kept up to date incrementally.
  struct Line {
    QLineSeries* raw = nullptr;
    QLineSeries* smooth = nullptr;
    std::uint64_t received = 0;
    std::uint64_t compactions = 0;
    double weight = -1.0;
    std::vector<double> smoothed;  // aligned with the series' points
    Smoother smoother;
  };
  struct TagChart {
    std::string tag;
    bool stale = true;  // new data not drawn yet
    ChartView* view = nullptr;
    QValueAxis* x = nullptr;
    QValueAxis* y = nullptr;
    std::map<std::string, Line> lines;  // by source
    // Many sources: their mean and min-max band instead of a line each.
    QLineSeries* mean = nullptr;
    QAreaSeries* band = nullptr;
    QLineSeries* band_upper = nullptr;
    QLineSeries* band_lower = nullptr;
  };
  static bool updateSmoothing(Line& line, const Series& series, double weight);
  bool inView(const QWidget* chart) const;
  void drawLines(TagChart& chart);
  void drawEnvelope(TagChart& chart);
  TagChart& chart(const std::string& tag);
  void refreshBreakdown();

  const TelemetryStore& store_;

  std::map<QString, QLabel*> tiles_;
  QSlider* smoothing_slider_;
  QLabel* smoothing_label_;
  QLabel* status_label_;
  ChartView* breakdown_;
  QValueAxis* breakdown_x_;
  QValueAxis* breakdown_y_;
  QVBoxLayout* groups_layout_;
  QScrollArea* scroll_;
  std::map<std::string, QGridLayout*> groups_;
  std::map<std::string, TagChart> charts_;
  std::uint64_t breakdown_received_ = 0;
};

}  // namespace fleetscope::app
