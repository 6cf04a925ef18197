#include "trainer_panel.h"

#include <QAreaSeries>
#include <QFrame>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QScrollArea>
#include <QScrollBar>
#include <QSlider>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "chart_view.h"

namespace fleetscope::app {
namespace {

constexpr int kMaxChartPoints = 200;  // a chart is about 500 px wide; each point costs in every relayout
// A chart with more sources than this (a worker pool writing one tag each) draws the mean and the
// min-max band across its sources instead of a line each.
constexpr std::size_t kMaxDetailedLines = 8;
constexpr int kMaxCrowdedPoints = 100;

std::string prefix_of(const std::string& tag) {
  const auto slash = tag.find('/');
  return slash == std::string::npos ? std::string("other") : tag.substr(0, slash);
}

void fit_axes(QValueAxis* x, QValueAxis* y, double x0, double x1, double y0, double y1) {
  fit_axis(x, x0, x1, 0.2);  // room to grow: steps only increase
  fit_axis(y, y0, y1, 0.1);
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

double Smoother::add(double value) {
  if (!std::isfinite(value)) return value;
  ema_ = ema_ * weight_ + (1.0 - weight_) * value;
  debias_ = debias_ * weight_ + (1.0 - weight_);
  return debias_ > 0 ? ema_ / debias_ : value;
}

std::vector<double> smooth_values(const std::vector<double>& values, double weight) {
  std::vector<double> out;
  out.reserve(values.size());
  Smoother smoother(weight);
  for (double v : values) out.push_back(smoother.add(v));
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
      {"train/update_time_s", "Update time", "ms", 1, 1000.0},  // arrives in seconds
  };
  return tiles;
}

const std::vector<std::string>& time_breakdown_tags() {
  static const std::vector<std::string> tags = {"time/env_s", "time/update_s", "time/logging_s", "time/waiting_s"};
  return tags;
}

TrainerPanel::TrainerPanel(const TelemetryStore& store, QWidget* parent) : DashboardPanel(parent), store_(store) {
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
    refresh();
  });

  auto* scroll = new QScrollArea(this);
  scroll_ = scroll;
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
  connect(scroll->verticalScrollBar(), &QScrollBar::valueChanged, this, [this] { refresh(); });
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
  c.tag = tag;
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
  c.view->setProvider([store = &store_, tag] {
    std::vector<ExportSeries> out;
    for (const auto& [key, series] : store->series()) {
      if (key.second != tag) continue;
      ExportSeries e{QString::fromStdString(key.first + ":" + key.second), "step", {}};
      for (const auto& p : series.points) e.points.emplace_back(p.step, p.value);
      out.push_back(std::move(e));
    }
    return out;
  });
  return charts_.emplace(tag, c).first->second;
}

void TrainerPanel::refresh() {
  for (const auto& spec : trainer_tiles()) {
    const Series* s = latest_series(store_, spec.tag);
    QLabel* label = tiles_[spec.tag];
    if (!s) continue;
    const double v = s->points.back().value * spec.scale;
    const QString text = QString::number(v, 'f', spec.decimals) + (spec.unit[0] ? QString(" ") + spec.unit : QString());
    if (label->text() != text) label->setText(text);
  }
  if (!isVisible()) return;  // tiles keep their values for tests; charts only when seen

  const double weight = smoothing();
  std::set<TagChart*> changed;
  for (const auto& [key, series] : store_.series()) {
    if (series.points.empty()) continue;
    TagChart& c = chart(key.second);
    Line& line = c.lines[key.first];
    if (c.lines.size() > kMaxDetailedLines) {
      // An envelope chart draws raw values: no per-line smoothing to keep up.
      if (line.received != series.received || line.compactions != series.compactions) {
        line.received = series.received;
        line.compactions = series.compactions;
        changed.insert(&c);
      }
    } else if (updateSmoothing(line, series, weight)) {
      changed.insert(&c);
    }
  }
  for (TagChart* c : changed) c->stale = true;
  // Draw only charts scrolled into view: each redraw lays its chart out again, the costliest part
  // of a refresh. The others are drawn when they scroll in (see the scroll bar connection).
  for (auto& [tag, c] : charts_) {
    if (!c.stale || !inView(c.view)) continue;
    if (c.lines.size() > kMaxDetailedLines) {
      drawEnvelope(c);
    } else {
      drawLines(c);
    }
    c.stale = false;
  }
  refreshBreakdown();
  status_label_->setText(tr("%1 series, %2 records, %3 lost")
                             .arg(store_.series().size())
                             .arg(store_.received_total())
                             .arg(store_.lost_total()));
}

bool TrainerPanel::inView(const QWidget* chart) const {
  // Geometry, not the paint system's visible region: right after a tab switch or a new chart's
  // layout, this is already right.
  const QWidget* viewport = scroll_->viewport();
  if (!isVisible() || !chart->isVisibleTo(this)) return false;
  return QRect(chart->mapTo(viewport, QPoint(0, 0)), chart->size()).intersects(viewport->rect());
}

bool TrainerPanel::updateSmoothing(Line& line, const Series& series, double weight) {
  const bool smoothing_changed = line.weight != weight;
  if (!smoothing_changed && line.received == series.received && line.compactions == series.compactions) {
    return false;  // nothing new for this line
  }
  const auto& pts = series.points;
  // Smoothing is an EMA: extend it over new points, recompute only when the weight changed or
  // the store thinned the series' history.
  const std::uint64_t fresh = series.received - line.received;
  if (smoothing_changed || line.compactions != series.compactions || fresh > pts.size() ||
      line.smoothed.size() + fresh != pts.size()) {
    line.smoothed.clear();
    line.smoother = Smoother(weight);
  }
  for (std::size_t i = line.smoothed.size(); i < pts.size(); ++i) line.smoothed.push_back(line.smoother.add(pts[i].value));
  line.weight = weight;
  line.received = series.received;
  line.compactions = series.compactions;
  return true;
}

void TrainerPanel::drawLines(TagChart& c) {
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (auto& [source, line] : c.lines) {
    const auto it = store_.series().find({source, c.tag});
    if (it == store_.series().end()) continue;
    const auto& pts = it->second.points;
    if (!line.raw) {
      line.raw = new QLineSeries(c.view);
      line.smooth = new QLineSeries(c.view);
      line.raw->setName(QString::fromStdString(source) + " (raw)");
      line.smooth->setName(QString::fromStdString(source));
      c.view->chart()->addSeries(line.raw);
      c.view->chart()->addSeries(line.smooth);
      for (auto* series : {line.raw, line.smooth}) {
        series->attachAxis(c.x);
        series->attachAxis(c.y);
      }
      QColor color = QColor::fromHsv(static_cast<int>(std::hash<std::string>{}(source) % 360), 200, 200);
      line.smooth->setPen(QPen(color, 1));  // width 1: wider pens go through the path stroker
      color.setAlpha(70);
      line.raw->setPen(QPen(color, 1));
    }
    const std::size_t n = pts.size(), shown = std::min<std::size_t>(n, kMaxChartPoints);
    QList<QPointF> raw_points, smooth_points;
    raw_points.reserve(static_cast<qsizetype>(shown));
    smooth_points.reserve(static_cast<qsizetype>(shown));
    for (std::size_t k = 0; k < shown; ++k) {
      // Evenly spaced samples straight from the deque, always including the newest point.
      const std::size_t i = shown == n ? k : (k == shown - 1 ? n - 1 : k * (n - 1) / (shown - 1));
      const double x = pts[i].step, raw = pts[i].value, smooth = line.smoothed[i];
      raw_points.append({x, raw});
      smooth_points.append({x, smooth});
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      if (std::isfinite(raw)) y0 = std::min(y0, raw), y1 = std::max(y1, raw);
    }
    line.raw->replace(raw_points);
    line.smooth->replace(smooth_points);
  }
  if (x1 >= x0) fit_axes(c.x, c.y, x0, x1, y0, y1);
}

void TrainerPanel::drawEnvelope(TagChart& c) {
  // Many sources write this tag (a worker pool): one line per source would cost a chart layout
  // per source and read as noise. Draw the mean across sources and their min-max band, over step
  // buckets (of the raw values: the bucket mean already smooths).
  auto* chart = c.view->chart();
  if (!c.mean) {
    for (auto& [source, line] : c.lines) {
      if (line.raw) {
        chart->removeSeries(line.raw);
        chart->removeSeries(line.smooth);
        delete line.raw;
        delete line.smooth;
        line.raw = line.smooth = nullptr;
      }
    }
    c.band_upper = new QLineSeries(c.view);
    c.band_lower = new QLineSeries(c.view);
    c.band = new QAreaSeries(c.band_upper, c.band_lower);
    c.band->setColor(QColor(70, 130, 200, 70));
    c.band->setBorderColor(QColor(70, 130, 200, 120));
    c.mean = new QLineSeries(c.view);
    c.mean->setPen(QPen(QColor(30, 80, 160), 1));
    chart->addSeries(c.band);
    chart->addSeries(c.mean);
    for (QAbstractSeries* series : {static_cast<QAbstractSeries*>(c.band), static_cast<QAbstractSeries*>(c.mean)}) {
      series->attachAxis(c.x);
      series->attachAxis(c.y);
    }
  }
  double x0 = std::numeric_limits<double>::max(), x1 = -x0;
  for (const auto& [source, line] : c.lines) {
    const auto it = store_.series().find({source, c.tag});
    if (it == store_.series().end() || it->second.points.empty()) continue;
    x0 = std::min(x0, it->second.points.front().step);
    x1 = std::max(x1, it->second.points.back().step);
  }
  if (!(x1 >= x0)) return;
  constexpr int kBuckets = kMaxCrowdedPoints;
  const double width = std::max((x1 - x0) / kBuckets, 1e-9);
  std::vector<double> sum(kBuckets, 0.0), lo(kBuckets, std::numeric_limits<double>::max()),
      hi(kBuckets, -std::numeric_limits<double>::max());
  std::vector<int> count(kBuckets, 0);
  for (const auto& [source, line] : c.lines) {
    const auto it = store_.series().find({source, c.tag});
    if (it == store_.series().end()) continue;
    const auto& pts = it->second.points;
    // Per source, at most a few samples per bucket are enough for mean and range.
    const std::size_t stride = std::max<std::size_t>(1, pts.size() / (4 * kBuckets));
    for (std::size_t i = 0; i < pts.size(); i += stride) {
      const double v = pts[i].value;
      if (!std::isfinite(v)) continue;
      const int b = std::clamp(static_cast<int>((pts[i].step - x0) / width), 0, kBuckets - 1);
      sum[static_cast<std::size_t>(b)] += v;
      lo[static_cast<std::size_t>(b)] = std::min(lo[static_cast<std::size_t>(b)], v);
      hi[static_cast<std::size_t>(b)] = std::max(hi[static_cast<std::size_t>(b)], v);
      ++count[static_cast<std::size_t>(b)];
    }
  }
  QList<QPointF> mean, upper, lower;
  double y0 = std::numeric_limits<double>::max(), y1 = -y0;
  for (std::size_t b = 0; b < static_cast<std::size_t>(kBuckets); ++b) {
    if (count[b] == 0) continue;
    const double x = x0 + (static_cast<double>(b) + 0.5) * width;
    mean.append({x, sum[b] / count[b]});
    upper.append({x, hi[b]});
    lower.append({x, lo[b]});
    y0 = std::min(y0, lo[b]);
    y1 = std::max(y1, hi[b]);
  }
  // Names and the legend change the chart's layout: touch them only when the count changes.
  const QString mean_name = tr("mean of %1 sources").arg(c.lines.size());
  if (c.mean->name() != mean_name) {
    c.mean->setName(mean_name);
    c.band->setName(tr("min-max across sources"));
    chart->legend()->setVisible(true);
  }
  c.band_upper->replace(upper);
  c.band_lower->replace(lower);
  c.mean->replace(mean);
  if (!mean.isEmpty()) fit_axes(c.x, c.y, x0, x1, y0, y1);
}

void TrainerPanel::refreshBreakdown() {
  std::vector<const Series*> parts;
  for (const auto& tag : time_breakdown_tags()) parts.push_back(latest_series(store_, tag));
  if (std::any_of(parts.begin(), parts.end(), [](const Series* s) { return s == nullptr; })) return;
  std::uint64_t received = 0;
  for (const Series* s : parts) received += s->received + s->compactions;
  if (received == breakdown_received_) return;  // nothing new since the last draw
  breakdown_received_ = received;
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
    area->lowerSeries()->replace(thin_points(lower_points, kMaxChartPoints));
    area->upperSeries()->replace(thin_points(upper_points, kMaxChartPoints));
  }
  if (n > 0) {
    fit_axes(breakdown_x_, breakdown_y_, steps.front(), steps.back(), 0.0, top);
    breakdown_y_->setMin(0.0);  // stacked seconds start at zero
  }
  breakdown_->setProvider([store = &store_] {
    std::vector<ExportSeries> out;
    for (const auto& tag : time_breakdown_tags()) {
      if (const Series* s = latest_series(*store, tag)) {
        ExportSeries e{QString::fromStdString(s->source + ":" + tag), "step", {}};
        for (const auto& p : s->points) e.points.emplace_back(p.step, p.value);
        out.push_back(std::move(e));
      }
    }
    return out;
  });
}

}  // namespace fleetscope::app
