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
const char* const kPanelFiles[] = {"trainer", "env_pool", "grasp_jobs", "viewer"};

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

DashboardWindow::DashboardWindow(ipc::SourceRegistry& registry, QWidget* parent)
    : QWidget(parent, Qt::Window), store_(std::make_unique<TelemetryStore>(registry)) {
  setObjectName("dashboards");
  setWindowTitle(tr("fleetscope dashboards"));
  resize(1100, 850);
  auto* layout = new QVBoxLayout(this);
  tabs_ = new QTabWidget(this);
  trainer_ = new TrainerPanel(*store_, tabs_);
  env_pool_ = new EnvPoolPanel(*store_, tabs_);
  grasp_ = new GraspPanel(*store_, tabs_);
  viewer_ = new ViewerKpiPanel(tabs_);
  tabs_->addTab(trainer_, tr("RL trainer"));
  tabs_->addTab(env_pool_, tr("Environment pool"));
  tabs_->addTab(grasp_, tr("Grasp jobs"));
  tabs_->addTab(viewer_, tr("Viewer"));
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

void DashboardWindow::pollNow() {
  CpuScope cpu(cpu_ns_, poll_ns_);
  store_->poll();
}

void DashboardWindow::refreshNow() {
  CpuScope cpu(cpu_ns_, refresh_ns_);
  trainer_->refresh();
  env_pool_->refresh();
  grasp_->refresh();
  viewer_->refresh();
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
  for (int i = 0; i < tabs_->count(); ++i) {
    tabs_->setCurrentIndex(i);
    // Lay the panel out, draw what is in view, and let the charts render before the grab.
    QCoreApplication::processEvents();
    refreshNow();
    QCoreApplication::processEvents();
    refreshNow();
    QCoreApplication::processEvents();
    QWidget* panel = tabs_->widget(i);
    const QString path = QDir(dir).filePath(QString("%1.png").arg(kPanelFiles[i]));
    if (!panel->grab().save(path, "PNG")) throw std::runtime_error("cannot write '" + path.toStdString() + "'");
    written << path;
  }
  tabs_->setCurrentIndex(current);
  return written;
}

void DashboardWindow::savePanelAs() {
  const int i = tabs_->currentIndex();
  const QString path = QFileDialog::getSaveFileName(this, tr("Save panel"), QString("%1.png").arg(kPanelFiles[i]),
                                                    tr("PNG (*.png)"));
  if (path.isEmpty()) return;
  if (!tabs_->currentWidget()->grab().save(path, "PNG")) {
    QMessageBox::warning(this, tr("Save panel"), tr("cannot write '%1'").arg(path));
  }
}

}  // namespace fleetscope::app
