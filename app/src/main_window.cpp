#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QInputDialog>
#include <QLineEdit>
#include <QTimer>
#include <algorithm>
#include <map>

#include "dashboard_window.h"
#include "demo_children.h"
#include "env_pool_panel.h"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/relay/remote_source.hpp"
#include "fleetscope/recording/recording_source.hpp"
#include "grasp_manifest.h"
#include "kpi_logger.h"
#include "recording_process.h"
#include "replay_controller.h"
#include "timeline_bar.h"
#include "process_usage.h"
#include "live_scene.h"
#include "robots_dock.h"
#include "scalar_legend_widget.h"
#include "sources_dock.h"
#include "vtk_host_widget.h"

namespace fleetscope::app {

MainWindow::MainWindow(const AppOptions& options, QWidget* parent) : QMainWindow(parent), options_(options) {
  setWindowTitle("fleetscope");
  resize(1280, 800);
  view_ = new VtkHostWidget(this);
  view_->setObjectName("view3d");
  setCentralWidget(view_);
  render::SceneSettings settings;
  if (options.actor_per_link) settings.mode = render::BatchMode::kActorPerLink;
  // One registry owns every source; the 3D scene, the dashboards and the Sources dock borrow it.
  registry_ = std::make_unique<ipc::SourceRegistry>(
      ipc::RegistryOptions{.reader = {.allow_other_users = options.allow_other_users},
                           .stale_after_ns = settings.stale_after_ns,
                           .drop_dead = false});
  live_ = new LiveScene(view_, *registry_, settings, options.max_fps, this);
  sources_ = new SourcesDock(live_, this);
  robots_ = new RobotsDock(live_, this);
  addDockWidget(Qt::LeftDockWidgetArea, sources_);
  addDockWidget(Qt::LeftDockWidgetArea, robots_);
  resizeDocks({sources_, robots_}, {420, 420}, Qt::Horizontal);

  stats_label_ = new QLabel(tr("no frames yet"), this);
  stats_label_->setObjectName("statsLabel");
  selection_label_ = new QLabel(this);
  statusBar()->addWidget(selection_label_, 1);
  statusBar()->addPermanentWidget(stats_label_);

  dashboards_ = new DashboardWindow(*registry_, this);
  connect(dashboards_->envPool(), &EnvPoolPanel::workerSelected, this, &MainWindow::onWorkerSelected);
  legend_ = new ScalarLegendWidget(view_);
  legend_->move(12, 12);
  legend_->hide();
  usage_ = std::make_unique<ProcessUsage>();
  started_ns_ = ipc::monotonic_ns();

  replay_ = new ReplayController(*registry_, this);
  connect(replay_, &ReplayController::moved, live_, &LiveScene::requestFrame);
  timeline_ = new TimelineBar(*replay_, this);
  addToolBar(Qt::BottomToolBarArea, timeline_);
  timeline_->hide();  // until a recording is open

  auto* file = menuBar()->addMenu(tr("&File"));
  auto* open_action = file->addAction(tr("Open &recording..."), QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open recording"), {}, tr("MCAP recordings (*.mcap);;All files (*)"));
    if (path.isEmpty()) return;
    if (const QString error = openRecording(path); !error.isEmpty()) QMessageBox::warning(this, tr("Open recording"), error);
  });
  connect(sources_, &SourcesDock::openRecordingRequested, open_action, &QAction::trigger);
  file->addAction(tr("Open &grasp manifest..."), this, [this] { dashboards_->chooseGraspManifest(); });
  recorder_ = new RecordingProcess(this);
  rec_label_ = new QLabel(this);
  rec_label_->setObjectName("recordingIndicator");
  rec_label_->setStyleSheet("QLabel { color: white; background: #c62828; border-radius: 3px; padding: 1px 6px; }");
  rec_label_->hide();
  statusBar()->addPermanentWidget(rec_label_);
  auto* rec_timer = new QTimer(this);
  connect(rec_timer, &QTimer::timeout, this, &MainWindow::updateRecordingIndicator);
  rec_timer->start(500);
  connect(recorder_, &RecordingProcess::ended, this, [this](const QString& message) {
    showMessage(message);
    updateRecordingIndicator();
  });
  record_action_ = file->addAction(tr("Start re&cording..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R), this, [this] {
    if (recorder_->recording()) {
      showMessage(stopRecording());
      return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Record to"), "run.mcap", tr("MCAP recordings (*.mcap)"));
    if (path.isEmpty()) return;
    if (const QString error = startRecording(path); !error.isEmpty()) QMessageBox::warning(this, tr("Record"), error);
  });
  auto* connect_action = file->addAction(tr("&Connect to relay..."), this, [this] {
    bool ok = false;
    const QString endpoint = QInputDialog::getText(this, tr("Connect to relay"),
                                                   tr("Address of a fleetscope-relay (tcp://HOST:PORT):"), QLineEdit::Normal,
                                                   "tcp://127.0.0.1:7700", &ok);
    if (!ok || endpoint.trimmed().isEmpty()) return;
    if (const QString error = connectRelay(endpoint); !error.isEmpty()) QMessageBox::warning(this, tr("Connect to relay"), error);
  });
  connect(sources_, &SourcesDock::connectRequested, connect_action, &QAction::trigger);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  auto* view_menu = menuBar()->addMenu(tr("&View"));
  view_menu->addAction(tr("&Reset camera"), QKeySequence(Qt::Key_R), live_, &LiveScene::resetCamera);
  auto* follow = view_menu->addAction(tr("&Follow selected robot"));
  follow->setCheckable(true);
  follow->setShortcut(QKeySequence(Qt::Key_F));
  connect(follow, &QAction::toggled, live_, &LiveScene::setFollowSelection);
  // The viewer's ground plane; "automatic" hides it while a simulation draws its own floor.
  auto* ground_menu = view_menu->addMenu(tr("&Ground plane"));
  auto* ground_group = new QActionGroup(this);
  const std::pair<QString, GroundMode> ground_modes[] = {
      {tr("&Automatic (hidden under a simulation's own floor)"), GroundMode::kAuto},
      {tr("Always &shown"), GroundMode::kOn},
      {tr("&Hidden"), GroundMode::kOff}};
  for (const auto& [label, mode] : ground_modes) {
    auto* action = ground_menu->addAction(label);
    action->setCheckable(true);
    action->setChecked(mode == options.ground);
    ground_group->addAction(action);
    connect(action, &QAction::triggered, live_, [this, mode = mode] { live_->setGroundMode(mode); });
  }
  live_->setGroundMode(options.ground);
  // Colour robots by their model's colours or by the scalar their writer publishes (with a legend).
  auto* color_menu = view_menu->addMenu(tr("&Colour robots by"));
  auto* color_group = new QActionGroup(this);
  const std::pair<QString, render::ColorMode> color_modes[] = {
      {tr("&Model colours"), render::ColorMode::kModel},
      {tr("Robot &scalar (e.g. episode return)"), render::ColorMode::kScalar}};
  for (const auto& [label, mode] : color_modes) {
    auto* action = color_menu->addAction(label);
    action->setCheckable(true);
    action->setChecked(mode == render::ColorMode::kModel);
    color_group->addAction(action);
    connect(action, &QAction::triggered, this, [this, mode = mode] { setColorMode(mode); });
  }
  view_menu->addSeparator();
  view_menu->addAction(sources_->toggleViewAction());
  view_menu->addAction(robots_->toggleViewAction());
  view_menu->addAction(tr("&Dashboards"), QKeySequence(Qt::CTRL | Qt::Key_D), this, [this] {
    dashboards_->show();
    dashboards_->raise();
  });

  connect(live_, &LiveScene::summaryUpdated, this, &MainWindow::onSummary);
  connect(live_, &LiveScene::selectionChanged, this, &MainWindow::onSelection);
  connect(live_, &LiveScene::layoutChanged, robots_, &RobotsDock::scheduleRebuild);
  connect(live_, &LiveScene::frameDone, this, &MainWindow::onFrameDone);
  connect(sources_, &SourcesDock::message, this, &MainWindow::showMessage);

  if (options.size.isValid()) view_->setFixedSize(options.size);
  live_->setInitialCamera(options.camera);
  QSettings settings_store;  // organisation and application names set in main() (tests use their own)
  if (options.screenshot.isEmpty()) {
    restoreGeometry(settings_store.value("window/geometry").toByteArray());
    restoreState(settings_store.value("window/state").toByteArray());
    timeline_->hide();  // a saved state may show it: only with a recording open
  }
  // An explicit --attach list (or --open recordings) means those only; the saved choice applies
  // to plain runs.
  initial_auto_attach_ = options.attach_all || (options.attach.isEmpty() && options.open.isEmpty() &&
                                                settings_store.value("sources/autoAttach", false).toBool());
  sources_->setAutoAttach(initial_auto_attach_);
  sources_->setKeepDeadRobots(settings_store.value("sources/keepDeadRobots", true).toBool());
  if (!options.kpi_log.isEmpty()) kpi_ = std::make_unique<KpiLogger>(options.kpi_log);
  if (!options.grasp_manifest.isEmpty()) dashboards_->openGraspManifest(options.grasp_manifest);
  dashboards_->showPanel(dashboard_panels()[static_cast<std::size_t>(options.dashboard_tab)].id);
}

MainWindow::~MainWindow() {
  // Discovery's thread first: nothing opens segments or posts results from here on.
  sources_->stopDiscovery();
  // Children next: their segments close while the scene still reads them (no dead flashes).
  if (demo_) demo_->stop();
  // The scene's GL resources go while the view's context still exists.
  view_->makeCurrent();
  delete live_;
  live_ = nullptr;
  view_->doneCurrent();
  // The dashboards read the registry's sources: they go before it does.
  delete dashboards_;
  dashboards_ = nullptr;
}

QString MainWindow::attachFromOptions() {
  if (!options_.grasp_manifest.isEmpty() && !QFileInfo::exists(options_.grasp_manifest)) {
    return QString("grasp manifest '%1' does not exist").arg(options_.grasp_manifest);
  }
  // A FIFO, a device (/dev/zero) or an oversized file: refused as a missing one is.
  if (!options_.grasp_manifest.isEmpty()) {
    if (const QString error = check_manifest_file(options_.grasp_manifest); !error.isEmpty()) return error;
  }
  if (options_.demo) {
    demo_ = new DemoChildren(this);
    try {
      demo_->start();
    } catch (const std::exception& e) {
      return QString::fromStdString(e.what());
    }
    // Producers create their segments within a second or two; attach each as it appears.
    sources_->setAutoAttach(true);
    dashboards_->openGraspManifest(demo_->manifestPath());
  }
  for (const QString& name : options_.attach) {
    const QString error = sources_->attach(name);
    if (!error.isEmpty()) return error;
  }
  if (options_.camera.kind == CameraSpec::Kind::kRobot) {
    const auto robots = live_->scene().robots();
    const bool found = std::any_of(robots.begin(), robots.end(), [&](const render::RobotInfo& r) {
      return r.segment == options_.camera.segment.toStdString() && r.name == options_.camera.robot.toStdString();
    });
    if (!found) {
      return QString("--camera: no robot '%1' in an attached segment '%2'").arg(options_.camera.robot, options_.camera.segment);
    }
  }
  if (!options_.open.isEmpty()) {
    // Every recording from its start (+ --replay-from), played at --replay-speed (0: held).
    if (options_.replay_speed > 0.0) replay_->setSpeed(options_.replay_speed);
    for (const QString& path : options_.open) {
      if (QString error = openRecording(path); !error.isEmpty()) return error;
    }
    replay_->seek(replay_->start() + static_cast<std::uint64_t>(options_.replay_from_s * 1e9));
    if (options_.replay_speed > 0.0) replay_->play();
  }
  for (const QString& endpoint : options_.connect) {
    if (const QString error = connectRelay(endpoint); !error.isEmpty()) return "--connect: " + error;
  }
  if (options_.attach_all) sources_->refresh();
  robots_->rebuild();
  return {};
}

QString MainWindow::startRecording(const QString& path) {
  // The local segments shown; a relay's or a recording's sources are not segments here (a relay
  // host records its own with fleetscope-shm, or `fleetscope-relay mirror` makes them local).
  QStringList segments;
  for (const auto& source : registry_->sources()) {
    if (source->kind() == "segment") segments << QString::fromStdString(source->name());
  }
  const QString error = recorder_->start(segments, path);
  updateRecordingIndicator();
  if (error.isEmpty()) showMessage(tr("recording %1 segment(s) to %2").arg(segments.size()).arg(path));
  return error;
}

QString MainWindow::stopRecording() {
  const QString summary = recorder_->stop();
  updateRecordingIndicator();
  return summary;
}

void MainWindow::updateRecordingIndicator() {
  const bool on = recorder_->recording();
  record_action_->setText(on ? tr("Stop re&cording") : tr("Start re&cording..."));
  rec_label_->setVisible(on);
  if (!on) return;
  rec_label_->setText(QString("\u25CF REC %1 s  %2 MB")
                          .arg(recorder_->seconds(), 0, 'f', 0)
                          .arg(recorder_->bytes() / 1e6, 0, 'f', 1));
  rec_label_->setToolTip(recorder_->path());
}

QString MainWindow::openRecording(const QString& path) {
  try {
    auto recording = recording::Recording::open(path.toStdString());
    for (const auto& warning : recording->warnings()) showMessage(path + ": " + QString::fromStdString(warning));
    const auto segments = recording->segments();
    if (segments.empty()) return QString("%1: the recording holds no segment").arg(path);
    for (const auto& segment : segments) {
      if (registry_->find(segment)) {
        return QString("%1: a source named '%2' is already attached").arg(path, QString::fromStdString(segment));
      }
    }
    for (const auto& segment : segments) {
      registry_->attach(std::make_unique<recording::RecordingSource>(recording, segment));
      replay_->addSource(segment);
    }
  } catch (const std::exception& e) {  // McapError, or a corrupt layout found on opening
    return QString("%1: %2").arg(path, QString::fromStdString(e.what()));
  }
  timeline_->show();
  sources_->refresh();
  live_->requestFrame();
  return {};
}

QString MainWindow::connectRelay(const QString& endpoint) {
  try {
    relay::ClientOptions o;
    o.endpoint = endpoint.trimmed().toStdString();
    if (!options_.client_key.isEmpty()) {
      o.curve = relay::ClientCurve{relay::read_public_key(options_.relay_key.toStdString()),
                                   relay::read_key_pair(options_.client_key.toStdString())};
    }
    relays_.push_back(std::make_shared<relay::RelayClient>(o));
  } catch (const relay::RelayError& e) {
    return QString::fromStdString(e.what());
  }
  if (!relay_timer_) {
    relay_timer_ = new QTimer(this);
    connect(relay_timer_, &QTimer::timeout, this, &MainWindow::relayTick);
    relay_timer_->start(100);
  }
  relayTick();
  return {};
}

void MainWindow::relayTick() {
  // A relay's segments are known once its snapshot came: attach each (again after a detach) as
  // a source; the 3D scene and the dashboards poll them as they poll local segments.
  bool attached = false;
  for (const auto& client : relays_) {
    client->poll();
    for (const auto& [id, stream] : client->streams()) {
      if (stream.removed || stream.info.name.empty()) continue;
      const std::string name = client->endpoint().source_name(stream.info.name);
      if (registry_->find(name)) continue;
      registry_->attach(std::make_unique<relay::RemoteSource>(client, stream.info.name));
      attached = true;
    }
  }
  if (attached) {
    sources_->refresh();
    live_->requestFrame();
  }
}

void MainWindow::savePanelsAndFinish() {
  try {
    dashboards_->show();
    QStringList files = dashboards_->savePanels(options_.panels_screenshot);
    const QString window_png = QDir(options_.panels_screenshot).filePath("viewer-window.png");
    if (!grab().save(window_png, "PNG")) throw std::runtime_error("cannot write '" + window_png.toStdString() + "'");
    files.prepend(window_png);
    for (const QString& f : files) fprintf(stdout, "%s\n", qPrintable(f));
    fflush(stdout);
    emit screenshotDone(0);
  } catch (const std::exception& e) {
    fprintf(stderr, "fleetscope: %s\n", e.what());
    emit screenshotDone(1);
  }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  // Command-line modes (--demo, --attach-all, screenshots) never change saved settings. A plain
  // run saves the layout, and "attach automatically" only when the user changed it: a run with
  // an --attach list starts with it off and must not overwrite the saved choice.
  if (recorder_->recording()) showMessage(stopRecording());  // the file finished before the window goes
  if (!options_.command_line_mode()) {
    QSettings s;
    s.setValue("window/geometry", saveGeometry());
    s.setValue("window/state", saveState());
    if (sources_->autoAttach() != initial_auto_attach_) s.setValue("sources/autoAttach", sources_->autoAttach());
    s.setValue("sources/keepDeadRobots", sources_->keepDeadRobots());
  }
  event->accept();
}

void MainWindow::showMessage(const QString& text) { statusBar()->showMessage(text, 8000); }

void MainWindow::onWorkerSelected(std::uint32_t worker_id) {
  const auto robots = live_->scene().robots_of_worker(worker_id);
  live_->scene().highlight(robots);
  if (const auto b = live_->scene().bounds_of(robots)) render::frame_keeping_direction(view_->renderer(), *b);
  live_->requestFrame();
  selection_label_->setText(robots.empty() ? QString("worker %1 has no robots in the 3D view").arg(worker_id)
                                           : QString("worker %1: %2 robots highlighted").arg(worker_id).arg(robots.size()));
}

// The same liveness the env-pool panel shows colours the workers' robots.
void MainWindow::updateWorkerHealth() {
  std::map<std::uint32_t, render::WorkerHealth> health;
  for (const auto& w : dashboards_->store().workers()) {
    render::WorkerHealth h = render::WorkerHealth::kLive;
    if (w.state == ipc::WorkerState::kStalled) h = render::WorkerHealth::kStalled;
    if (w.state == ipc::WorkerState::kDead) h = render::WorkerHealth::kDead;
    health.emplace(w.row.worker_id, h);  // the first pool with that id
  }
  live_->scene().set_worker_health(health);
  if (live_->scene().color_mode() == render::ColorMode::kScalar) legend_->setLegend(live_->scene().scalar_legend());
}

void MainWindow::setColorMode(render::ColorMode mode) {
  live_->scene().set_color_mode(mode);
  legend_->setLegend(live_->scene().scalar_legend());
  legend_->setVisible(mode == render::ColorMode::kScalar);
  live_->requestFrame();
}

void MainWindow::onSummary(const render::FrameSummary& s) {
  updateWorkerHealth();
  // Any repaint of this window recomposes the GL view (a full-window pass on software GL):
  // touch the label only when its text changes.
  const QString text = s.frames == 0
      ? QString("idle: nothing changed in the last second | %1 links").arg(live_->scene().instance_count())
      : QString("%1 fps | frame %2 ms | ingest %3 us | dirty %4/frame | latency p50 %5 ms p99 %6 ms | %7 links")
                            .arg(s.fps, 0, 'f', 1)
                            .arg(s.frame_ms_mean, 0, 'f', 1)
                            .arg(s.ingest_us_mean, 0, 'f', 1)
                            .arg(s.dirty_links_per_frame, 0, 'f', 0)
                            .arg(s.latency_ms_p50, 0, 'f', 1)
                            .arg(s.latency_ms_p99, 0, 'f', 1)
                            .arg(live_->scene().instance_count());
  if (text != stats_label_->text()) stats_label_->setText(text);
  ViewerKpiSample sample;
  sample.time_s = (ipc::monotonic_ns() - started_ns_) / 1e9;
  sample.fps = s.fps;
  sample.frame_ms = s.frame_ms_mean;
  sample.ingest_us = s.ingest_us_mean;
  sample.latency_p50_ms = s.latency_ms_p50;
  sample.latency_p99_ms = s.latency_ms_p99;
  sample.cpu_percent = usage_->cpu_percent();
  sample.telemetry_cpu_percent = dashboards_->takeCpuPercent();
  sample.rss_mib = ProcessUsage::rss_bytes() / 1048576.0;
  sample.dirty_links = s.dirty_links_per_frame;
  if (kpi_) {
    const auto telemetry = dashboards_->telemetryTotals();
    kpi_->write(s, live_->scene().instance_count(), sample.cpu_percent, sample.rss_mib,
                {sample.telemetry_cpu_percent, telemetry.received, telemetry.lost},
                {live_->pollsPerSecond(), live_->scene().sources().size()});
  }
  dashboards_->addViewerSample(sample);
}

void MainWindow::onSelection(const std::optional<render::PickResult>& pick) {
  if (!pick) {
    selection_label_->clear();
    live_->scene().highlight({});
    return;
  }
  const auto& p = pick->pose;
  QString text = QString("%1 / %2 / link %3 (%4): position %5 %6 %7, orientation %8 %9 %10 %11")
                     .arg(QString::fromStdString(pick->segment), QString::fromStdString(pick->robot))
                     .arg(pick->link)
                     .arg(QString::fromStdString(pick->link_name))
                     .arg(p.position[0], 0, 'f', 3).arg(p.position[1], 0, 'f', 3).arg(p.position[2], 0, 'f', 3)
                     .arg(p.orientation[0], 0, 'f', 3).arg(p.orientation[1], 0, 'f', 3)
                     .arg(p.orientation[2], 0, 'f', 3).arg(p.orientation[3], 0, 'f', 3);
  // The robot's producer (robot attributes): its environment's episode, and its worker's row
  // selected in the env-pool panel.
  live_->scene().highlight({});
  if (const auto robot = live_->scene().robot(pick->segment, pick->slot); robot && robot->worker) {
    text += QString(" | worker %1").arg(*robot->worker);
    if (robot->environment) text += QString(" env %1").arg(*robot->environment);
    if (robot->scalar) text += QString(": episode return %1").arg(*robot->scalar, 0, 'g', 5);
    if (robot->episode_steps != 0 || robot->episodes != 0) {
      text += QString(", step %1 of episode %2").arg(robot->episode_steps).arg(robot->episodes + 1);
    }
    for (const auto& w : dashboards_->store().workers()) {
      if (w.row.worker_id == *robot->worker) {
        text += QString(", worker steps %1").arg(w.row.steps);
        break;
      }
    }
    dashboards_->envPool()->selectWorker(*robot->worker);
  }
  selection_label_->setText(text);
}

void MainWindow::onFrameDone(std::uint64_t frames) {
  if (options_.screenshot.isEmpty()) return;
  if (frames < static_cast<std::uint64_t>(options_.frames)) {
    live_->requestFrame();  // screenshot mode renders N frames even if nothing moves
    return;
  }
  const QImage image = view_->grabFramebuffer();
  const bool ok = image.save(options_.screenshot, "PNG");
  if (!ok) fprintf(stderr, "fleetscope: cannot write screenshot '%s'\n", qPrintable(options_.screenshot));
  emit screenshotDone(ok ? 0 : 1);
}

}  // namespace fleetscope::app
