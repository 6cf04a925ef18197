#include "trainer_panel.h"

#include <QAbstractAxis>
#include <QAreaSeries>
#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QFrame>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegend>
#include <QLegendMarker>
#include <QLineEdit>
#include <QLineSeries>
#include <QMenu>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSlider>
#include <QTimer>
#include <QToolButton>
#include <algorithm>
#include <cmath>
#include <limits>

#include "chart_view.h"

namespace fleetscope::app {
namespace {

constexpr int kMaxChartPoints = 200;  // a chart is about 500 px wide; each point costs in every relayout
// Points over all of a chart's lines (raw and smoothed, every run). Qt Charts strokes every line
// again on each replace (hover shape), so a chart's cost grows with its total points: beyond 4 runs
// each line gets fewer points (8 runs: 100 a line), which kept 8 runs x 50 tags under 5 % of a core.
constexpr int kChartPointBudget = 1600;
// A chart with more sources than this (a worker pool writing one tag each) draws the mean and the
// min-max band across its sources instead of a line each.
constexpr std::size_t kMaxDetailedLines = 8;
constexpr int kMaxCrowdedPoints = 100;
constexpr double kTooltipReachPx = 40.0;  // farther than this from every point: no tooltip
constexpr int kMaxSnapshotHeight = 30000;  // px per image; a taller panel goes on in the next one

std::string prefix_of(const std::string& tag) {
  const auto slash = tag.find('/');
  return slash == std::string::npos ? std::string("other") : tag.substr(0, slash);
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

// Runs in the order they appear get distinct colours (matplotlib's tab10).
QColor run_color(int index) {
  static const QColor colors[] = {QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return colors[static_cast<std::size_t>(index) % std::size(colors)];
}

// Where a chart's drawn data lies.
struct Extent {
  double x0 = std::numeric_limits<double>::max(), x1 = -std::numeric_limits<double>::max();
  double y0 = std::numeric_limits<double>::max(), y1 = -std::numeric_limits<double>::max();
  void add_x(double x) {
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
  }
  void add_y(double y) {
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  }
  bool has_x() const { return x1 >= x0; }
  bool has_y() const { return y1 >= y0; }
};

QString wall_text(std::uint64_t wall_ns) {
  return QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(wall_ns / 1'000'000)).toString("yyyy-MM-dd hh:mm:ss.zzz");
}

double seconds_between(std::uint64_t from_ns, std::uint64_t to_ns) {
  return static_cast<double>(static_cast<std::int64_t>(to_ns - from_ns)) / 1e9;  // negative if the clock stepped back
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
  // Tiles show only once their tag is published (missing_label_ names the others).
  tiles_box_ = new QWidget(this);
  tiles_grid_ = new QGridLayout(tiles_box_);
  tiles_grid_->setContentsMargins(0, 0, 0, 0);
  for (const auto& spec : trainer_tiles()) {
    auto* frame = new QFrame(tiles_box_);
    frame->setFrameShape(QFrame::StyledPanel);
    auto* v = new QVBoxLayout(frame);
    auto* title = new QLabel(spec.title, frame);
    title->setStyleSheet("color: #666;");
    auto* value = new QLabel("–", frame);
    value->setObjectName(QString("tile:%1").arg(spec.tag));
    value->setStyleSheet("font-size: 18pt; font-weight: bold;");
    v->addWidget(title);
    v->addWidget(value);
    frame->hide();
    tiles_[spec.tag] = value;
    tile_frames_[spec.tag] = frame;
  }
  tiles_box_->hide();
  layout->addWidget(tiles_box_);
  missing_label_ = new QLabel(this);
  missing_label_->setObjectName("missingTags");
  missing_label_->setWordWrap(true);
  missing_label_->setStyleSheet("color: #7a5c00;");
  missing_label_->hide();
  layout->addWidget(missing_label_);

  auto* controls = new QHBoxLayout();
  controls->addWidget(new QLabel(tr("Smoothing"), this));
  smoothing_slider_ = new QSlider(Qt::Horizontal, this);
  smoothing_slider_->setObjectName("smoothingSlider");
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setValue(60);
  smoothing_slider_->setMaximumWidth(160);
  smoothing_label_ = new QLabel("0.60", this);
  controls->addWidget(smoothing_slider_);
  controls->addWidget(smoothing_label_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("X axis"), this));
  x_mode_box_ = new QComboBox(this);
  x_mode_box_->setObjectName("xAxisMode");
  x_mode_box_->addItems({tr("step"), tr("wall time"), tr("time since start")});  // XAxisMode's order
  controls->addWidget(x_mode_box_);
  filter_edit_ = new QLineEdit(this);
  filter_edit_->setObjectName("tagFilter");
  filter_edit_->setPlaceholderText(tr("Filter tags (regex)"));
  filter_edit_->setClearButtonEnabled(true);
  filter_edit_->setMaximumWidth(220);
  controls->addWidget(filter_edit_);
  runs_button_ = new QToolButton(this);
  runs_button_->setObjectName("runsButton");
  runs_button_->setText(tr("Runs"));
  runs_button_->setPopupMode(QToolButton::InstantPopup);
  runs_menu_ = new QMenu(runs_button_);
  runs_button_->setMenu(runs_menu_);
  controls->addWidget(runs_button_);
  controls->addStretch();
  status_label_ = new QLabel(this);
  status_label_->setObjectName("trainerStatus");
  controls->addWidget(status_label_);
  layout->addLayout(controls);
  connect(smoothing_slider_, &QSlider::valueChanged, this, [this](int v) {
    smoothing_label_->setText(QString::number(v / 100.0, 'f', 2));
    refresh();
  });
  connect(x_mode_box_, &QComboBox::currentIndexChanged, this,
          [this](int index) { setXAxisMode(static_cast<XAxisMode>(std::clamp(index, 0, 2))); });
  connect(filter_edit_, &QLineEdit::textChanged, this, &TrainerPanel::setTagFilter);

  auto* scroll = new QScrollArea(this);
  scroll_ = scroll;
  scroll->setWidgetResizable(true);
  auto* content = new QWidget(scroll);
  groups_layout_ = new QVBoxLayout(content);
  breakdown_ = new ChartView(tr("Time per iteration (stacked)"), content);
  breakdown_->setObjectName("chart:time-breakdown");
  breakdown_->setInteractive(true);
  replaceX(breakdown_, breakdown_x_);
  replaceY(breakdown_, breakdown_y_, false);
  breakdown_->setMinimumHeight(240);
  breakdown_->setTooltipProvider([this](QPointF pos) { return breakdownTooltip(pos); });
  connect(breakdown_, &ChartView::zoomReset, this, [this] {
    breakdown_drawn_ = {};
    refreshBreakdown();
  });
  breakdown_->hide();  // until one of its tags is published
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

double TrainerPanel::xOf(const SeriesPoint& point, std::uint64_t start_ns) const {
  switch (x_mode_) {
    case XAxisMode::kWallTime:
      return static_cast<double>(point.wall_ns) / 1e9;
    case XAxisMode::kRelativeTime:
      return seconds_between(start_ns, point.wall_ns);
    case XAxisMode::kStep:
      break;
  }
  return point.step;
}

void TrainerPanel::replaceX(ChartView* view, QAbstractAxis*& x) {
  QChart* chart = view->chart();
  if (x) {
    chart->removeAxis(x);
    delete x;
  }
  x = make_x_axis(x_mode_, view);
  chart->addAxis(x, Qt::AlignBottom);
  for (QAbstractSeries* series : chart->series()) series->attachAxis(x);
}

void TrainerPanel::replaceY(ChartView* view, QAbstractAxis*& y, bool log) {
  QChart* chart = view->chart();
  const QString title = y ? y->titleText() : QString();
  if (y) {
    chart->removeAxis(y);
    delete y;
  }
  y = make_y_axis(log, view);
  y->setTitleText(title);
  chart->addAxis(y, Qt::AlignLeft);
  for (QAbstractSeries* series : chart->series()) series->attachAxis(y);
}

TrainerPanel::TagChart& TrainerPanel::chart(const std::string& tag) {
  auto it = charts_.find(tag);
  if (it != charts_.end()) return it->second;
  const std::string prefix = prefix_of(tag);
  auto group = groups_.find(prefix);
  if (group == groups_.end()) {
    Group g;
    g.box = new QGroupBox(QString::fromStdString(prefix), scroll_->widget());
    g.box->setObjectName(QString("group:%1").arg(QString::fromStdString(prefix)));
    g.grid = new QGridLayout(g.box);
    g.grid->setColumnStretch(0, 1);  // two equal columns, whatever the charts' legends ask for
    g.grid->setColumnStretch(1, 1);
    groups_layout_->insertWidget(groups_layout_->count() - 1, g.box);  // before the stretch
    group = groups_.emplace(prefix, g).first;
  }
  TagChart c;
  c.tag = tag;
  c.view = new ChartView(QString::fromStdString(tag), group->second.box);
  c.view->setObjectName(QString("chart:%1").arg(QString::fromStdString(tag)));
  c.view->setInteractive(true);
  replaceX(c.view, c.x);
  replaceY(c.view, c.y, false);
  c.view->chart()->legend()->hide();
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
  c.view->setTooltipProvider([this, tag](QPointF pos) { return tooltipFor(tag, pos); });
  const QString name = QString::fromStdString(tag);
  c.view->setMenuExtender([this, name](QMenu& menu) {
    QAction* log = menu.addAction(tr("Log scale"));
    log->setCheckable(true);
    log->setChecked(logScale(name));
    connect(log, &QAction::toggled, this, [this, name](bool on) { setLogScale(name, on); });
  });
  connect(c.view, &ChartView::zoomReset, this, [this, tag] {
    const auto found = charts_.find(tag);
    if (found == charts_.end()) return;
    found->second.stale = true;
    drawStale(false);
  });
  auto& tags = group->second.tags;
  tags.insert(std::lower_bound(tags.begin(), tags.end(), tag), tag);
  TagChart& stored = charts_.emplace(tag, c).first->second;
  layoutGroup(group->second);
  groups_changed_ = true;
  return stored;
}

bool TrainerPanel::tagShown(const QString& tag) const {
  if (filter_text_.isEmpty()) return true;
  if (filter_.isValid()) return filter_.match(tag).hasMatch();
  return tag.contains(filter_text_, Qt::CaseInsensitive);
}

void TrainerPanel::layoutGroup(Group& group) {
  // Out with every chart, back in with the shown ones, two to a row in tag order.
  std::vector<ChartView*> views;
  for (const auto& tag : group.tags) {
    const auto it = charts_.find(tag);
    if (it == charts_.end()) continue;
    group.grid->removeWidget(it->second.view);
    views.push_back(it->second.view);
  }
  int n = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    const bool shown = tagShown(QString::fromStdString(group.tags[i]));
    views[i]->setVisible(shown);
    if (!shown) continue;
    group.grid->addWidget(views[i], n / 2, n % 2);
    ++n;
  }
  group.box->setVisible(n > 0);
}

void TrainerPanel::orderGroups() {
  std::vector<std::pair<std::string, Group*>> order;
  for (auto& [name, group] : groups_) order.emplace_back(name, &group);
  // Most tags first; ties keep the names' order.
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second->tags.size() > b.second->tags.size(); });
  std::vector<std::string> names;
  for (const auto& entry : order) names.push_back(entry.first);
  if (names == group_order_) return;
  for (const auto& entry : order) groups_layout_->removeWidget(entry.second->box);
  for (std::size_t i = 0; i < order.size(); ++i) {
    groups_layout_->insertWidget(static_cast<int>(i) + 1, order[i].second->box);  // after the breakdown chart
  }
  group_order_ = std::move(names);
}

QStringList TrainerPanel::groupOrder() const {
  QStringList out;
  for (const auto& name : group_order_) out << QString::fromStdString(name);
  return out;
}

void TrainerPanel::setTagFilter(const QString& text) {
  if (text == filter_text_) return;
  filter_text_ = text;
  filter_ = QRegularExpression(text, QRegularExpression::CaseInsensitiveOption);
  if (filter_edit_->text() != text) filter_edit_->setText(text);
  for (auto& [name, group] : groups_) layoutGroup(group);
  // Charts that came into view are drawn once the layout has placed them.
  QTimer::singleShot(0, this, [this] { refresh(); });
}

void TrainerPanel::noteRun(const std::string& source) {
  if (run_index_.count(source)) return;
  run_index_.emplace(source, static_cast<int>(run_index_.size()));
  const QString name = QString::fromStdString(source);
  QAction* action = runs_menu_->addAction(name);
  action->setObjectName("run:" + name);
  action->setCheckable(true);
  action->setChecked(!hidden_runs_.count(source));
  connect(action, &QAction::toggled, this, [this, name](bool on) { setRunVisible(name, on); });
}

QStringList TrainerPanel::runs() const {
  std::vector<std::pair<int, std::string>> order;
  for (const auto& [name, index] : run_index_) order.emplace_back(index, name);
  std::sort(order.begin(), order.end());
  QStringList out;
  for (const auto& entry : order) out << QString::fromStdString(entry.second);
  return out;
}

bool TrainerPanel::runVisible(const QString& run) const { return !hidden_runs_.count(run.toStdString()); }

void TrainerPanel::setRunVisible(const QString& run, bool visible) {
  const std::string name = run.toStdString();
  if (runVisible(run) == visible) return;
  if (visible) {
    hidden_runs_.erase(name);
  } else {
    hidden_runs_.insert(name);
  }
  if (auto* action = runs_menu_->findChild<QAction*>("run:" + run)) {
    const QSignalBlocker blocker(action);
    action->setChecked(visible);
  }
  for (auto& [tag, c] : charts_) {
    if (c.lines.count(name)) c.stale = true;
  }
  drawStale(false);
}

bool TrainerPanel::logScale(const QString& tag) const {
  const auto it = charts_.find(tag.toStdString());
  return it != charts_.end() && it->second.log;
}

void TrainerPanel::setLogScale(const QString& tag, bool log) {
  const auto it = charts_.find(tag.toStdString());
  if (it == charts_.end() || it->second.log == log) return;
  TagChart& c = it->second;
  c.log = log;
  // The points drawn for a linear axis may be <= 0: a log axis fitted to them warns. They are
  // drawn again right after.
  for (auto& [source, line] : c.lines) {
    if (line.raw) line.raw->clear();
    if (line.smooth) line.smooth->clear();
  }
  for (QLineSeries* series : {c.mean, c.band_upper, c.band_lower}) {
    if (series) series->clear();
  }
  replaceY(c.view, c.y, log);
  if (c.skipped_nonpositive) {
    c.skipped_nonpositive = false;
    c.view->chart()->setTitle(QString::fromStdString(c.tag));
  }
  c.stale = true;
  if (c.view->isZoomed()) c.view->resetZoom();
  drawStale(false);
}

void TrainerPanel::setXAxisMode(XAxisMode mode) {
  if (mode == x_mode_) return;
  x_mode_ = mode;
  {
    const QSignalBlocker blocker(x_mode_box_);
    x_mode_box_->setCurrentIndex(static_cast<int>(mode));
  }
  for (auto& [tag, c] : charts_) {
    replaceX(c.view, c.x);
    c.stale = true;
    if (c.view->isZoomed()) c.view->resetZoom();
  }
  replaceX(breakdown_, breakdown_x_);
  breakdown_drawn_ = {};
  if (breakdown_->isZoomed()) breakdown_->resetZoom();
  refresh();
}

void TrainerPanel::refreshTiles() {
  QStringList missing_tiles, missing_parts;
  unsigned shown = 0;
  int index = 0;
  for (const auto& spec : trainer_tiles()) {
    const Series* s = latest_series(store_, spec.tag);
    if (!s) {
      missing_tiles << spec.tag;
      ++index;
      continue;
    }
    shown |= 1u << index++;
    QLabel* label = tiles_[spec.tag];
    const double v = s->points.back().value * spec.scale;
    const QString text = QString::number(v, 'f', spec.decimals) + (spec.unit[0] ? QString(" ") + spec.unit : QString());
    if (label->text() != text) label->setText(text);
  }
  if (shown != tiles_shown_) {
    // The published tiles, four to a row, without holes for the others.
    tiles_shown_ = shown;
    int n = 0;
    index = 0;
    for (const auto& spec : trainer_tiles()) {
      QWidget* frame = tile_frames_[spec.tag];
      tiles_grid_->removeWidget(frame);
      const bool on = shown & (1u << index++);
      frame->setVisible(on);
      if (on) {
        tiles_grid_->addWidget(frame, n / 4, n % 4);
        ++n;
      }
    }
    tiles_box_->setVisible(shown != 0);
  }
  for (const auto& tag : time_breakdown_tags()) {
    if (!latest_series(store_, tag)) missing_parts << QString::fromStdString(tag);
  }
  QStringList parts;
  if (!missing_tiles.isEmpty()) parts << tr("%1 (tiles)").arg(missing_tiles.join(", "));
  if (!missing_parts.isEmpty()) parts << tr("%1 (time breakdown)").arg(missing_parts.join(", "));
  const QString text = parts.isEmpty() ? QString() : tr("Not published by any source: %1").arg(parts.join("; "));
  if (missing_label_->text() != text) {
    missing_label_->setText(text);
    missing_label_->setVisible(!text.isEmpty());
  }
}

QString TrainerPanel::missingTagsText() const { return missing_label_->text(); }

void TrainerPanel::takeNewData() {
  const double weight = smoothing();
  for (const auto& [key, series] : store_.series()) {
    if (series.points.empty()) continue;
    noteRun(key.first);
    TagChart& c = chart(key.second);
    Line& line = c.lines[key.first];
    if (c.lines.size() > kMaxDetailedLines) {
      // An envelope chart draws raw values: no per-line smoothing to keep up.
      if (line.received != series.received || line.compactions != series.compactions) {
        line.received = series.received;
        line.compactions = series.compactions;
        c.stale = true;
      }
    } else if (updateSmoothing(line, series, weight)) {
      c.stale = true;
    }
  }
  if (groups_changed_) {
    orderGroups();
    groups_changed_ = false;
  }
}

void TrainerPanel::refresh() {
  refreshTiles();
  if (!isVisible()) return;  // tiles keep their values for tests; charts only when seen
  takeNewData();
  // Draw only charts scrolled into view: each redraw lays its chart out again, the costliest part
  // of a refresh. The others are drawn when they scroll in (see the scroll bar connection).
  drawStale(false);
  refreshBreakdown();
  status_label_->setText(tr("%1 series, %2 records, %3 lost")
                             .arg(store_.series().size())
                             .arg(store_.received_total())
                             .arg(store_.lost_total()));
}

void TrainerPanel::drawStale(bool everywhere) {
  for (auto& [tag, c] : charts_) {
    if (!c.stale || !c.view->isVisibleTo(this)) continue;  // filtered out: drawn when shown again
    if (!everywhere && !inView(c.view)) continue;
    if (c.lines.size() > kMaxDetailedLines) {
      drawEnvelope(c);
    } else {
      drawLines(c);
    }
    c.stale = false;
  }
}

std::vector<QImage> TrainerPanel::snapshots() {
  // Every chart drawn, also those scrolled out of view, and laid out before the grab.
  takeNewData();
  drawStale(true);
  refreshBreakdown();
  QCoreApplication::processEvents();
  QWidget* content = scroll_->widget();
  const QPoint viewport_at = scroll_->viewport()->mapTo(this, QPoint(0, 0));
  const int head_height = viewport_at.y();  // tiles, missing tags, controls
  const qreal dpr = devicePixelRatioF();
  const QPixmap head = grab(QRect(0, 0, width(), head_height));
  std::vector<QImage> pages;
  const int total = content->height();
  int y = 0;
  do {
    const int top = pages.empty() ? head_height : 0;
    const int h = std::min(kMaxSnapshotHeight - top, total - y);
    QImage page(QSize(width(), top + h) * dpr, QImage::Format_ARGB32_Premultiplied);
    page.setDevicePixelRatio(dpr);
    page.fill(palette().color(QPalette::Window));
    QPainter painter(&page);
    if (top > 0) painter.drawPixmap(0, 0, head);
    // The scroll area's whole content, not just what its viewport shows.
    if (h > 0) painter.drawPixmap(viewport_at.x(), top, content->grab(QRect(0, y, content->width(), h)));
    painter.end();
    pages.push_back(std::move(page));
    y += h;
  } while (y < total);
  return pages;
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

void TrainerPanel::addLineSeries(TagChart& c, const std::string& source, Line& line) {
  line.raw = new QLineSeries(c.view);
  line.smooth = new QLineSeries(c.view);
  const QString name = QString::fromStdString(source);
  line.raw->setName(name + " (raw)");
  line.smooth->setName(name);
  c.view->chart()->addSeries(line.raw);
  c.view->chart()->addSeries(line.smooth);
  for (auto* series : {line.raw, line.smooth}) {
    series->attachAxis(c.x);
    series->attachAxis(c.y);
  }
  const auto index = run_index_.find(source);
  QColor color = run_color(index == run_index_.end() ? 0 : index->second);
  line.smooth->setPen(QPen(color, 1));  // width 1: wider pens go through the path stroker
  color.setAlpha(70);
  line.raw->setPen(QPen(color, 1));
  c.legend_dirty = true;
  // A click on the run's legend entry shows or hides the run (in every chart).
  for (QLegendMarker* marker : c.view->chart()->legend()->markers(line.smooth)) {
    connect(marker, &QLegendMarker::clicked, this, [this, name] { setRunVisible(name, !runVisible(name)); });
  }
}

void TrainerPanel::syncLegend(TagChart& c) {
  QLegend* legend = c.view->chart()->legend();
  int runs = 0;
  for (const auto& [source, line] : c.lines) runs += line.smooth ? 1 : 0;
  const bool show = runs >= 2;  // one run: the title says it all
  if (legend->isVisible() != show) legend->setVisible(show);
  if (!show) return;
  // A marker's isVisible() says false until the legend has laid it out: set visibility when it may
  // have changed (new series; a series shown or hidden takes its marker along), not by comparing.
  const bool markers_changed = c.legend_dirty;
  c.legend_dirty = false;
  for (const auto& [source, line] : c.lines) {
    if (!line.smooth) continue;
    if (markers_changed) {
      for (QLegendMarker* marker : legend->markers(line.raw)) marker->setVisible(false);  // one entry per run
    }
    const bool hidden = hidden_runs_.count(source) != 0;
    const QColor label = hidden ? QColor(160, 160, 160) : palette().color(QPalette::WindowText);
    for (QLegendMarker* marker : legend->markers(line.smooth)) {
      if (markers_changed) marker->setVisible(true);  // a hidden run keeps its entry, to turn it back on
      if (marker->labelBrush().color() != label) marker->setLabelBrush(label);
      QFont font = marker->font();
      if (font.strikeOut() != hidden) {
        font.setStrikeOut(hidden);
        marker->setFont(font);
      }
    }
  }
}

void TrainerPanel::drawLines(TagChart& c) {
  Extent extent;
  bool skipped = false;
  const std::size_t lines = 2 * std::max<std::size_t>(1, c.lines.size());  // raw and smoothed per run
  const std::size_t per_line = std::clamp<std::size_t>(kChartPointBudget / lines, kMaxCrowdedPoints, kMaxChartPoints);
  for (auto& [source, line] : c.lines) {
    const auto it = store_.series().find({source, c.tag});
    if (it == store_.series().end() || it->second.points.empty()) continue;
    const auto& pts = it->second.points;
    if (!line.raw) addLineSeries(c, source, line);
    const bool visible = !hidden_runs_.count(source);
    if (line.smooth->isVisible() != visible) {
      line.raw->setVisible(visible);
      line.smooth->setVisible(visible);
      c.legend_dirty = true;
    }
    if (!visible) continue;  // neither drawn nor fitted: the others get the chart's range
    if (c.log) skipped = skipped || std::any_of(pts.begin(), pts.end(), [](const SeriesPoint& p) { return p.value <= 0; });
    const std::uint64_t start = pts.front().wall_ns;
    const bool smoothed = line.smoothed.size() == pts.size();
    const std::size_t n = pts.size(), shown = std::min<std::size_t>(n, per_line);
    QList<QPointF> raw_points, smooth_points;
    raw_points.reserve(static_cast<qsizetype>(shown));
    smooth_points.reserve(static_cast<qsizetype>(shown));
    for (std::size_t k = 0; k < shown; ++k) {
      // Evenly spaced samples straight from the deque, always including the newest point.
      const std::size_t i = shown == n ? k : (k == shown - 1 ? n - 1 : k * (n - 1) / (shown - 1));
      const double x = xOf(pts[i], start), raw = pts[i].value, smooth = smoothed ? line.smoothed[i] : raw;
      extent.add_x(x);
      // A log axis has no place for values <= 0 (NaN fails the test too).
      if (!c.log || raw > 0) {
        raw_points.append({x, raw});
        if (std::isfinite(raw)) extent.add_y(raw);
      }
      if (!c.log || smooth > 0) smooth_points.append({x, smooth});
    }
    line.raw->replace(raw_points);
    line.smooth->replace(smooth_points);
  }
  syncLegend(c);
  if (skipped != c.skipped_nonpositive) {
    c.skipped_nonpositive = skipped;
    const QString tag = QString::fromStdString(c.tag);
    c.view->chart()->setTitle(skipped ? tr("%1 (log scale: values ≤ 0 not drawn)").arg(tag) : tag);
  }
  if (c.view->isZoomed()) return;  // the user's view stays until reset
  if (extent.has_x()) set_x_range(c.x, extent.x0, extent.x1);
  if (extent.has_y()) fit_y_axis(c.y, extent.y0, extent.y1);
}

void TrainerPanel::drawEnvelope(TagChart& c) {
  // Many sources write this tag (a worker pool): one line per source would cost a chart layout
  // per source and read as noise. Draw the mean across sources and their min-max band, over x
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
  std::vector<const Series*> sources;
  double x0 = std::numeric_limits<double>::max(), x1 = -x0;
  for (const auto& [source, line] : c.lines) {
    const auto it = store_.series().find({source, c.tag});
    if (it == store_.series().end() || it->second.points.empty() || hidden_runs_.count(source)) continue;
    const auto& pts = it->second.points;
    sources.push_back(&it->second);
    for (const SeriesPoint* p : {&pts.front(), &pts.back()}) {
      x0 = std::min(x0, xOf(*p, pts.front().wall_ns));
      x1 = std::max(x1, xOf(*p, pts.front().wall_ns));
    }
  }
  if (!(x1 >= x0)) return;
  constexpr int kBuckets = kMaxCrowdedPoints;
  const double width = std::max((x1 - x0) / kBuckets, 1e-9);
  std::vector<double> sum(kBuckets, 0.0), lo(kBuckets, std::numeric_limits<double>::max()),
      hi(kBuckets, -std::numeric_limits<double>::max());
  std::vector<int> count(kBuckets, 0);
  bool skipped = false;
  for (const Series* series : sources) {
    const auto& pts = series->points;
    const std::uint64_t start = pts.front().wall_ns;
    // Per source, at most a few samples per bucket are enough for mean and range.
    const std::size_t stride = std::max<std::size_t>(1, pts.size() / (4 * kBuckets));
    for (std::size_t i = 0; i < pts.size(); i += stride) {
      const double v = pts[i].value;
      if (!std::isfinite(v)) continue;
      if (c.log && v <= 0) {
        skipped = true;
        continue;
      }
      const auto b = static_cast<std::size_t>(std::clamp(static_cast<int>((xOf(pts[i], start) - x0) / width), 0, kBuckets - 1));
      sum[b] += v;
      lo[b] = std::min(lo[b], v);
      hi[b] = std::max(hi[b], v);
      ++count[b];
    }
  }
  QList<QPointF> mean, upper, lower;
  Extent extent;
  for (std::size_t b = 0; b < static_cast<std::size_t>(kBuckets); ++b) {
    if (count[b] == 0) continue;
    const double x = x0 + (static_cast<double>(b) + 0.5) * width;
    mean.append({x, sum[b] / count[b]});
    upper.append({x, hi[b]});
    lower.append({x, lo[b]});
    extent.add_y(lo[b]);
    extent.add_y(hi[b]);
  }
  // Names and the legend change the chart's layout: touch them only when the count changes.
  const QString mean_name = tr("mean of %1 sources").arg(sources.size());
  if (c.mean->name() != mean_name) {
    c.mean->setName(mean_name);
    c.band->setName(tr("min-max across sources"));
    chart->legend()->setVisible(true);
  }
  if (skipped != c.skipped_nonpositive) {
    c.skipped_nonpositive = skipped;
    const QString tag = QString::fromStdString(c.tag);
    chart->setTitle(skipped ? tr("%1 (log scale: values ≤ 0 not drawn)").arg(tag) : tag);
  }
  c.band_upper->replace(upper);
  c.band_lower->replace(lower);
  c.mean->replace(mean);
  if (mean.isEmpty() || c.view->isZoomed()) return;
  set_x_range(c.x, x0, x1);
  fit_y_axis(c.y, extent.y0, extent.y1);
}

QString TrainerPanel::tooltipFor(const std::string& tag, QPointF pos) const {
  const auto it = charts_.find(tag);
  if (it == charts_.end()) return {};
  const TagChart& c = it->second;
  const QRectF area = c.view->chart()->plotArea();
  const auto [xa, xb] = axis_range(c.x);
  const auto [ya, yb] = axis_range(c.y);
  const bool log = c.log && ya > 0;
  const double ly0 = log ? std::log10(ya) : ya, ly1 = log ? std::log10(yb) : yb;
  if (!(xb > xa) || !(ly1 > ly0) || area.isEmpty()) return {};
  const double sx = area.width() / (xb - xa), sy = area.height() / (ly1 - ly0);
  // The nearest drawn point in pixels, looked up in the full series: its exact step and value.
  double best = kTooltipReachPx * kTooltipReachPx;
  const SeriesPoint* hit = nullptr;
  const std::string* run = nullptr;
  std::uint64_t run_start = 0;
  for (const auto& [source, line] : c.lines) {
    if (hidden_runs_.count(source)) continue;
    const auto found = store_.series().find({source, c.tag});
    if (found == store_.series().end() || found->second.points.empty()) continue;
    const auto& pts = found->second.points;
    const std::uint64_t start = pts.front().wall_ns;
    for (const SeriesPoint& p : pts) {
      if (!std::isfinite(p.value) || (log && p.value <= 0)) continue;
      const double dx = area.left() + (xOf(p, start) - xa) * sx - pos.x();
      const double dy = area.bottom() - ((log ? std::log10(p.value) : p.value) - ly0) * sy - pos.y();
      const double d = dx * dx + dy * dy;
      if (d < best) {
        best = d;
        hit = &p;
        run = &source;
        run_start = start;
      }
    }
  }
  if (!hit) return {};
  return tr("%1\nstep %2\nvalue %3\n%4 (%5 since start)")
      .arg(QString::fromStdString(*run), exact_number(hit->step), exact_number(hit->value), wall_text(hit->wall_ns),
           duration_label(std::round(seconds_between(run_start, hit->wall_ns) * 1000.0) / 1000.0));
}

void TrainerPanel::refreshBreakdown() {
  const auto& tags = time_breakdown_tags();
  std::vector<const Series*> parts(tags.size());
  unsigned mask = 0;
  std::uint64_t records = 0;
  for (std::size_t k = 0; k < tags.size(); ++k) {
    parts[k] = latest_series(store_, tags[k]);
    if (!parts[k]) continue;
    mask |= 1u << k;
    records += parts[k]->received + parts[k]->compactions;
  }
  // Any subset of the parts draws; with none, no chart at all.
  if (mask == 0) {
    if (!breakdown_->isHidden()) breakdown_->hide();
    return;
  }
  if (breakdown_->isHidden()) breakdown_->show();
  const std::tuple<std::uint64_t, unsigned, int> drawn{records, mask, static_cast<int>(x_mode_)};
  if (drawn == breakdown_drawn_) return;  // nothing new since the last draw
  breakdown_drawn_ = drawn;
  auto* chart = breakdown_->chart();
  static const char* names[] = {"environment", "model update", "logging I/O", "waiting"};
  static const QColor colors[] = {QColor(70, 130, 200), QColor(230, 140, 40), QColor(120, 170, 80),
                                  QColor(180, 180, 180)};
  if (mask != breakdown_parts_) {
    chart->removeAllSeries();
    for (std::size_t k = 0; k < parts.size(); ++k) {
      if (!parts[k]) continue;
      auto* area = new QAreaSeries(chart);
      area->setUpperSeries(new QLineSeries(area));
      area->setLowerSeries(new QLineSeries(area));
      area->setName(k < std::size(names) ? names[k] : tags[k].c_str());
      area->setColor(colors[k % std::size(colors)]);
      area->setBorderColor(colors[k % std::size(colors)].darker(130));
      chart->addSeries(area);
      area->attachAxis(breakdown_x_);
      area->attachAxis(breakdown_y_);
    }
    breakdown_parts_ = mask;
  }
  // The newest n records of each part, aligned from the end (a trainer writes them together).
  const Series* first = nullptr;
  std::size_t n = std::numeric_limits<std::size_t>::max();
  for (const Series* s : parts) {
    if (!s) continue;
    if (!first) first = s;
    n = std::min(n, s->points.size());
  }
  const auto& base_points = first->points;
  const std::uint64_t start = base_points.front().wall_ns;
  breakdown_rows_.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    const SeriesPoint& p = base_points[base_points.size() - n + i];
    breakdown_rows_[i].x = xOf(p, start);
    breakdown_rows_[i].point = p;
    breakdown_rows_[i].start_ns = start;
  }
  std::vector<double> base(n, 0.0);
  double top = 0.0;
  int series_index = 0;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k]) continue;
    std::vector<QPointF> lower_points, upper_points;
    const auto& pts = parts[k]->points;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = pts[pts.size() - n + i].value;
      breakdown_rows_[i].values[k] = v;
      lower_points.emplace_back(breakdown_rows_[i].x, base[i]);
      base[i] += v;
      upper_points.emplace_back(breakdown_rows_[i].x, base[i]);
      top = std::max(top, base[i]);
    }
    auto* area = static_cast<QAreaSeries*>(chart->series()[series_index++]);
    area->lowerSeries()->replace(thin_points(lower_points, kMaxChartPoints));
    area->upperSeries()->replace(thin_points(upper_points, kMaxChartPoints));
  }
  if (n > 0 && !breakdown_->isZoomed()) {
    set_x_range(breakdown_x_, breakdown_rows_.front().x, breakdown_rows_.back().x);
    fit_y_axis(breakdown_y_, 0.0, top, true);  // stacked seconds start at zero
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

QString TrainerPanel::breakdownTooltip(QPointF pos) const {
  if (breakdown_rows_.empty()) return {};
  const QRectF area = breakdown_->chart()->plotArea();
  const auto [xa, xb] = axis_range(breakdown_x_);
  if (!(xb > xa) || area.isEmpty()) return {};
  const double x = xa + (pos.x() - area.left()) / area.width() * (xb - xa);
  const auto nearest = std::min_element(breakdown_rows_.begin(), breakdown_rows_.end(), [x](const auto& a, const auto& b) {
    return std::abs(a.x - x) < std::abs(b.x - x);
  });
  static const char* names[] = {"environment", "model update", "logging I/O", "waiting"};
  QString text = tr("step %1\n%2").arg(exact_number(nearest->point.step), wall_text(nearest->point.wall_ns));
  double total = 0.0;
  for (std::size_t k = 0; k < nearest->values.size(); ++k) {
    if (!std::isfinite(nearest->values[k])) continue;
    total += nearest->values[k];
    text += tr("\n%1 %2 s").arg(k < std::size(names) ? names[k] : "?", exact_number(nearest->values[k]));
  }
  return text + tr("\ntotal %1 s").arg(QString::number(total, 'g', 6));
}

}  // namespace fleetscope::app
