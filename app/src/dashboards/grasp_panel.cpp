#include "grasp_panel.h"

#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPromise>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QThreadPool>
#include <QVBoxLayout>
#include <memory>
#include <variant>

#include "gpu_lanes_widget.h"
#include "grasp_manifest.h"
#include "job_table_model.h"

namespace fleetscope::app {
namespace {
constexpr double kTelemetryLaneWindow_s = 600.0;
}

GraspPanel::GraspPanel(const TelemetryStore& store, QWidget* parent) : DashboardPanel(parent), store_(store) {
  setObjectName("graspPanel");
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout();
  top->addWidget(new QLabel(tr("Source"), this));
  source_ = new QComboBox(this);
  source_->setObjectName("graspSource");
  source_->addItems({tr("Telemetry"), tr("Manifest")});
  top->addWidget(source_);
  auto* open = new QPushButton(tr("Open manifest..."), this);
  top->addWidget(open);
  path_label_ = new QLabel(this);
  top->addWidget(path_label_, 1);
  layout->addLayout(top);
  error_label_ = new QLabel(this);
  error_label_->setObjectName("manifestError");
  error_label_->setWordWrap(true);
  error_label_->setStyleSheet("background: #f6d5d5; color: #800; padding: 4px;");
  error_label_->hide();
  layout->addWidget(error_label_);
  auto* overall_row = new QHBoxLayout();
  overall_ = new QProgressBar(this);
  overall_->setObjectName("overallProgress");
  overall_->setRange(0, 1000);
  overall_->setFormat("%p%");
  summary_ = new QLabel(tr("no jobs reported yet"), this);
  summary_->setObjectName("graspSummary");
  overall_row->addWidget(overall_, 1);
  overall_row->addWidget(summary_, 1);
  layout->addLayout(overall_row);

  auto* split = new QSplitter(Qt::Vertical, this);
  model_ = new JobTableModel(this);
  table_ = new QTableView(split);
  table_->setObjectName("jobTable");
  table_->setModel(model_);
  table_->setItemDelegateForColumn(JobTableModel::kProgress, new ProgressBarDelegate(table_));
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(JobTableModel::kProgress, QHeaderView::Stretch);
  lanes_ = new GpuLanesWidget(split);
  split->addWidget(table_);
  split->addWidget(lanes_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  layout->addWidget(split, 1);

  reload_timer_.setSingleShot(true);
  reload_timer_.setInterval(150);  // a burst of change notifications, one read
  connect(&reload_timer_, &QTimer::timeout, this, &GraspPanel::reloadManifest);
  connect(&watcher_, &QFileSystemWatcher::fileChanged, this, [this] { reload_timer_.start(); });
  connect(&watcher_, &QFileSystemWatcher::directoryChanged, this, [this] { reload_timer_.start(); });
  connect(&load_, &QFutureWatcher<LoadResult>::finished, this, &GraspPanel::onLoaded);
  connect(open, &QPushButton::clicked, this, &GraspPanel::chooseManifest);
  connect(source_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
}

bool GraspPanel::showingManifest() const { return source_->currentIndex() == 1; }
QString GraspPanel::summaryText() const { return summary_->text(); }

void GraspPanel::chooseManifest() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open grasp manifest"), manifest_path_,
                                                    tr("Manifest (*.json);;All files (*)"));
  if (!path.isEmpty()) openManifest(path);
}

void GraspPanel::openManifest(const QString& path) {
  if (!watcher_.files().isEmpty()) watcher_.removePaths(watcher_.files());
  if (!watcher_.directories().isEmpty()) watcher_.removePaths(watcher_.directories());
  manifest_path_ = QFileInfo(path).absoluteFilePath();
  manifest_state_.reset();
  manifest_error_.clear();
  error_label_->hide();
  ++path_generation_;  // a read of the previous manifest still in flight is dropped
  model_->setJobs({});
  summary_->setText(tr("reading the manifest..."));
  path_label_->setText(manifest_path_);
  // Schedulers replace the file by rename: watch the directory too, and re-add the file.
  watcher_.addPath(QFileInfo(manifest_path_).absolutePath());
  source_->setCurrentIndex(1);
  reloadManifest();
}

void GraspPanel::reloadManifest() {
  if (manifest_path_.isEmpty()) return;
  if (!watcher_.files().contains(manifest_path_) && QFileInfo::exists(manifest_path_)) watcher_.addPath(manifest_path_);
  if (loading_) {
    reload_pending_ = true;  // read again once this read ends: it may have missed the change
    return;
  }
  startLoad();
}

void GraspPanel::startLoad() {
  loading_ = true;
  reload_pending_ = false;
  load_generation_ = path_generation_;
  // QPromise and QFutureWatcher: the result comes back as an event to load_, which lives on this
  // thread and takes it with it if the panel goes first.
  auto promise = std::make_shared<QPromise<LoadResult>>();
  promise->start();
  load_.setFuture(promise->future());
  QThreadPool::globalInstance()->start(
      [promise, path = manifest_path_, now = QDateTime::currentMSecsSinceEpoch() / 1000.0] {
        promise->addResult(load_grasp_manifest(path, now));
        promise->finish();
      });
}

void GraspPanel::onLoaded() {
  loading_ = false;
  const bool current = load_generation_ == path_generation_ && load_.future().resultCount() > 0;
  if (current) apply(load_.future().takeResult());
  if (reload_pending_ || !current) {
    if (!manifest_path_.isEmpty()) startLoad();
    return;
  }
  emit manifestLoaded();
}

void GraspPanel::apply(LoadResult result) {
  if (auto* state = std::get_if<GraspState>(&result)) {
    manifest_state_ = std::move(*state);
    manifest_error_.clear();
    error_label_->hide();
  } else {
    manifest_error_ = std::get<QString>(result);
    error_label_->setText(manifest_state_ ? tr("%1 (showing the last good read)").arg(manifest_error_) : manifest_error_);
    error_label_->show();
  }
  if (showingManifest() && manifest_state_) show(*manifest_state_, 0.0);
}

void GraspPanel::show(const GraspState& state, double window_s) {
  model_->setJobs(state.jobs);
  const double fraction = state.target_total ? static_cast<double>(state.collected_total) / state.target_total : 0.0;
  overall_->setValue(static_cast<int>(fraction * 1000));
  int done = 0;
  for (const auto& j : state.jobs) done += j.row.state == ipc::JobState::kDone;
  const QString text = state.jobs.empty()
      ? tr("no jobs reported yet")
      : tr("%1 / %2 grasps, %3 of %4 objects done, ETA %5")
            .arg(state.collected_total).arg(state.target_total).arg(done).arg(state.jobs.size())
            .arg(duration_text(state.eta_s));
  if (summary_->text() != text) summary_->setText(text);
  if (isVisible()) lanes_->setLanes(state.lanes, state.now_s, window_s);
}

void GraspPanel::refresh() {
  if (showingManifest()) {
    if (manifest_state_) {
      show(*manifest_state_, 0.0);
    } else {
      model_->setJobs({});
      summary_->setText(manifest_path_.isEmpty() ? tr("no manifest open: File > Open grasp manifest")
                                                 : tr("no good read of the manifest yet"));
    }
    return;
  }
  show(store_.grasp_state(), kTelemetryLaneWindow_s);
}

}  // namespace fleetscope::app
