// The RL trainer panel: headline tiles, a chart per scalar tag grouped by prefix (with
// TensorBoard-style smoothing, several runs with a legend, log scale, step or time axes, zoom and
// tooltips) and a stacked chart of where each iteration's time went.
#pragma once

#include <QPointF>
#include <QRegularExpression>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "chart_axes.h"
#include "dashboard_panel.h"
#include "telemetry_store.h"

class QAbstractAxis;
class QAreaSeries;
class QComboBox;
class QGridLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QLineSeries;
class QMenu;
class QScrollArea;
class QSlider;
class QToolButton;
class QVBoxLayout;

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
  // The whole panel as one tall image: every chart drawn, the scroll area's whole content.
  std::vector<QImage> snapshots() override;
  double smoothing() const;
  void setSmoothing(double weight);
  QString tileText(const QString& tag) const;
  ChartView* chartFor(const QString& tag) const;
  ChartView* breakdownChart() const { return breakdown_; }
  int chartCount() const { return static_cast<int>(charts_.size()); }

  // What every chart's x axis counts: steps, the writers' wall clock, or time since each run's
  // first record.
  XAxisMode xAxisMode() const { return x_mode_; }
  void setXAxisMode(XAxisMode mode);
  // A chart's y axis, linear or log (values <= 0 are not drawn on a log axis, and the chart's
  // title says so). Also in the chart's right-click menu.
  bool logScale(const QString& tag) const;
  void setLogScale(const QString& tag, bool log);
  // Runs are the segments writing scalars; a hidden run leaves every chart (its legend entry
  // stays, greyed). The Runs menu and a click on a legend entry toggle one.
  QStringList runs() const;
  bool runVisible(const QString& run) const;
  void setRunVisible(const QString& run, bool visible);
  // Shows only the charts whose tag matches `text`: a case-insensitive regular expression (text
  // that is not a valid one matches as a substring).
  void setTagFilter(const QString& text);
  bool tagShown(const QString& tag) const;
  // The groups (tag prefixes) top to bottom: most tags first.
  QStringList groupOrder() const;
  // The tags the tiles and the time breakdown read that no source publishes ("" when none).
  QString missingTagsText() const;
  // What hovering over `tag`'s chart at `chart_pos` (the chart's coordinates) shows: the run, the
  // exact step and value of the nearest point, and its wall time.
  QString tooltipFor(const std::string& tag, QPointF chart_pos) const;

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
    bool stale = true;  // new data (or a new axis, run or scale) not drawn yet
    ChartView* view = nullptr;
    QAbstractAxis* x = nullptr;
    QAbstractAxis* y = nullptr;
    bool log = false;
    bool skipped_nonpositive = false;  // log axis: the title says values <= 0 are not drawn
    bool legend_dirty = false;         // series added, shown or hidden: their markers to set again
    std::map<std::string, Line> lines;  // by source
    // Many sources: their mean and min-max band instead of a line each.
    QLineSeries* mean = nullptr;
    QAreaSeries* band = nullptr;
    QLineSeries* band_upper = nullptr;
    QLineSeries* band_lower = nullptr;
  };
  struct Group {
    QGroupBox* box = nullptr;
    QGridLayout* grid = nullptr;
    std::vector<std::string> tags;  // sorted
  };
  static bool updateSmoothing(Line& line, const Series& series, double weight);
  bool inView(const QWidget* chart) const;
  // Draws the stale charts in view (all of them with `everywhere`).
  void drawStale(bool everywhere);
  void draw(TagChart& chart);
  void drawLines(TagChart& chart);
  void drawEnvelope(TagChart& chart);
  TagChart& chart(const std::string& tag);
  void addLineSeries(TagChart& chart, const std::string& source, Line& line);
  void syncLegend(TagChart& chart);
  // Puts a new axis of the current kind on a chart and its series (the old one goes).
  void replaceX(ChartView* view, QAbstractAxis*& x);
  void replaceY(ChartView* view, QAbstractAxis*& y, bool log);
  // Charts for new tags, smoothing extended over new records; marks charts with news stale.
  void takeNewData();
  void refreshTiles();
  void refreshBreakdown();
  QString breakdownTooltip(QPointF chart_pos) const;
  // Lays `group`'s shown charts out two to a row and hides it when none is shown.
  void layoutGroup(Group& group);
  // Most tags first; boxes move only when the order changes.
  void orderGroups();
  void noteRun(const std::string& source);
  double xOf(const SeriesPoint& point, std::uint64_t start_ns) const;

  const TelemetryStore& store_;

  std::map<QString, QLabel*> tiles_;
  std::map<QString, QWidget*> tile_frames_;
  QWidget* tiles_box_;
  QGridLayout* tiles_grid_;
  unsigned tiles_shown_ = 0;  // bit i: trainer_tiles()[i] is published
  QLabel* missing_label_;
  QSlider* smoothing_slider_;
  QLabel* smoothing_label_;
  QComboBox* x_mode_box_;
  QLineEdit* filter_edit_;
  QToolButton* runs_button_;
  QMenu* runs_menu_;
  QLabel* status_label_;
  ChartView* breakdown_;
  QAbstractAxis* breakdown_x_ = nullptr;
  QAbstractAxis* breakdown_y_ = nullptr;
  QVBoxLayout* groups_layout_;
  QScrollArea* scroll_;
  std::map<std::string, Group> groups_;
  std::vector<std::string> group_order_;
  std::map<std::string, TagChart> charts_;
  std::map<std::string, int> run_index_;  // colour, by first appearance
  std::set<std::string> hidden_runs_;
  QRegularExpression filter_;
  QString filter_text_;
  XAxisMode x_mode_ = XAxisMode::kStep;
  bool groups_changed_ = false;
  // What the breakdown last drew: records of its parts, which parts, the x axis mode.
  std::tuple<std::uint64_t, unsigned, int> breakdown_drawn_{};
  unsigned breakdown_parts_ = 0;  // bit k: time_breakdown_tags()[k] has an area series
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  // One iteration of the breakdown (for its tooltip): the first part's point, each part's value.
  struct BreakdownRow {
    double x = 0.0;
    SeriesPoint point;
    std::uint64_t start_ns = 0;
    std::array<double, 4> values = {kNaN, kNaN, kNaN, kNaN};
  };
  std::vector<BreakdownRow> breakdown_rows_;
};

}  // namespace fleetscope::app
