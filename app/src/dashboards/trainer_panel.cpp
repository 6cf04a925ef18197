#include "trainer_panel.h"

#include <QAreaSeries>
#include <QFrame>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QScrollArea>
#include <QSlider>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <limits>

#include "chart_view.h"

namespace fleetscope::app {
namespace {

constexpr int kMaxChartPoints = 400;

std::string prefix_of(const std::string& tag) {
  const auto slash = tag.find('/');
  return slash == std::string::npos ? std::string("other") : tag.substr(0, slash);
}

void fit_axes(QValueAxis* x, QValueAxis* y, double x0, double x1, double y0, double y1) {
  if (!(x1 > x0)) x1 = x0 + 1.0;
  if (!(y1 > y0)) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = (y1 - y0) * 0.05;
  x->setRange(x0, x1);
  y->setRange(y0 - pad, y1 + pad);
}

// The series of `tag` with the most recent data (several sources may write the same tag).
const Series* latest_series(const TelemetryStore& store, const std::string& tag) {
  const Series* best = nullptr;
  for (const auto& [key, series] : store.series()) {
    if (key.second != tag || series.points.empty()) continue;
    if (!best || series.points.back().time_s > best->points.back().time_s) best = &series;
  }
  return best;
}

}  // namespace

std::vector<double> smooth_values(const std::vector<double>& values, double weight) {
  std::vector<double> out;
  out.reserve(values.size());
  double last = 0.0, debias = 0.0;
  for (double v : values) {
    if (!std::isfinite(v)) {
      out.push_back(v);
      continue;
    }
    last = last * weight + (1.0 - weight) * v;
    debias = debias * weight + (1.0 - weight);
    out.push_back(debias > 0 ? last / debias : v);
  }
  return out;
}

const std::vector<TileSpec>& trainer_tiles() {
  static const std::vector<TileSpec> tiles = {
      {"rollout/episodes_per_s", "Episodes/s", "", 1},
      {"rollout/env_steps_per_s", "Env steps/s", "", 0},
      {"rollout/episode_length_mean", "Mean episode length", "steps", 1},
      {"rollout/reward_mean", "Mean reward", "", 2},
      {"system/cpu_util_pct", "CPU utilisation", "%", 1},
      {"inference/batch_size", "Inference batch size", "", 1},
      {"inference/calls_per_s", "Inference calls/s", "", 1},
      {"train/update_time_s", "Update time", "ms", 1},
  };
  return tiles;
}

const std::vector<std::string>& time_breakdown_tags() {
  static const std::vector<std::string> tags = {"time/env_s", "time/update_s", "time/logging_s", "time/waiting_s"};
  return tags;
}

TrainerPanel::TrainerPanel(QWidget* parent) : QWidget(parent) {
  setObjectName("trainerPanel");
  auto* layout = new QVBoxLayout(this);
  auto* tiles = new QGridLayout();
  int i = 0;
  for (const auto& spec : trainer_tiles()) {
    auto* frame = new QFrame(this);
    frame->setFrameShape(QFrame::StyledPanel);
    auto* v = new QVBoxLayout(frame);
    auto* title = new QLabel(spec.title, frame);
    title->setStyleSheet("color: #666;");
    auto* value = new QLabel("–", frame);
    value->setObjectName(QString("tile:%1").arg(spec.tag));
    value->setStyleSheet("font-size: 18pt; font-weight: bold;");
    v->addWidget(title);
    v->addWidget(value);
    tiles->addWidget(frame, i / 4, i % 4);
    tiles_[spec.tag] = value;
    ++i;
  }
  layout->addLayout(tiles);

  auto* controls = new QHBoxLayout();
  controls->addWidget(new QLabel(tr("Smoothing"), this));
  smoothing_slider_ = new QSlider(Qt::Horizontal, this);
  smoothing_slider_->setObjectName("smoothingSlider");
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setValue(60);
  smoothing_slider_->setMaximumWidth(240);
  smoothing_label_ = new QLabel("0.60", this);
  controls->addWidget(smoothing_slider_);
  controls->addWidget(smoothing_label_);
  controls->addStretch();
  status_label_ = new QLabel(this);
  status_label_->setObjectName("trainerStatus");
  controls->addWidget(status_label_);
  layout->addLayout(controls);
  connect(smoothing_slider_, &QSlider::valueChanged, this, [this](int v) {
    smoothing_label_->setText(QString::number(v / 100.0, 'f', 2));
    if (store_) refresh(*store_);
  });

  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  auto* content = new QWidget(scroll);
  groups_layout_ = new QVBoxLayout(content);
  breakdown_ = new ChartView(tr("Time per iteration (stacked)"), content);
  breakdown_->setObjectName("chart:time-breakdown");
  breakdown_x_ = new QValueAxis(breakdown_);
  breakdown_y_ = new QValueAxis(breakdown_);
  breakdown_x_->setTitleText(tr("step"));
  breakdown_y_->setTitleText(tr("seconds"));
  breakdown_x_->setLabelFormat("%.0f");
  breakdown_y_->setLabelFormat("%.3g");
  breakdown_->chart()->addAxis(breakdown_x_, Qt::AlignBottom);
  breakdown_->chart()->addAxis(breakdown_y_, Qt::AlignLeft);
  breakdown_->setMinimumHeight(240);
  groups_layout_->addWidget(breakdown_);
  groups_layout_->addStretch();
  scroll->setWidget(content);
  layout->addWidget(scroll, 1);
}

double TrainerPanel::smoothing() const { return smoothing_slider_->value() / 100.0; }
void TrainerPanel::setSmoothing(double weight) {
  smoothing_slider_->setValue(static_cast<int>(std::lround(std::clamp(weight, 0.0, 0.99) * 100)));
}

QString TrainerPanel::tileText(const QString& tag) const {
  const auto it = tiles_.find(tag);
  return it == tiles_.end() ? QString() : it->second->text();
}

ChartView* TrainerPanel::chartFor(const QString& tag) const {
  const auto it = charts_.find(tag.toStdString());
  return it == charts_.end() ? nullptr : it->second.view;
}

TrainerPanel::TagChart& TrainerPanel::chart(const std::string& tag) {
  auto it = charts_.find(tag);
  if (it != charts_.end()) return it->second;
  const std::string prefix = prefix_of(tag);
  auto group = groups_.find(prefix);
  if (group == groups_.end()) {
    auto* box = new QGroupBox(QString::fromStdString(prefix), groups_layout_->parentWidget());
    auto* grid = new QGridLayout(box);
    groups_layout_->insertWidget(groups_layout_->count() - 1, box);  // before the stretch
    group = groups_.emplace(prefix, grid).first;
  }
  TagChart c;
  c.view = new ChartView(QString::fromStdString(tag));
  c.view->setObjectName(QString("chart:%1").arg(QString::fromStdString(tag)));
  c.x = new QValueAxis(c.view);
  c.y = new QValueAxis(c.view);
  c.x->setTitleText(tr("step"));
  c.x->setLabelFormat("%.0f");
  c.y->setLabelFormat("%.4g");
  c.view->chart()->addAxis(c.x, Qt::AlignBottom);
  c.view->chart()->addAxis(c.y, Qt::AlignLeft);
  c.view->chart()->legend()->hide();
  const int n = group->second->count();
  group->second->addWidget(c.view, n / 2, n % 2);
  const TelemetryStore* const* store = &store_;
  c.view->setProvider([store, tag] {
    std::vector<ExportSeries> out;
    if (!*store) return out;
    for (const auto& [key, series] : (*store)->series()) {
      if (key.second != tag) continue;
      ExportSeries e{QString::fromStdString(key.first + ":" + key.second), "step", {}};
      for (const auto& p : series.points) e.points.emplace_back(p.step, p.value);
      out.push_back(std::move(e));
    }
    return out;
  });
  return charts_.emplace(tag, c).first->second;
}

void TrainerPanel::refresh(const TelemetryStore& store) {
  store_ = &store;
  for (const auto& spec : trainer_tiles()) {
    const Series* s = latest_series(store, spec.tag);
    QLabel* label = tiles_[spec.tag];
    if (!s) continue;
    double v = s->points.back().value;
    if (std::string(spec.unit) == "ms") v *= 1000.0;  // update time arrives in seconds
    const QString text = QString::number(v, 'f', spec.decimals) + (spec.unit[0] ? QString(" ") + spec.unit : QString());
    if (label->text() != text) label->setText(text);
  }
  if (!isVisible()) return;  // tiles keep their values for tests; charts only when seen

  const double weight = smoothing();
  for (const auto& [key, series] : store.series()) {
    if (series.points.empty()) continue;
    TagChart& c = chart(key.second);
    auto& [raw, smooth] = c.lines[key.first];
    if (!raw) {
      raw = new QLineSeries(c.view);
      smooth = new QLineSeries(c.view);
      raw->setName(QString::fromStdString(key.first) + " (raw)");
      smooth->setName(QString::fromStdString(key.first));
      c.view->chart()->addSeries(raw);
      c.view->chart()->addSeries(smooth);
      for (auto* s : {raw, smooth}) {
        s->attachAxis(c.x);
        s->attachAxis(c.y);
      }
      QColor color = QColor::fromHsv(static_cast<int>(std::hash<std::string>{}(key.first) % 360), 200, 200);
      smooth->setPen(QPen(color, 2));
      color.setAlpha(70);
      raw->setPen(QPen(color, 1));
    }
    std::vector<double> values;
    values.reserve(series.points.size());
    for (const auto& p : series.points) values.push_back(p.value);
    const std::vector<double> smoothed = smooth_values(values, weight);
    std::vector<QPointF> raw_points, smooth_points;
    raw_points.reserve(values.size());
    smooth_points.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      raw_points.emplace_back(series.points[i].step, values[i]);
      smooth_points.emplace_back(series.points[i].step, smoothed[i]);
    }
    raw->replace(thin_points(raw_points, kMaxChartPoints));
    smooth->replace(thin_points(smooth_points, kMaxChartPoints));
  }
  // One range per chart over all of its lines.
  for (auto& [tag, c] : charts_) {
    double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const auto& [source, lines] : c.lines) {
      for (const QPointF& p : lines.first->points()) {
        x0 = std::min(x0, p.x());
        x1 = std::max(x1, p.x());
        y0 = std::min(y0, p.y());
        y1 = std::max(y1, p.y());
      }
    }
    if (x1 >= x0) fit_axes(c.x, c.y, x0, x1, y0, y1);
  }
  refreshBreakdown(store);
  status_label_->setText(tr("%1 series, %2 records, %3 lost")
                             .arg(store.series().size())
                             .arg(store.received_total())
                             .arg(store.lost_total()));
}

void TrainerPanel::refreshBreakdown(const TelemetryStore& store) {
  std::vector<const Series*> parts;
  for (const auto& tag : time_breakdown_tags()) parts.push_back(latest_series(store, tag));
  if (std::any_of(parts.begin(), parts.end(), [](const Series* s) { return s == nullptr; })) return;
  std::size_t n = parts[0]->points.size();
  for (const Series* s : parts) n = std::min(n, s->points.size());
  auto* chart = breakdown_->chart();
  if (chart->series().isEmpty()) {
    const char* names[] = {"environment", "model update", "logging I/O", "waiting"};
    const QColor colors[] = {QColor(70, 130, 200), QColor(230, 140, 40), QColor(120, 170, 80), QColor(180, 180, 180)};
    for (int k = 0; k < 4; ++k) {
      auto* upper = new QLineSeries(chart);
      auto* lower = new QLineSeries(chart);
      auto* area = new QAreaSeries(upper, lower);
      area->setName(names[k]);
      area->setColor(colors[k]);
      area->setBorderColor(colors[k].darker(130));
      chart->addSeries(area);
      area->attachAxis(breakdown_x_);
      area->attachAxis(breakdown_y_);
    }
  }
  // The newest n records of each part, aligned from the end (a trainer writes them together).
  std::vector<double> base(n, 0.0);
  std::vector<double> steps(n);
  for (std::size_t i = 0; i < n; ++i) steps[i] = parts[0]->points[parts[0]->points.size() - n + i].step;
  double top = 0.0;
  for (int k = 0; k < 4; ++k) {
    std::vector<QPointF> lower_points, upper_points;
    const auto& pts = parts[k]->points;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = pts[pts.size() - n + i].value;
      lower_points.emplace_back(steps[i], base[i]);
      base[i] += v;
      upper_points.emplace_back(steps[i], base[i]);
      top = std::max(top, base[i]);
    }
    auto* area = static_cast<QAreaSeries*>(chart->series()[k]);
    area->lowerSeries()->replace(thin_points(lower_points, 300));
    area->upperSeries()->replace(thin_points(upper_points, 300));
  }
  if (n > 0) {
    fit_axes(breakdown_x_, breakdown_y_, steps.front(), steps.back(), 0.0, top);
    breakdown_y_->setMin(0.0);  // stacked seconds start at zero
  }
  const TelemetryStore* const* store_ref = &store_;
  breakdown_->setProvider([store_ref] {
    std::vector<ExportSeries> out;
    if (!*store_ref) return out;
    for (const auto& tag : time_breakdown_tags()) {
      if (const Series* s = latest_series(**store_ref, tag)) {
        ExportSeries e{QString::fromStdString(s->source + ":" + tag), "step", {}};
        for (const auto& p : s->points) e.points.emplace_back(p.step, p.value);
        out.push_back(std::move(e));
      }
    }
    return out;
  });
}

}  // namespace fleetscope::app
