#include "dashboard_window.h"

#include <time.h>

#include <QCoreApplication>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTabWidget>
#include <QVBoxLayout>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "env_pool_panel.h"
#include "fleetscope/ipc/process_liveness.hpp"
#include "grasp_panel.h"
#include "trainer_panel.h"

namespace fleetscope::app {
namespace {

constexpr int kPollMs = 100;     // telemetry rings hold thousands of records: 10 Hz is ample
constexpr int kRefreshMs = 1000;  // panels redraw once a second (TensorBoard: every 30 s)

template <typename Panel>
DashboardPanel* make_panel(const TelemetryStore& store, QWidget* parent) {
  return new Panel(store, parent);
}

// The one list of panels: tabs, --dashboard-tab names and PNG file names all come from here.
constexpr PanelSpec kPanels[] = {
    {"trainer", "RL trainer", "trainer", make_panel<TrainerPanel>},
    {"envpool", "Environment pool", "env_pool", make_panel<EnvPoolPanel>},
    {"grasp", "Grasp jobs", "grasp_jobs", make_panel<GraspPanel>},
    {"viewer", "Viewer", "viewer",  // the viewer's own KPIs: fed by addSample(), not the store
     [](const TelemetryStore&, QWidget* parent) -> DashboardPanel* { return new ViewerKpiPanel(parent); }},
};

// <file>.png for a panel's first image, <file>-2.png for its second, and so on.
QString page_file_name(const QString& file, std::size_t page) {
  return page == 0 ? QString("%1.png").arg(file) : QString("%1-%2.png").arg(file).arg(page + 1);
}

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Adds the GUI thread's CPU time spent in its scope to a total and to one of its parts.
class CpuScope {
 public:
  CpuScope(std::uint64_t& total, std::uint64_t& part) : total_(total), part_(part), start_(thread_cpu_ns()) {}
  ~CpuScope() {
    const std::uint64_t spent = thread_cpu_ns() - start_;
    total_ += spent;
    part_ += spent;
  }

 private:
  std::uint64_t& total_;
  std::uint64_t& part_;
  std::uint64_t start_;
};

}  // namespace

std::span<const PanelSpec> dashboard_panels() { return kPanels; }

int dashboard_panel_index(QAnyStringView id) {
  for (std::size_t i = 0; i < std::size(kPanels); ++i) {
    if (id == QAnyStringView(kPanels[i].id)) return static_cast<int>(i);
  }
  return -1;
}

DashboardWindow::DashboardWindow(ipc::SourceRegistry& registry, QWidget* parent)
    : QWidget(parent, Qt::Window), store_(std::make_unique<TelemetryStore>(registry)) {
  setObjectName("dashboards");
  setWindowTitle(tr("fleetscope dashboards"));
  resize(1100, 850);
  auto* layout = new QVBoxLayout(this);
  tabs_ = new QTabWidget(this);
  for (const PanelSpec& spec : dashboard_panels()) {
    DashboardPanel* panel = spec.make(*store_, tabs_);
    tabs_->addTab(panel, tr(spec.title));
    panels_.push_back(panel);
  }
  auto* save = new QPushButton(tr("Save panel PNG..."), tabs_);
  tabs_->setCornerWidget(save);
  layout->addWidget(tabs_, 1);
  status_ = new QLabel(this);
  status_->setObjectName("dashboardStatus");
  layout->addWidget(status_);
  connect(save, &QPushButton::clicked, this, &DashboardWindow::savePanelAs);
  connect(tabs_, &QTabWidget::currentChanged, this, [this] { refreshNow(); });
  connect(&poll_timer_, &QTimer::timeout, this, &DashboardWindow::pollNow);
  connect(&refresh_timer_, &QTimer::timeout, this, &DashboardWindow::refreshNow);
  poll_timer_.start(kPollMs);
  refresh_timer_.start(kRefreshMs);
  cpu_taken_wall_ns_ = ipc::monotonic_ns();
}

DashboardWindow::~DashboardWindow() = default;

template <typename Panel>
Panel* DashboardWindow::panel() const {
  for (DashboardPanel* p : panels_) {
    if (auto* typed = qobject_cast<Panel*>(p)) return typed;
  }
  return nullptr;
}

TrainerPanel* DashboardWindow::trainer() const { return panel<TrainerPanel>(); }
EnvPoolPanel* DashboardWindow::envPool() const { return panel<EnvPoolPanel>(); }
GraspPanel* DashboardWindow::grasp() const { return panel<GraspPanel>(); }
ViewerKpiPanel* DashboardWindow::viewerKpis() const { return panel<ViewerKpiPanel>(); }

bool DashboardWindow::showPanel(QAnyStringView id) {
  const int index = dashboard_panel_index(id);
  if (index < 0) return false;
  tabs_->setCurrentIndex(index);
  return true;
}

void DashboardWindow::openGraspManifest(const QString& path) { grasp()->openManifest(path); }

void DashboardWindow::chooseGraspManifest() {
  show();
  tabs_->setCurrentWidget(grasp());
  grasp()->chooseManifest();
}

void DashboardWindow::addViewerSample(const ViewerKpiSample& sample) { viewerKpis()->addSample(sample); }

DashboardWindow::TelemetryTotals DashboardWindow::telemetryTotals() const {
  return {store_->received_total(), store_->lost_total()};
}

void DashboardWindow::pollNow() {
  CpuScope cpu(cpu_ns_, poll_ns_);
  store_->poll();
}

void DashboardWindow::refreshNow() {
  CpuScope cpu(cpu_ns_, refresh_ns_);
  for (DashboardPanel* panel : panels_) panel->refresh();
  QString text = tr("%1 telemetry segments | %2 records received | %3 lost (the viewer fell behind a ring)")
                     .arg(store_->sources().size())
                     .arg(store_->received_total())
                     .arg(store_->lost_total());
  for (const auto& [name, error] : store_->errors()) text += " | " + QString::fromStdString(error);
  if (status_->text() != text) status_->setText(text);
}

bool DashboardWindow::event(QEvent* e) {
  // The whole window repaints (every panel's widgets) inside its UpdateRequest.
  if (e->type() == QEvent::UpdateRequest || e->type() == QEvent::Paint) {
    CpuScope cpu(cpu_ns_, paint_ns_);
    return QWidget::event(e);
  }
  return QWidget::event(e);
}

double DashboardWindow::takeCpuPercent() {
  const std::uint64_t now = ipc::monotonic_ns();
  const double wall = static_cast<double>(now - cpu_taken_wall_ns_);
  const double percent = wall > 0 ? cpu_ns_ * 100.0 / wall : 0.0;
  if (wall > 0) {
    spdlog::debug("dashboards: {:.2f} % of a core (poll {:.2f}, refresh {:.2f}, paint {:.2f})", percent,
                  poll_ns_ * 100.0 / wall, refresh_ns_ * 100.0 / wall, paint_ns_ * 100.0 / wall);
  }
  cpu_ns_ = poll_ns_ = refresh_ns_ = paint_ns_ = 0;
  cpu_taken_wall_ns_ = now;
  return percent;
}

QStringList DashboardWindow::savePanels(const QString& dir) {
  if (!QDir().mkpath(dir)) throw std::runtime_error("cannot create '" + dir.toStdString() + "'");
  QStringList written;
  const int current = tabs_->currentIndex();
  const auto specs = dashboard_panels();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    tabs_->setCurrentIndex(static_cast<int>(i));
    // Lay the panel out, draw what is in view, and let the charts render before the grab.
    QCoreApplication::processEvents();
    refreshNow();
    QCoreApplication::processEvents();
    refreshNow();
    QCoreApplication::processEvents();
    const std::vector<QImage> images = panels_[i]->snapshots();
    for (std::size_t page = 0; page < images.size(); ++page) {
      const QString path = QDir(dir).filePath(page_file_name(specs[i].file, page));
      if (!images[page].save(path, "PNG")) throw std::runtime_error("cannot write '" + path.toStdString() + "'");
      written << path;
    }
  }
  tabs_->setCurrentIndex(current);
  return written;
}

void DashboardWindow::savePanelAs() {
  const PanelSpec& spec = dashboard_panels()[static_cast<std::size_t>(tabs_->currentIndex())];
  const QString path = QFileDialog::getSaveFileName(this, tr("Save panel"), QString("%1.png").arg(spec.file),
                                                    tr("PNG (*.png)"));
  if (path.isEmpty()) return;
  // A tall panel may be several images: path, then path-2.png and on.
  const std::vector<QImage> images = panels_[static_cast<std::size_t>(tabs_->currentIndex())]->snapshots();
  const QString stem = path.endsWith(".png", Qt::CaseInsensitive) ? path.chopped(4) : path;
  for (std::size_t page = 0; page < images.size(); ++page) {
    const QString file = page == 0 ? path : page_file_name(stem, page);
    if (!images[page].save(file, "PNG")) {
      QMessageBox::warning(this, tr("Save panel"), tr("cannot write '%1'").arg(file));
      return;
    }
  }
}

}  // namespace fleetscope::app
