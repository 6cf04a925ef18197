#include "viewer_kpi_panel.h"

#include <QGridLayout>
#include <QLineSeries>
#include <QValueAxis>
#include <algorithm>

#include "chart_view.h"

namespace fleetscope::app {
namespace {

constexpr std::size_t kMaxSamples = 3600;  // an hour at one a second

struct LineSpec {
  const char* name;
  double ViewerKpiSample::*field;
};
struct ChartSpec {
  const char* title;
  const char* object_name;
  std::vector<LineSpec> lines;
};

const std::vector<ChartSpec>& chart_specs() {
  static const std::vector<ChartSpec> specs = {
      {"Frame rate (fps)", "chart:viewer-fps", {{"fps", &ViewerKpiSample::fps}}},
      {"Frame time (ms)", "chart:viewer-frame-ms", {{"frame ms", &ViewerKpiSample::frame_ms}}},
      {"Ingest time (us)", "chart:viewer-ingest-us", {{"ingest us", &ViewerKpiSample::ingest_us}}},
      {"Pose-to-photon latency (ms)", "chart:viewer-latency",
       {{"p50", &ViewerKpiSample::latency_p50_ms}, {"p99", &ViewerKpiSample::latency_p99_ms}}},
      {"CPU (% of one core)", "chart:viewer-cpu",
       {{"viewer", &ViewerKpiSample::cpu_percent}, {"telemetry + dashboards", &ViewerKpiSample::telemetry_cpu_percent}}},
      {"Resident memory (MiB)", "chart:viewer-rss", {{"RSS", &ViewerKpiSample::rss_mib}}},
      {"Dirty links per frame", "chart:viewer-dirty", {{"dirty links", &ViewerKpiSample::dirty_links}}},
  };
  return specs;
}

}  // namespace

ViewerKpiPanel::ViewerKpiPanel(QWidget* parent) : DashboardPanel(parent) {
  setObjectName("viewerKpiPanel");
  auto* grid = new QGridLayout(this);
  for (const auto& spec : chart_specs()) {
    Chart c{new ChartView(spec.title, this), nullptr, nullptr, {}};
    c.view->setObjectName(spec.object_name);
    c.x = new QValueAxis(c.view);
    c.y = new QValueAxis(c.view);
    c.x->setTitleText(tr("seconds"));
    c.view->chart()->addAxis(c.x, Qt::AlignBottom);
    c.view->chart()->addAxis(c.y, Qt::AlignLeft);
    for (const auto& line : spec.lines) {
      auto* series = new QLineSeries(c.view);
      series->setName(line.name);
      c.view->chart()->addSeries(series);
      series->attachAxis(c.x);
      series->attachAxis(c.y);
      c.lines.emplace_back(series, line.field);
    }
    if (spec.lines.size() == 1) c.view->chart()->legend()->hide();
    const auto* samples = &samples_;
    const auto lines = spec.lines;
    c.view->setProvider([samples, lines] {
      std::vector<ExportSeries> out;
      for (const auto& line : lines) {
        ExportSeries e{line.name, "seconds", {}};
        for (const auto& s : *samples) e.points.emplace_back(s.time_s, s.*(line.field));
        out.push_back(std::move(e));
      }
      return out;
    });
    const int n = static_cast<int>(charts_.size());
    grid->addWidget(c.view, n / 2, n % 2);
    charts_.push_back(c);
  }
}

void ViewerKpiPanel::addSample(const ViewerKpiSample& sample) {
  samples_.push_back(sample);
  if (samples_.size() > kMaxSamples) samples_.pop_front();
  if (isVisible()) redraw();
}

void ViewerKpiPanel::refresh() {
  if (isVisible()) redraw();
}

void ViewerKpiPanel::showEvent(QShowEvent* event) {
  DashboardPanel::showEvent(event);
  redraw();
}

void ViewerKpiPanel::redraw() {
  if (samples_.empty()) return;
  for (auto& c : charts_) {
    double top = 0.0;
    for (auto& [series, field] : c.lines) {
      std::vector<QPointF> points;
      points.reserve(samples_.size());
      for (const auto& s : samples_) {
        points.emplace_back(s.time_s, s.*field);
        top = std::max(top, s.*field);
      }
      series->replace(thin_points(points, 400));
    }
    fit_axis(c.x, samples_.front().time_s, samples_.back().time_s, 0.2);
    fit_axis(c.y, 0.0, top > 0 ? top : 1.0, 0.1);
  }
}

}  // namespace fleetscope::app
