#include "scalar_legend_widget.h"

#include <QLinearGradient>
#include <QPainter>

namespace fleetscope::app {

ScalarLegendWidget::ScalarLegendWidget(QWidget* parent) : QWidget(parent) {
  setObjectName("scalarLegend");
  setAttribute(Qt::WA_TransparentForMouseEvents);
  setFixedSize(260, 46);
}

void ScalarLegendWidget::setLegend(const render::ScalarLegend& legend) {
  const QString text = legend.any ? QString("robot scalar %1 .. %2").arg(legend.low, 0, 'g', 4).arg(legend.high, 0, 'g', 4)
                                  : tr("no robot publishes a scalar");
  legend_ = legend;
  if (text == text_) return;
  text_ = text;
  update();
}

void ScalarLegendWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(20, 22, 26, 200));
  QLinearGradient ramp(8, 0, width() - 8, 0);
  for (int i = 0; i <= 8; ++i) {
    const auto c = render::scalar_color(i / 8.0);
    ramp.setColorAt(i / 8.0, QColor(c[0], c[1], c[2]));
  }
  p.fillRect(QRect(8, 6, width() - 16, 12), legend_.any ? QBrush(ramp) : QBrush(QColor(80, 80, 80)));
  p.setPen(QColor(230, 230, 230));
  p.drawText(QRect(8, 22, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, text_);
}

}  // namespace fleetscope::app
