#include "chart_view.h"

#include <QChart>
#include <QContextMenuEvent>
#include <QFile>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QTextStream>
#include <QValueAxis>
#include <cmath>

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
  // A step of 1, 2 or 5 times a power of ten, about a tenth of the span.
  const double raw = span * (1.0 + headroom) / 10.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double m = raw / power;
  const double unit = (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * power;
  axis->setRange(std::floor(lo / unit) * unit, std::ceil((hi + span * headroom) / unit) * unit);
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

void ChartView::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* csv = menu.addAction(tr("Export CSV..."));
  QAction* png = menu.addAction(tr("Save PNG..."));
  QAction* chosen = menu.exec(event->globalPos());
  const QString stem = chart()->title().isEmpty() ? "chart" : chart()->title().replace('/', '_').replace(' ', '_');
  if (chosen == csv) {
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
