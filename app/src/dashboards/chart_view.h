// A QChartView that knows the full data behind its chart (the chart itself may show a thinned
// copy) and exports it: right-click for "Export CSV..." and "Save PNG...".
#pragma once

#include <QChartView>
#include <QPointF>
#include <QString>
#include <functional>
#include <vector>

class QValueAxis;

namespace fleetscope::app {

struct ExportSeries {
  QString name;
  QString x_label;
  std::vector<QPointF> points;
};

// CSV with a header line "series,<x label>,value" and one line per point, full precision.
QString series_csv(const std::vector<ExportSeries>& series);
// At most `max_points` of `points`, evenly spaced, always keeping the last.
QList<QPointF> thin_points(const std::vector<QPointF>& points, int max_points);

// Sets `axis` to [lo, hi] rounded out to round numbers with `headroom` (a fraction of the span)
// above, and keeps its range while the data still fills most of it: a range change relays the
// axis labels out, milliseconds each on software rendering, so it should happen now and then.
void fit_axis(QValueAxis* axis, double lo, double hi, double headroom);

class ChartView : public QChartView {
  Q_OBJECT
 public:
  using Provider = std::function<std::vector<ExportSeries>()>;
  explicit ChartView(const QString& title, QWidget* parent = nullptr);
  void setProvider(Provider provider) { provider_ = std::move(provider); }
  std::vector<ExportSeries> exportData() const { return provider_ ? provider_() : std::vector<ExportSeries>{}; }
  // Returns an empty string or the error.
  QString writeCsv(const QString& path) const;

 protected:
  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  Provider provider_;
};

}  // namespace fleetscope::app
