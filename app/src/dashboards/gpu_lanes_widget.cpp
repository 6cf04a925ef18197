#include "gpu_lanes_widget.h"

#include <QPainter>
#include <algorithm>
#include <set>

namespace fleetscope::app {

QColor object_color(const std::string& object_code) {
  // Hues away from red, which marks failed rounds.
  return QColor::fromHsv(30 + static_cast<int>(std::hash<std::string>{}(object_code) % 300), 150, 220);
}

GpuLanesWidget::GpuLanesWidget(QWidget* parent) : QWidget(parent) {
  setObjectName("gpuLanes");
  setMinimumHeight(120);
}

void GpuLanesWidget::setLanes(std::vector<LaneInterval> lanes, double now_s, double window_s) {
  lanes_ = std::move(lanes);
  now_s_ = now_s;
  window_s_ = window_s;
  update();
}

void GpuLanesWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  std::set<int> gpus;
  double t0 = now_s_;
  for (const auto& l : lanes_) {
    gpus.insert(l.gpu);
    t0 = std::min(t0, l.start_s);
  }
  if (window_s_ > 0) t0 = std::max(t0, now_s_ - window_s_);
  const double span = std::max(now_s_ - t0, 1.0);
  const int label_w = 60, top = 18, bottom = 18;
  p.setPen(palette().text().color());
  p.drawText(QRect(0, 0, width(), top), Qt::AlignCenter,
             tr("GPU lanes: which object ran when (red: failed round, dashed: running)"));
  if (gpus.empty()) {
    p.drawText(rect(), Qt::AlignCenter, tr("no rounds yet"));
    return;
  }
  const int lane_h = std::max(12, (height() - top - bottom) / static_cast<int>(gpus.size()));
  const int plot_w = width() - label_w - 8;
  std::map<int, int> lane_of;
  int i = 0;
  for (int gpu : gpus) {
    lane_of[gpu] = i;
    p.drawText(QRect(0, top + i * lane_h, label_w, lane_h), Qt::AlignVCenter | Qt::AlignRight, QString("GPU %1 ").arg(gpu));
    ++i;
  }
  for (const auto& l : lanes_) {
    if (l.end_s < t0) continue;
    const double a = (std::max(l.start_s, t0) - t0) / span, b = (std::max(l.end_s, l.start_s) - t0) / span;
    QRect r(label_w + static_cast<int>(a * plot_w), top + lane_of[l.gpu] * lane_h + 2,
            std::max(2, static_cast<int>((b - a) * plot_w)), lane_h - 4);
    p.fillRect(r, l.failed ? QColor(225, 90, 90) : object_color(l.object_code));
    p.setPen(palette().base().color());  // a gap between consecutive rounds
    p.drawLine(r.topLeft(), r.bottomLeft());
    if (l.running) {
      p.setPen(QPen(Qt::black, 1, Qt::DashLine));
      p.drawRect(r.adjusted(0, 0, -1, -1));
    }
    if (r.width() > 60) {
      p.setPen(Qt::black);
      p.drawText(r.adjusted(3, 0, -2, 0), Qt::AlignVCenter | Qt::AlignLeft,
                 p.fontMetrics().elidedText(QString::fromStdString(l.object_code), Qt::ElideLeft, r.width() - 5));
    }
  }
  p.setPen(palette().text().color());
  p.drawText(QRect(label_w, height() - bottom, plot_w, bottom), Qt::AlignLeft | Qt::AlignVCenter,
             tr("-%1 s").arg(span, 0, 'f', 0));
  p.drawText(QRect(label_w, height() - bottom, plot_w, bottom), Qt::AlignRight | Qt::AlignVCenter, tr("now"));
}

}  // namespace fleetscope::app
