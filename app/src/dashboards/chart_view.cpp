#include "chart_view.h"

#include <QChart>
#include <QContextMenuEvent>
#include <QFile>
#include <QFileDialog>
#include <QLegend>
#include <QMenu>
#include <QMessageBox>
#include <QMouseEvent>
#include <QRubberBand>
#include <QTextStream>
#include <QToolTip>
#include <QValueAxis>
#include <cmath>

#include "chart_axes.h"

namespace fleetscope::app {
namespace {

QString csv_field(const QString& text) {
  if (!text.contains(',') && !text.contains('"') && !text.contains('\n')) return text;
  QString quoted = text;
  quoted.replace("\"", "\"\"");
  return "\"" + quoted + "\"";
}

}  // namespace

QString series_csv(const std::vector<ExportSeries>& series) {
  QString out;
  QTextStream s(&out);
  const QString x_label = series.empty() || series.front().x_label.isEmpty() ? "x" : series.front().x_label;
  s << "series," << csv_field(x_label) << ",value\n";
  for (const auto& one : series) {
    for (const QPointF& p : one.points) {
      s << csv_field(one.name) << ',' << QString::number(p.x(), 'g', 17) << ',' << QString::number(p.y(), 'g', 17)
        << '\n';
    }
  }
  return out;
}

QList<QPointF> thin_points(const std::vector<QPointF>& points, int max_points) {
  QList<QPointF> out;
  const auto n = static_cast<qsizetype>(points.size());
  if (n <= max_points || max_points < 2) {
    out.reserve(n);
    for (const auto& p : points) out.append(p);
    return out;
  }
  out.reserve(max_points);
  const double stride = static_cast<double>(n - 1) / (max_points - 1);
  for (int i = 0; i < max_points; ++i) out.append(points[static_cast<std::size_t>(i * stride + 0.5)]);
  out.back() = points.back();
  return out;
}

void fit_axis(QValueAxis* axis, double lo, double hi, double headroom) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double span = hi - lo;
  const bool fits = axis->min() <= lo && axis->max() >= hi;
  const bool snug = axis->max() - axis->min() <= span * (1.0 + 2.0 * headroom) + 1e-12;
  if (fits && snug) return;
  // Round ticks (1, 2, 2.5, 5 x 10^k) from one end to the other.
  const NiceRange nice = nice_range(lo, hi + span * headroom, 5);
  axis->setRange(nice.lo, nice.hi);
  axis->setTickCount(static_cast<int>(std::lround((nice.hi - nice.lo) / nice.step)) + 1);
}

ChartView::ChartView(const QString& title, QWidget* parent) : QChartView(parent) {
  chart()->setTitle(title);
  chart()->legend()->setAlignment(Qt::AlignBottom);
  chart()->setMargins(QMargins(4, 4, 4, 4));
  setRenderHint(QPainter::Antialiasing, false);  // software rendering: keep repaints cheap
  setMinimumHeight(200);
}

QString ChartView::writeCsv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
    return QString("cannot write '%1': %2").arg(path, file.errorString());
  }
  const QByteArray bytes = series_csv(exportData()).toUtf8();
  if (file.write(bytes) != bytes.size()) return QString("cannot write '%1': %2").arg(path, file.errorString());
  return {};
}

void ChartView::setInteractive(bool on) {
  interactive_ = on;
  setMouseTracking(on);  // hover tooltips
}

QPointF ChartView::toChart(QPoint view_pos) const { return chart()->mapFromScene(mapToScene(view_pos)); }

bool ChartView::inPlot(QPoint view_pos) const { return chart()->plotArea().contains(toChart(view_pos)); }

bool ChartView::onLegend(QPoint view_pos) const {
  const QLegend* legend = chart()->legend();
  return legend->isVisible() && legend->sceneBoundingRect().contains(mapToScene(view_pos));
}

void ChartView::zoomToRect(const QRect& rect) {
  const QRectF area = chart()->plotArea();
  const QRectF wanted = QRectF(toChart(rect.topLeft()), toChart(rect.bottomRight())).normalized() & area;
  if (wanted.width() < 2 || wanted.height() < 2) return;
  zoomed_ = true;
  chart()->zoomIn(wanted);
}

void ChartView::panBy(QPointF pixels) {
  zoomed_ = true;
  chart()->scroll(-pixels.x(), pixels.y());  // the chart's y grows upwards
}

void ChartView::resetZoom() {
  zoomed_ = false;
  emit zoomReset();
}

QString ChartView::tooltipText(QPoint view_pos) const {
  if (!tooltip_provider_ || !inPlot(view_pos)) return {};
  return tooltip_provider_(toChart(view_pos));
}

void ChartView::mousePressEvent(QMouseEvent* event) {
  const QPoint pos = event->position().toPoint();
  // Legend markers take their own clicks (toggling a run).
  if (!interactive_ || onLegend(pos) || !inPlot(pos)) return QChartView::mousePressEvent(event);
  const bool pan = event->button() == Qt::MiddleButton ||
                   (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ControlModifier));
  if (pan) {
    panning_ = true;
    pan_last_ = pos;
    setCursor(Qt::ClosedHandCursor);
  } else if (event->button() == Qt::LeftButton) {
    if (!band_) band_ = new QRubberBand(QRubberBand::Rectangle, this);
    band_origin_ = pos;
    band_->setGeometry(QRect(pos, QSize()));
    band_->show();
  } else {
    return QChartView::mousePressEvent(event);
  }
  QToolTip::hideText();
  event->accept();
}

void ChartView::mouseMoveEvent(QMouseEvent* event) {
  const QPoint pos = event->position().toPoint();
  if (band_ && band_->isVisible()) {
    band_->setGeometry(QRect(band_origin_, pos).normalized());
    return event->accept();
  }
  if (panning_) {
    panBy(pos - pan_last_);
    pan_last_ = pos;
    return event->accept();
  }
  if (interactive_ && tooltip_provider_ && event->buttons() == Qt::NoButton) {
    const QString text = tooltipText(pos);
    if (text.isEmpty()) {
      QToolTip::hideText();
    } else {
      QToolTip::showText(event->globalPosition().toPoint(), text, this);
    }
  }
  QChartView::mouseMoveEvent(event);
}

void ChartView::mouseReleaseEvent(QMouseEvent* event) {
  if (band_ && band_->isVisible() && event->button() == Qt::LeftButton) {
    band_->hide();
    zoomToRect(band_->geometry());
    return event->accept();
  }
  if (panning_) {
    panning_ = false;
    unsetCursor();
    return event->accept();
  }
  QChartView::mouseReleaseEvent(event);
}

void ChartView::mouseDoubleClickEvent(QMouseEvent* event) {
  if (interactive_ && event->button() == Qt::LeftButton && inPlot(event->position().toPoint())) {
    resetZoom();
    return event->accept();
  }
  QChartView::mouseDoubleClickEvent(event);
}

void ChartView::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* reset = nullptr;
  if (interactive_) {
    reset = menu.addAction(tr("Reset zoom"));
    reset->setEnabled(zoomed_);
  }
  if (menu_extender_) menu_extender_(menu);
  if (!menu.isEmpty()) menu.addSeparator();
  QAction* csv = menu.addAction(tr("Export CSV..."));
  QAction* png = menu.addAction(tr("Save PNG..."));
  QAction* chosen = menu.exec(event->globalPos());
  const QString stem = chart()->title().isEmpty() ? "chart" : chart()->title().replace('/', '_').replace(' ', '_');
  if (chosen && chosen == reset) {
    resetZoom();
  } else if (chosen == csv) {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export CSV"), stem + ".csv", tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    if (const QString error = writeCsv(path); !error.isEmpty()) QMessageBox::warning(this, tr("Export CSV"), error);
  } else if (chosen == png) {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save PNG"), stem + ".png", tr("PNG (*.png)"));
    if (path.isEmpty()) return;
    if (!grab().save(path, "PNG")) QMessageBox::warning(this, tr("Save PNG"), tr("cannot write '%1'").arg(path));
  }
}

}  // namespace fleetscope::app
