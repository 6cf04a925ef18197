// A QChartView that knows the full data behind its chart (the chart itself may show a thinned
// copy) and exports it: right-click for "Export CSV..." and "Save PNG...". Interactive charts
// also zoom (drag a rectangle), pan (middle drag or Ctrl+drag), reset (double click or the menu)
// and show a tooltip for the point under the mouse.
#pragma once

#include <QChartView>
#include <QPointF>
#include <QString>
#include <functional>
#include <vector>

class QMenu;
class QRubberBand;
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

  // Zoom, pan, reset and tooltips on (off by default: charts whose panel refits them).
  void setInteractive(bool on);
  // The user zoomed or panned: the panel leaves the axes alone until resetZoom().
  bool isZoomed() const { return zoomed_; }
  // Zooms to `rect` in the view's coordinates (clipped to the plot area).
  void zoomToRect(const QRect& rect);
  // Moves the visible area by `pixels` (the plot follows a drag by that much).
  void panBy(QPointF pixels);
  // Back to the fitted view: emits zoomReset() for the panel to fit the axes again.
  void resetZoom();

  // The tooltip for a point in the chart's coordinates (empty: none there).
  using TooltipProvider = std::function<QString(QPointF chart_pos)>;
  void setTooltipProvider(TooltipProvider provider) { tooltip_provider_ = std::move(provider); }
  // What hovering at `view_pos` (the view's coordinates) shows.
  QString tooltipText(QPoint view_pos) const;
  // Adds the panel's own entries to the right-click menu.
  using MenuExtender = std::function<void(QMenu& menu)>;
  void setMenuExtender(MenuExtender extender) { menu_extender_ = std::move(extender); }

 signals:
  void zoomReset();

 protected:
  void contextMenuEvent(QContextMenuEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;

 private:
  QPointF toChart(QPoint view_pos) const;
  bool inPlot(QPoint view_pos) const;
  bool onLegend(QPoint view_pos) const;

  Provider provider_;
  TooltipProvider tooltip_provider_;
  MenuExtender menu_extender_;
  bool interactive_ = false;
  bool zoomed_ = false;
  QRubberBand* band_ = nullptr;
  QPoint band_origin_;
  bool panning_ = false;
  QPoint pan_last_;
};

}  // namespace fleetscope::app
