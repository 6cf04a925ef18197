// The dashboards against live producer processes, under Xvfb (xcb): values a producer publishes
// appear in the panel models, a SIGKILLed worker turns dead and a silent one stalled, manifests
// good, partial and corrupt, CSV export matches the series, and the demo's panel screenshots
// hold their charts and leave no process or segment behind. The trainer panel's charts against
// in-process writers: log axes, several runs with a legend, wall-clock axes, tooltips, round
// ticks, the tall screenshot, missing tags, the tag filter and group order.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QApplication>
#include <QAreaSeries>
#include <QCategoryAxis>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QMenu>
#include <QProcess>
#include <QScrollArea>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QToolButton>
#include <QToolTip>
#include <QValueAxis>
#include <QtTest>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "chart_axes.h"
#include "chart_view.h"
#include "dashboard_panel.h"
#include "dashboard_window.h"
#include "fleetscope/recording/recorder.hpp"
#include "fleetscope/recording/recording_source.hpp"
#include "demo_children.h"
#include "env_pool_panel.h"
#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "gpu_lanes_widget.h"
#include "grasp_manifest.h"
#include "grasp_panel.h"
#include "job_table_model.h"
#include "support/child_process.hpp"
#include "trainer_panel.h"
#include "worker_table_model.h"

using fleetscope::testing::ChildProcess;
namespace app = fleetscope::app;

namespace {

struct Producer {
  std::unique_ptr<ChildProcess> process;
  std::vector<pid_t> worker_pids;
};

Producer start_producer(const std::string& name) {
  Producer p;
  p.process = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/python3", FLEETSCOPE_TEST_PRODUCER, name});
  const auto ready = p.process->wait_for("ready", std::chrono::seconds(20));
  if (!ready) return {};
  std::istringstream line(ready->substr(ready->find("ready") + 5));
  pid_t pid = 0;
  while (line >> pid) p.worker_pids.push_back(pid);
  return p;
}

QString cell(const QAbstractItemModel* model, int row, int column) {
  return model->data(model->index(row, column)).toString();
}

int row_of_worker(const app::WorkerTableModel* model, unsigned id) {
  for (int r = 0; r < model->rowCount(); ++r) {
    if (model->workers()[static_cast<std::size_t>(r)].row.worker_id == id) return r;
  }
  return -1;
}

// Share of pixels unlike the image's most common colour, and how many colours it has.
std::pair<double, std::size_t> busyness(const QImage& image) {
  std::map<QRgb, std::int64_t> counts;
  for (int y = 0; y < image.height(); y += 2) {
    for (int x = 0; x < image.width(); x += 2) ++counts[image.pixel(x, y)];
  }
  std::int64_t total = 0, top = 0;
  for (const auto& [rgb, n] : counts) {
    total += n;
    top = std::max(top, n);
  }
  return {total ? 1.0 - double(top) / double(total) : 0.0, counts.size()};
}

// A segment with telemetry only, for writing scalars with chosen steps, values and wall times.
std::unique_ptr<fleetscope::SimWriter> scalar_writer(const std::string& name) {
  fleetscope::WriterConfig config;
  config.name = name;
  config.max_robots = 0;
  config.telemetry = fleetscope::ipc::TelemetryCapacities{4096, 64, 4, 4};
  return std::make_unique<fleetscope::SimWriter>(config);
}

constexpr std::uint64_t kWallBase_ns = 1'700'000'000'000'000'000ULL;  // 2023-11-14, whole ms

// Polls and refreshes until what the writers wrote is drawn and laid out.
void settle(app::DashboardWindow& window) {
  for (int i = 0; i < 3; ++i) {
    window.pollNow();
    window.refreshNow();
    QTest::qWait(20);  // the charts lay their new axes and series out
  }
}

void show_trainer(app::DashboardWindow& window) {
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  QVERIFY(window.showPanel(u"trainer"));
  settle(window);
}

QLineSeries* line_named(const app::ChartView* view, const QString& name) {
  for (auto* series : view->chart()->series()) {
    if (series->name() == name) return qobject_cast<QLineSeries*>(series);
  }
  return nullptr;
}

QAbstractAxis* axis_of(const app::ChartView* view, Qt::Orientation orientation) {
  const auto axes = view->chart()->axes(orientation);
  return axes.isEmpty() ? nullptr : axes.first();
}

// The labels of the legend entries shown.
QStringList legend_labels(const app::ChartView* view) {
  QStringList labels;
  for (QLegendMarker* marker : view->chart()->legend()->markers()) {
    if (marker->isVisible()) labels << marker->label();
  }
  labels.sort();
  return labels;
}

// Where point `value` of `series` is in the view's coordinates.
QPoint view_position(const app::ChartView* view, QPointF value, QAbstractSeries* series) {
  const QPointF in_chart = view->chart()->mapToPosition(value, series);
  return view->mapFromScene(view->chart()->mapToScene(in_chart));
}

const char* kGoodManifest = R"({
  "version": 1, "updated_at": 1000.0, "quota": 300,
  "objects": {
    "mug_042": {"collected_count": 150, "completed_rounds": 3, "seeds_used": [11, 12, 13, 14],
                "rounds": [{"name": "r0000", "gpu": 0, "started_at": 900.0, "finished_at": 930.0,
                            "result_path": "rounds/a.npy", "merge_state": "merged"},
                           {"name": "r0001", "gpu": 1, "started_at": 930.0, "finished_at": 960.0,
                            "result_path": null, "merge_state": "failed"},
                           {"name": "r0002", "gpu": 1, "started_at": 990.0, "finished_at": null,
                            "result_path": null, "merge_state": "running"}],
                "failures": [{"round": "r0001", "error": "CUDA out of memory", "retried": true}]},
    "bowl_007": {"target_count": 100, "collected_count": 100, "completed_rounds": 2, "seeds_used": [21, 22],
                 "rounds": []}
  }
})";

// Should a read block on a FIFO without a writer, opens the writing end after a while so that
// the test fails instead of hanging; released() says whether it had to.
class FifoRelease {
 public:
  explicit FifoRelease(const QString& path) : path_(path.toStdString()) {
    thread_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      if (cv_.wait_for(lock, std::chrono::seconds(30), [this] { return done_; })) return;
      const int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) {
        released_ = true;
        ::close(fd);
      }
    });
  }
  ~FifoRelease() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool released() const { return released_; }

 private:
  std::string path_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> released_{false};
  std::thread thread_;
};

}  // namespace

class DashboardsTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    qputenv("PYTHONPATH", FLEETSCOPE_PYTHON_DIR);
  }

  void producerValuesAppearInThePanelModels() {
    const std::string name = fleetscope::testing::unique_name("dash.values");
    auto producer = start_producer(name);
    QVERIFY(producer.process);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);  // the producer said "ready": its segment is there
    app::DashboardWindow window(registry);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_COMPARE_WITH_TIMEOUT(window.trainer()->tileText("rollout/reward_mean"), QString("42.50"), 10000);
    QCOMPARE(window.trainer()->tileText("rollout/episodes_per_s"), QString("12.4"));
    QCOMPARE(window.trainer()->tileText("train/update_time_s"), QString("12.5 ms"));  // 0.0125 s published
    // Its spec scales seconds to ms; tiles without a scale show the value as published.
    for (const auto& tile : app::trainer_tiles()) {
      QCOMPARE(tile.scale, std::string_view(tile.tag) == "train/update_time_s" ? 1000.0 : 1.0);
    }
    QTRY_VERIFY_WITH_TIMEOUT(window.trainer()->chartFor("train/loss_policy") != nullptr, 5000);
    // A chart in view is drawn: its smoothed line holds the published point.
    auto drawn_points = [&](const char* tag) {
      int most = 0;
      for (auto* series : window.trainer()->chartFor(tag)->chart()->series()) {
        if (auto* line = qobject_cast<QLineSeries*>(series)) most = std::max(most, line->count());
      }
      return most;
    };
    QTRY_COMPARE_WITH_TIMEOUT(drawn_points("rollout/reward_mean"), 1, 5000);

    const auto* workers = window.envPool()->model();
    QTRY_COMPARE_WITH_TIMEOUT(workers->rowCount(), 3, 5000);
    const int w1 = row_of_worker(workers, 1);
    QCOMPARE(cell(workers, w1, app::WorkerTableModel::kHost), QString("gpu1"));
    QCOMPARE(cell(workers, w1, app::WorkerTableModel::kPid), QString::number(producer.worker_pids[1]));
    QCOMPARE(cell(workers, w1, app::WorkerTableModel::kExecMean), QString("4.00"));
    QCOMPARE(cell(workers, w1, app::WorkerTableModel::kIpcMean), QString("1.00"));
    // The execution vs IPC chart exports the same timings, in ms, one series per bar.
    const auto timing = window.envPool()->timingChart()->exportData();
    QCOMPARE(timing.size(), std::size_t{2});
    QCOMPARE(timing[0].name, QString("exec_mean_ms"));
    QCOMPARE(timing[1].name, QString("ipc_mean_ms"));
    QCOMPARE(timing[0].points.size(), std::size_t{3});
    for (const QPointF& p : timing[0].points) QVERIFY(qFuzzyCompare(p.y(), 4.0));
    for (const QPointF& p : timing[1].points) QVERIFY(qFuzzyCompare(p.y(), 1.0));

    const auto* jobs = window.grasp()->model();
    QTRY_COMPARE_WITH_TIMEOUT(jobs->rowCount(), 2, 5000);
    int mug = cell(jobs, 0, app::JobTableModel::kObject) == "mug_042" ? 0 : 1;
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kCollected), QString("120"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kTarget), QString("400"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kProgress), QString("30%"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kFailed), QString("1"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kLastSeed), QString("9001"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kState), QString("running"));
    QCOMPARE(cell(jobs, 1 - mug, app::JobTableModel::kState), QString("done"));
    QVERIFY2(window.grasp()->summaryText().contains("320 / 600 grasps"), qPrintable(window.grasp()->summaryText()));
  }

  // One table (dashboard_panels()) gives the tabs, their order and titles, and the screenshot
  // files: each row is a tab, and savePanels writes one <file>.png per row.
  void everyPanelOfTheTableIsATabWithItsScreenshotFile() {
    fleetscope::ipc::SourceRegistry registry;
    app::DashboardWindow window(registry);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const auto panels = app::dashboard_panels();
    QCOMPARE(static_cast<std::size_t>(window.tabs()->count()), panels.size());
    QTemporaryDir dir;
    const QStringList files = window.savePanels(dir.path());
    QCOMPARE(static_cast<std::size_t>(files.size()), panels.size());
    for (std::size_t i = 0; i < panels.size(); ++i) {
      const int index = static_cast<int>(i);
      QCOMPARE(window.tabs()->tabText(index), QString(panels[i].title));
      QCOMPARE(app::dashboard_panel_index(QString(panels[i].id)), index);
      QCOMPARE(files[index], QDir(dir.path()).filePath(QString("%1.png").arg(panels[i].file)));
      QVERIFY2(!QImage(files[index]).isNull(), qPrintable(files[index]));
    }
    QCOMPARE(window.tabs()->widget(app::dashboard_panel_index(u"grasp")), window.grasp());
    QCOMPARE(window.tabs()->widget(app::dashboard_panel_index(u"viewer")), window.viewerKpis());
    QCOMPARE(app::dashboard_panel_index(u"nope"), -1);

    // What the main window asks, by intent: a panel by id, viewer samples, telemetry totals.
    for (const auto& panel : panels) {
      QVERIFY(window.showPanel(panel.id));
      QCOMPARE(window.tabs()->currentIndex(), app::dashboard_panel_index(panel.id));
    }
    QVERIFY(!window.showPanel(u"nope"));
    QVERIFY(window.showPanel(u"envpool"));
    QCOMPARE(window.tabs()->currentWidget(), window.envPool());
    app::ViewerKpiSample sample;
    sample.fps = 30.0;
    window.addViewerSample(sample);
    QCOMPARE(window.viewerKpis()->samples().size(), std::size_t{1});
    QCOMPARE(window.viewerKpis()->samples().back().fps, 30.0);
    const auto totals = window.telemetryTotals();
    QCOMPARE(totals.received, window.store().received_total());
    QCOMPARE(totals.lost, window.store().lost_total());
  }

  // The column tables (header and cell of each) are what the models show, in their enums' order.
  void tableModelsShowTheirColumnTables() {
    app::WorkerView worker;
    worker.source = "pool";
    worker.row.worker_id = 7;
    worker.row.pid = 4321;
    worker.row.host = "gpu2";
    worker.row.steps = 123456;
    worker.state = fleetscope::ipc::WorkerState::kStalled;
    worker.exec_mean_s = 0.004;
    app::WorkerTableModel workers;
    workers.setWorkers({worker});
    QCOMPARE(workers.columnCount(), int{app::WorkerTableModel::kColumnCount});
    QCOMPARE(app::worker_columns().size(), std::size_t{app::WorkerTableModel::kColumnCount});
    for (int c = 0; c < workers.columnCount(); ++c) {
      QCOMPARE(workers.headerData(c, Qt::Horizontal).toString(),
               QString(app::worker_columns()[static_cast<std::size_t>(c)].header));
    }
    QCOMPARE(workers.headerData(app::WorkerTableModel::kHost, Qt::Horizontal).toString(), QString("Host/GPU"));
    QCOMPARE(cell(&workers, 0, app::WorkerTableModel::kHost), QString("gpu2"));
    QCOMPARE(cell(&workers, 0, app::WorkerTableModel::kPid), QString("4321"));
    QCOMPARE(cell(&workers, 0, app::WorkerTableModel::kExecMean), QString("4.00"));
    QCOMPARE(cell(&workers, 0, app::WorkerTableModel::kState), QString("stalled"));
    const QModelIndex state = workers.index(0, app::WorkerTableModel::kState);
    QCOMPARE(state.data(Qt::UserRole).toInt(), static_cast<int>(fleetscope::ipc::WorkerState::kStalled));
    QCOMPARE(state.data(Qt::BackgroundRole).value<QColor>(), app::worker_state_color(worker.state));
    QCOMPARE(workers.index(0, app::WorkerTableModel::kSteps).data(Qt::UserRole).toULongLong(), 123456ULL);
    QCOMPARE(workers.index(0, app::WorkerTableModel::kPid).data(Qt::TextAlignmentRole).toInt(),
             int(Qt::AlignRight | Qt::AlignVCenter));
    QVERIFY(!workers.index(0, app::WorkerTableModel::kHost).data(Qt::TextAlignmentRole).isValid());

    app::JobView job;
    job.row.object_code = "mug_042";
    job.row.target_count = 400;
    job.row.collected_count = 120;
    job.row.gpu = -1;
    app::JobTableModel jobs;
    jobs.setJobs({job});
    QCOMPARE(jobs.columnCount(), int{app::JobTableModel::kColumnCount});
    QCOMPARE(app::job_columns().size(), std::size_t{app::JobTableModel::kColumnCount});
    QCOMPARE(jobs.headerData(app::JobTableModel::kTarget, Qt::Horizontal).toString(), QString("Quota"));
    QCOMPARE(cell(&jobs, 0, app::JobTableModel::kProgress), QString("30%"));
    QCOMPARE(jobs.index(0, app::JobTableModel::kProgress).data(Qt::UserRole).toInt(), 30);  // the bar's value
    QCOMPARE(cell(&jobs, 0, app::JobTableModel::kGpu), QString("–"));
    QCOMPARE(cell(&jobs, 0, app::JobTableModel::kEta), QString("–"));
    QVERIFY(jobs.index(0, app::JobTableModel::kState).data(Qt::BackgroundRole).isValid());

    // Totals: each job counts up to its quota.
    app::GraspState grasp;
    QVERIFY(!grasp.all_done());
    job.row.collected_count = 500;  // over its quota of 400
    grasp.add_job(job);
    QCOMPARE(grasp.target_total, std::uint64_t{400});
    QCOMPARE(grasp.collected_total, std::uint64_t{400});
    QVERIFY(grasp.all_done());
    QCOMPARE(app::remaining_grasps(job.row), std::uint64_t{0});
  }

  void silentWorkerStallsAndKilledWorkerDies() {
    const std::string name = fleetscope::testing::unique_name("dash.kill");
    auto producer = start_producer(name);
    QVERIFY(producer.process);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);  // the producer said "ready": its segment is there
    app::DashboardWindow window(registry);
    const auto* workers = window.envPool()->model();
    QTRY_COMPARE_WITH_TIMEOUT(workers->rowCount(), 3, 5000);
    auto state_of = [&](unsigned id) {
      window.refreshNow();
      return cell(workers, row_of_worker(workers, id), app::WorkerTableModel::kState);
    };
    QCOMPARE(state_of(0), QString("running"));
    // Worker 2 reported once: after the stall threshold (2 s) it is stalled.
    QTRY_COMPARE_WITH_TIMEOUT(state_of(2), QString("stalled"), 6000);
    QCOMPARE(state_of(0), QString("running"));
    // Worker 1's process is killed while its row keeps being refreshed: the viewer sees it gone.
    QCOMPARE(::kill(producer.worker_pids[1], SIGKILL), 0);
    QTRY_COMPARE_WITH_TIMEOUT(state_of(1), QString("dead"), 4000);
    QCOMPARE(state_of(0), QString("running"));
    QVERIFY(window.envPool()->summaryText().contains("1 dead"));
  }

  void lateViewerDrawsTheWholeRunFromTheWritersHistory() {
    // The ring holds 64 records; the run writes 20,000. A store attached afterwards still gets
    // the run from step 0 (downsampled buckets), then the ring's records exactly.
    fleetscope::WriterConfig config;
    config.name = fleetscope::testing::unique_name("dash.late");
    config.max_robots = 0;
    config.telemetry = fleetscope::ipc::TelemetryCapacities{64, 8, 4, 4};
    config.history_buckets = 256;
    fleetscope::SimWriter writer(config);
    const auto tag = writer.telemetry().tag("rollout/ep_return");
    for (int i = 0; i < 20000; ++i) writer.telemetry().scalar(tag, i, 0.01 * i);
    fleetscope::ipc::SourceRegistry registry;
    app::TelemetryStore store(registry);
    QVERIFY(store.attach(config.name));
    store.poll();
    const auto& series = store.series().at({config.name, "rollout/ep_return"});
    QCOMPARE(series.points.back().step, 19999.0);
    QVERIFY2(series.points.front().step < 128.0, qPrintable(QString::number(series.points.front().step)));
    QVERIFY(series.from_history > 100);
    // Bucket means of a straight line lie on it; the ring's 64 records follow the history.
    for (std::size_t i = 0; i < series.points.size(); ++i) {
      QVERIFY(std::abs(series.points[i].value - 0.01 * series.points[i].step) < 0.01 * 128);
      if (i > 0) QVERIFY(series.points[i].step > series.points[i - 1].step);
    }
    QCOMPARE(series.points.size() - series.from_history, std::size_t{64});
  }

  // A recording's telemetry follows the replay: at its end every record, after a move back only
  // what was written up to the new position (the charts end at the cursor).
  void aReplayedRunShowsTheScalarsUpToThePosition() {
    fleetscope::WriterConfig config;
    config.name = fleetscope::testing::unique_name("dash.replay");
    config.max_robots = 0;
    config.telemetry = fleetscope::ipc::TelemetryCapacities{4096, 8, 4, 4};
    QTemporaryDir dir;
    const std::string file = (dir.path() + "/run.mcap").toStdString();
    {
      fleetscope::SimWriter writer(config);
      const auto tag = writer.telemetry().tag("train/loss");
      fleetscope::recording::RecorderOptions options;
      options.segments = {config.name};
      options.output = file;
      fleetscope::recording::Recorder recorder(options);
      for (int step = 0; step < 150; ++step) {  // about 1.5 s, a record every 10 ms
        writer.telemetry().scalar(tag, step, 0.5 * step);
        writer.heartbeat();
        recorder.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      recorder.poll();
      recorder.finish();
    }
    fleetscope::ipc::SourceRegistry registry;
    auto recording = fleetscope::recording::Recording::open(file);
    auto& source = static_cast<fleetscope::recording::RecordingSource&>(
        registry.attach(std::make_unique<fleetscope::recording::RecordingSource>(recording, config.name)));
    app::TelemetryStore store(registry);
    source.seek(source.end_time());
    store.poll();
    const std::pair<std::string, std::string> key{config.name, "train/loss"};
    QCOMPARE(store.series().at(key).points.size(), std::size_t{150});
    QCOMPARE(store.series().at(key).points.back().step, 149.0);
    // Back to a third of the run: the series holds the records up to there, in order, no more.
    source.seek(source.start_time() + (source.end_time() - source.start_time()) / 3);
    store.poll();
    const auto& points = store.series().at(key).points;
    QVERIFY2(points.size() > 20 && points.size() < 100, qPrintable(QString::number(points.size())));
    for (std::size_t i = 0; i < points.size(); ++i) {
      QCOMPARE(points[i].step, static_cast<double>(i));
      QCOMPARE(points[i].value, 0.5 * static_cast<double>(i));
    }
    // And forward again to the end.
    source.seek(source.end_time());
    store.poll();
    QCOMPARE(store.series().at(key).points.size(), std::size_t{150});
  }

  void storeKeepsBoundedHistoryWithNewestPointsExact() {
    fleetscope::WriterConfig config;
    config.name = fleetscope::testing::unique_name("dash.store");
    config.max_robots = 0;
    config.telemetry = fleetscope::ipc::TelemetryCapacities{1024, 8, 4, 4};
    fleetscope::SimWriter writer(config);
    app::TelemetryStore::Options options;
    options.max_points = 100;
    fleetscope::ipc::SourceRegistry registry;
    app::TelemetryStore store(registry, options);
    QVERIFY(store.attach(config.name));
    const auto tag = writer.telemetry().tag("x");
    for (int i = 0; i < 1000; ++i) {
      writer.telemetry().scalar(tag, i, i * 2.0);
      if (i % 50 == 49) store.poll();
    }
    const auto& series = store.series().at({config.name, "x"});
    QCOMPARE(series.received, std::uint64_t{1000});
    QVERIFY(series.points.size() <= 100);
    QCOMPARE(series.points.front().step, 0.0);   // the run's start is kept...
    QCOMPARE(series.points.back().step, 999.0);  // ...and the newest point, exactly
    QCOMPARE(series.points.back().value, 1998.0);
    for (std::size_t i = 1; i < series.points.size(); ++i) QVERIFY(series.points[i].step > series.points[i - 1].step);
    // The newest quarter is at full resolution.
    const std::size_t n = series.points.size();
    for (std::size_t i = n - n / 4; i < n; ++i) QCOMPARE(series.points[i].step - series.points[i - 1].step, 1.0);
    QCOMPARE(store.lost_total(), std::uint64_t{0});
  }

  void manifestGoodPartialAndCorrupt() {
    QTemporaryDir dir;
    const QString path = dir.filePath("manifest.json");
    auto write = [&](const QByteArray& bytes) {
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
      f.write(bytes);
    };
    write(kGoodManifest);
    fleetscope::ipc::SourceRegistry registry;
    app::DashboardWindow window(registry);
    auto* grasp = window.grasp();
    window.openGraspManifest(path);
    QVERIFY(grasp->showingManifest());
    QTRY_VERIFY_WITH_TIMEOUT(!grasp->manifestLoading(), 10000);  // read off the GUI thread
    QVERIFY2(grasp->manifestError().isEmpty(), qPrintable(grasp->manifestError()));
    const auto* jobs = grasp->model();
    QCOMPARE(jobs->rowCount(), 2);
    const int mug = cell(jobs, 0, app::JobTableModel::kObject) == "mug_042" ? 0 : 1;
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kTarget), QString("300"));  // from "quota"
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kCollected), QString("150"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kDone), QString("3"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kFailed), QString("1"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kRetried), QString("1"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kLastSeed), QString("14"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kGpu), QString("1"));
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kState), QString("running"));
    // 150 grasps in 3 rounds of 30 s (the failed round counts as time spent): 150 more need 3 x 30 s.
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kEta), QString("1 min 30 s"));
    QCOMPARE(cell(jobs, 1 - mug, app::JobTableModel::kState), QString("done"));
    QCOMPARE(grasp->lanes()->lanes().size(), std::size_t{0});  // lanes are drawn only on screen
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.showPanel(u"grasp"));
    QCOMPARE(window.tabs()->currentWidget(), grasp);
    QTRY_COMPARE_WITH_TIMEOUT(grasp->lanes()->lanes().size(), std::size_t{3}, 3000);

    // Partly written: the watcher re-reads it, shows why, keeps the last good state.
    write(QByteArray(kGoodManifest).left(200));
    QTRY_VERIFY_WITH_TIMEOUT(grasp->manifestError().contains("not valid JSON"), 5000);
    QCOMPARE(jobs->rowCount(), 2);
    QCOMPARE(cell(jobs, mug, app::JobTableModel::kCollected), QString("150"));
    // Valid JSON, a required field missing: the error names the object and the field.
    QByteArray corrupt(kGoodManifest);
    corrupt.replace("\"collected_count\": 150, ", "");
    write(corrupt);
    QTRY_VERIFY_WITH_TIMEOUT(grasp->manifestError().contains("'mug_042': 'collected_count' is missing"), 5000);
    QCOMPARE(jobs->rowCount(), 2);
    // Replaced by rename, as schedulers do: the new file is read and the error goes.
    QByteArray better(kGoodManifest);
    better.replace("\"collected_count\": 150", "\"collected_count\": 240");
    {
      QFile f(path + ".tmp");
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(better);
    }
    QVERIFY(::rename(qPrintable(path + ".tmp"), qPrintable(path)) == 0);
    QTRY_COMPARE_WITH_TIMEOUT(cell(jobs, mug, app::JobTableModel::kCollected), QString("240"), 5000);
    QVERIFY(grasp->manifestError().isEmpty());
    // A missing file is an error too, not a crash.
    grasp->openManifest(dir.filePath("nothing-here.json"));
    QTRY_VERIFY_WITH_TIMEOUT(grasp->manifestError().contains("cannot read"), 10000);
  }

  // A FIFO (no writer), /dev/zero and a file over the limit: each is refused with a message that
  // says why, and the GUI thread keeps running meanwhile; a valid manifest then still reads.
  void manifestThatIsNotARegularFileOrTooLargeIsRefused() {
    QTemporaryDir dir;
    const QString fifo = dir.filePath("fifo.json");
    QVERIFY(::mkfifo(qPrintable(fifo), 0600) == 0);
    FifoRelease release(fifo);  // only if the panel blocked on it: unblocks it, the test fails
    const QString big = dir.filePath("big.json");
    {
      QFile f(big);
      QVERIFY(f.open(QIODevice::WriteOnly));
      QVERIFY(f.resize(app::kMaxManifestBytes + 1));  // sparse
    }
    fleetscope::ipc::SourceRegistry registry;
    app::DashboardWindow window(registry);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto* grasp = window.grasp();
    const std::pair<QString, QString> cases[] = {
        {fifo, "a FIFO, not a regular file"},
        {"/dev/zero", "a character device, not a regular file"},
        {big, "is over the 16.0 MiB limit"},
        {dir.path(), "a directory, not a regular file"},
    };
    for (const auto& [path, words] : cases) {
      int ticks = 0;
      QTimer timer;
      connect(&timer, &QTimer::timeout, [&ticks] { ++ticks; });
      timer.start(0);
      grasp->openManifest(path);
      QTRY_VERIFY_WITH_TIMEOUT(grasp->manifestError().contains(words), 10000);
      QVERIFY2(ticks > 0, qPrintable(path));
      QVERIFY(grasp->manifestError().contains(path));
      QCOMPARE(grasp->model()->rowCount(), 0);
    }
    QVERIFY(!release.released());
    // A good one after them reads.
    const QString good = dir.filePath("manifest.json");
    {
      QFile f(good);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(kGoodManifest);
    }
    grasp->openManifest(good);
    QTRY_COMPARE_WITH_TIMEOUT(grasp->model()->rowCount(), 2, 10000);
    QVERIFY(grasp->manifestError().isEmpty());
    // The watched file replaced by a FIFO: refused, the last good state stays.
    QVERIFY(::mkfifo(qPrintable(good + ".tmp"), 0600) == 0);
    QVERIFY(::rename(qPrintable(good + ".tmp"), qPrintable(good)) == 0);
    FifoRelease release_swapped(good);
    QTRY_VERIFY_WITH_TIMEOUT(grasp->manifestError().contains("a FIFO"), 10000);
    QVERIFY(grasp->findChild<QLabel*>("manifestError")->text().contains("showing the last good read"));
    QCOMPARE(grasp->model()->rowCount(), 2);
    QVERIFY(!release_swapped.released());
  }

  // A slow read of one manifest, then another opened: the first result is dropped, whatever
  // order the reads end in; the GUI thread runs while the large one is parsed.
  void anOlderReadNeverReplacesANewerOne() {
    QTemporaryDir dir;
    const QString large = dir.filePath("large.json"), small = dir.filePath("small.json");
    {
      // ~10 MiB, under the limit: thousands of objects, each with rounds.
      QByteArray json = R"({"version": 1, "updated_at": 1000.0, "quota": 300, "objects": {)";
      for (int i = 0; i < 12000; ++i) {
        if (i) json += ",";
        json += QString(R"("obj_%1": {"collected_count": 10, "completed_rounds": 1, "seeds_used": [1, 2, 3], "rounds": [)").arg(i).toUtf8();
        for (int r = 0; r < 8; ++r) {
          if (r) json += ",";
          json += R"({"name": "r0000", "gpu": 0, "started_at": 900.0, "finished_at": 930.0, "result_path": "rounds/a.npy", "merge_state": "merged"})";
        }
        json += "]}";
      }
      json += "}}";
      QVERIFY(json.size() < app::kMaxManifestBytes);
      QFile f(large);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(json);
    }
    {
      QFile f(small);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(kGoodManifest);
    }
    fleetscope::ipc::SourceRegistry registry;
    app::DashboardWindow window(registry);
    auto* grasp = window.grasp();
    int ticks = 0;
    QTimer timer;
    connect(&timer, &QTimer::timeout, [&ticks] { ++ticks; });
    timer.start(0);
    grasp->openManifest(large);
    QTRY_VERIFY_WITH_TIMEOUT(!grasp->manifestLoading(), 60000);
    QCOMPARE(grasp->model()->rowCount(), 12000);
    QVERIFY(ticks > 0);
    // Large again, then small at once: small is what stays.
    grasp->openManifest(large);
    grasp->openManifest(small);
    QTRY_VERIFY_WITH_TIMEOUT(!grasp->manifestLoading(), 60000);
    QCOMPARE(grasp->model()->rowCount(), 2);
    QVERIFY(grasp->manifestError().isEmpty());
    // The same file rewritten while it is read: the newer content is read after and stays.
    {
      QFile f(small);
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
      QFile l(large);
      QVERIFY(l.open(QIODevice::ReadOnly));
      f.write(l.readAll());
    }
    grasp->reloadManifest();
    {
      QFile f(small);
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
      f.write(kGoodManifest);
    }
    grasp->reloadManifest();
    QTRY_VERIFY_WITH_TIMEOUT(!grasp->manifestLoading(), 60000);
    QCOMPARE(grasp->model()->rowCount(), 2);
  }

  // `--grasp-manifest /dev/zero` (or a FIFO) exits 1 with a message, as a missing file does.
  void theViewerExitsOneForAManifestThatIsNotARegularFile() {
    QTemporaryDir dir;
    const QString fifo = dir.filePath("fifo.json");
    QVERIFY(::mkfifo(qPrintable(fifo), 0600) == 0);
    FifoRelease release(fifo);
    for (const QString& path : {QString("/dev/zero"), fifo}) {
      QProcess viewer;
      viewer.start(FLEETSCOPE_VIEWER, {"--grasp-manifest", path, "--no-dashboards"});
      QVERIFY(viewer.waitForStarted(10000));
      QVERIFY2(viewer.waitForFinished(60000), qPrintable(path));
      QCOMPARE(viewer.exitStatus(), QProcess::NormalExit);
      QCOMPARE(viewer.exitCode(), 1);
      const QString err = QString::fromLocal8Bit(viewer.readAllStandardError());
      QVERIFY2(err.contains(path) && err.contains("not a regular file"), qPrintable(err));
    }
    QVERIFY(!release.released());
  }

  void csvExportMatchesTheSeries() {
    const std::string name = fleetscope::testing::unique_name("dash.csv");
    auto producer = start_producer(name);
    QVERIFY(producer.process);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);  // the producer said "ready": its segment is there
    app::DashboardWindow window(registry);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_VERIFY_WITH_TIMEOUT(window.trainer()->chartFor("train/loss_policy") != nullptr, 10000);
    QTemporaryDir dir;
    const QString path = dir.filePath("loss.csv");
    QCOMPARE(window.trainer()->chartFor("train/loss_policy")->writeCsv(path), QString());
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 6);
    QCOMPARE(lines[0], QString("series,step,value"));
    const QString series = QString::fromStdString(name) + ":train/loss_policy";
    const double expected[] = {0.5, 0.4, 0.3, 0.2, 0.1};
    for (int i = 0; i < 5; ++i) {
      const QStringList fields = lines[i + 1].split(',');
      QCOMPARE(fields.size(), 3);
      QCOMPARE(fields[0], series);
      QCOMPARE(fields[1].toDouble(), 100.0 * (i + 1));
      QCOMPARE(fields[2].toDouble(), expected[i]);  // full precision, exactly the published value
    }
    // The stacked time chart exports its four parts.
    const auto parts = window.trainer()->breakdownChart()->exportData();
    QCOMPARE(parts.size(), std::size_t{4});
    QCOMPARE(parts[1].points.size(), std::size_t{3});
    QCOMPARE(parts[1].points[0].y(), 0.2);
    // Smoothing as TensorBoard does it: the first value is kept, then a debiased EMA.
    const auto smoothed = app::smooth_values({1.0, 3.0}, 0.5);
    QCOMPARE(smoothed[0], 1.0);
    QCOMPARE(smoothed[1], (0.5 * 0.5 + 0.5 * 3.0) / 0.75);
  }

  // Round ticks: 1, 2, 2.5, 5 x 10^k, labels that tell the ticks apart, decades, round times.
  void niceNumbers() {
    const auto range = app::nice_range(0.0, 412.0, 5);
    QCOMPARE(range.lo, 0.0);
    QCOMPARE(range.hi, 500.0);
    QCOMPARE(range.step, 100.0);
    QCOMPARE(app::nice_step(1.0, 4), 0.25);
    QCOMPARE(app::nice_step(0.0055, 5), 0.002);
    QCOMPARE(app::nice_step(137.5, 5), 50.0);
    const auto small = app::nice_range(0.00112, 0.00138, 5);
    QVERIFY(small.lo <= 0.00112 && small.hi >= 0.00138);
    QCOMPARE(app::tick_label_format(100.0, 500.0), QString("%.0f"));
    QCOMPARE(app::tick_label_format(0.25, 1.0), QString("%.2f"));
    QCOMPARE(app::tick_label_format(2.5, 10.0), QString("%.1f"));
    QCOMPARE(app::tick_label_format(250000.0, 1250000.0), QString("%.2e"));
    QCOMPARE(app::tick_label_format(1e-9, 5e-9), QString("%.0e"));
    const auto [d0, d1] = app::decade_range(3e-9, 0.7);
    QCOMPARE(d0, 1e-9);
    QCOMPARE(d1, 1.0);
    QCOMPARE(app::nice_time_step(3600.0, 5), 900.0);
    QCOMPARE(app::nice_time_step(40.0, 5), 10.0);
    QCOMPARE(app::ticks_within(3.0, 412.0, 100.0), (std::vector<double>{100.0, 200.0, 300.0, 400.0}));
    QCOMPARE(app::duration_label(150.0), QString("2m30s"));
    QCOMPARE(app::duration_label(5400.0), QString("1h30m"));
    QCOMPARE(app::duration_label(0.0), QString("0s"));
    QCOMPARE(app::exact_number(0.1), QString("0.1"));
    QCOMPARE(app::exact_number(412.0), QString("412"));
    QCOMPARE(app::exact_number(1e-9), QString("1e-09"));
  }

  // approx_kl from 1 down to 1e-9 on a log axis: the axis is a QLogValueAxis from 1e-9 to 1; the
  // zero and negative values are not drawn and the title says so.
  void logAxisSpansDecades() {
    const std::string name = fleetscope::testing::unique_name("dash.log");
    auto writer = scalar_writer(name);
    const auto tag = writer->telemetry().tag("train/approx_kl");
    for (int i = 0; i <= 9; ++i) writer->telemetry().scalar(tag, i, std::pow(10.0, -i));
    writer->telemetry().scalar(tag, 10, 0.0);
    writer->telemetry().scalar(tag, 11, -1e-3);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::TrainerPanel* panel = window.trainer();
    app::ChartView* view = panel->chartFor("train/approx_kl");
    QVERIFY(view);
    QVERIFY(qobject_cast<QValueAxis*>(axis_of(view, Qt::Vertical)));
    panel->setLogScale("train/approx_kl", true);
    settle(window);
    QVERIFY(panel->logScale("train/approx_kl"));
    auto* y = qobject_cast<QLogValueAxis*>(axis_of(view, Qt::Vertical));
    QVERIFY(y);
    QVERIFY2(y->min() <= 1e-9 && y->min() > 1e-10 && y->max() >= 1.0 && y->max() < 10.0 + 1e-9,
             qPrintable(QString("%1 .. %2").arg(y->min()).arg(y->max())));
    auto* raw = line_named(view, QString::fromStdString(name) + " (raw)");
    QVERIFY(raw);
    QCOMPARE(raw->count(), 10);  // 1 .. 1e-9; the 0 and the negative value are not drawn
    for (const QPointF& p : raw->points()) QVERIFY(p.y() > 0);
    QVERIFY2(view->chart()->title().contains("values ≤ 0 not drawn"), qPrintable(view->chart()->title()));
    view->grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-log-axis.png");
    // And back: linear, the note gone.
    panel->setLogScale("train/approx_kl", false);
    settle(window);
    QVERIFY(qobject_cast<QValueAxis*>(axis_of(view, Qt::Vertical)));
    QCOMPARE(view->chart()->title(), QString("train/approx_kl"));
  }

  // Two segments writing the same tag: two runs on one chart, named after their segments, with a
  // legend; hiding a run (the panel, its Runs menu or a click on its legend entry) hides its lines.
  void severalRunsShareAChartWithALegend() {
    const std::string a = fleetscope::testing::unique_name("dash.run-a"), b = fleetscope::testing::unique_name("dash.run-b");
    auto wa = scalar_writer(a), wb = scalar_writer(b);
    for (int i = 0; i < 20; ++i) {
      wa->telemetry().scalar("train/loss_value", i * 10, 5.0 - i * 0.1);
      wb->telemetry().scalar("train/loss_value", i * 10, 4.0 - i * 0.05);
    }
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(a);
    registry.attach(b);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::TrainerPanel* panel = window.trainer();
    app::ChartView* view = panel->chartFor("train/loss_value");
    QVERIFY(view);
    const QString na = QString::fromStdString(a), nb = QString::fromStdString(b);
    QVERIFY(line_named(view, na) && line_named(view, nb));
    QCOMPARE(line_named(view, na)->count(), 20);
    QVERIFY(view->chart()->legend()->isVisible());
    QCOMPARE(legend_labels(view), (QStringList{na, nb}));  // one entry per run, no "(raw)" ones
    QVERIFY(panel->runs().contains(na) && panel->runs().contains(nb));
    view->grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-two-runs.png");

    panel->setRunVisible(na, false);
    QVERIFY(!panel->runVisible(na));
    QVERIFY(!line_named(view, na)->isVisible());
    QVERIFY(!line_named(view, na + " (raw)")->isVisible());
    QVERIFY(line_named(view, nb)->isVisible());
    QCOMPARE(legend_labels(view), (QStringList{na, nb}));  // its entry stays, greyed, to turn it back on
    auto* action = panel->findChild<QAction*>("run:" + na);
    QVERIFY(action);
    QVERIFY(!action->isChecked());
    // A click on the legend entry turns it back on.
    QLegendMarker* marker = nullptr;
    for (QLegendMarker* m : view->chart()->legend()->markers()) {
      if (m->label() == na) marker = m;
    }
    QVERIFY(marker);
    emit marker->clicked();
    QVERIFY(panel->runVisible(na));
    QVERIFY(line_named(view, na)->isVisible());
    QVERIFY(action->isChecked());
    // The Runs menu's entry hides it too.
    action->setChecked(false);
    QVERIFY(!panel->runVisible(na));
    QVERIFY(!line_named(view, na)->isVisible());
  }

  // The x axis follows the panel's choice: steps, the writers' wall time (x = the written wall
  // time in seconds), time since the run's first record; the x range ends at the last point.
  void xAxisModesUseTheWrittenWallTimes() {
    const std::string name = fleetscope::testing::unique_name("dash.wall");
    auto writer = scalar_writer(name);
    const auto tag = writer->telemetry().tag("rollout/reward_mean");
    const std::uint64_t walls[] = {kWallBase_ns, kWallBase_ns + 1'500'000'000ULL, kWallBase_ns + 3'000'000'000ULL,
                                   kWallBase_ns + 95'250'000'000ULL};
    for (int i = 0; i < 4; ++i) writer->telemetry().scalar(tag, 10 * (i + 1), 1.0 + i, walls[i]);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::TrainerPanel* panel = window.trainer();
    app::ChartView* view = panel->chartFor("rollout/reward_mean");
    QVERIFY(view);
    // The store keeps the writer's wall time of each record.
    const auto& points = window.store().series().at({name, "rollout/reward_mean"}).points;
    QCOMPARE(points.size(), std::size_t{4});
    for (int i = 0; i < 4; ++i) QCOMPARE(points[static_cast<std::size_t>(i)].wall_ns, walls[i]);
    const QString raw_name = QString::fromStdString(name) + " (raw)";
    auto xs = [&] {
      std::vector<double> out;
      for (const QPointF& p : line_named(view, raw_name)->points()) out.push_back(p.x());
      return out;
    };
    QCOMPARE(xs(), (std::vector<double>{10, 20, 30, 40}));
    auto* step_axis = qobject_cast<QValueAxis*>(axis_of(view, Qt::Horizontal));
    QVERIFY(step_axis);
    QCOMPARE(step_axis->min(), 10.0);
    QCOMPARE(step_axis->max(), 40.0);  // no empty width after the last point

    panel->setXAxisMode(app::XAxisMode::kWallTime);
    settle(window);
    QCOMPARE(window.trainer()->findChild<QComboBox*>("xAxisMode")->currentIndex(), 1);
    const auto wall_xs = xs();
    QCOMPARE(wall_xs.size(), std::size_t{4});
    for (int i = 0; i < 4; ++i) QCOMPARE(wall_xs[static_cast<std::size_t>(i)], static_cast<double>(walls[i]) / 1e9);
    auto* wall_axis = qobject_cast<QCategoryAxis*>(axis_of(view, Qt::Horizontal));
    QVERIFY(wall_axis);
    QCOMPARE(wall_axis->min(), static_cast<double>(walls[0]) / 1e9);
    QCOMPARE(wall_axis->max(), static_cast<double>(walls[3]) / 1e9);
    // Ticks on round times (95 s: every 30 s), labelled hh:mm:ss.
    const QStringList labels = wall_axis->categoriesLabels();
    QVERIFY2(labels.size() >= 3, qPrintable(labels.join(' ')));
    for (const QString& label : labels) {
      const double t = wall_axis->endValue(label);
      QCOMPARE(std::fmod(t, 30.0), 0.0);
      QCOMPARE(label, QDateTime::fromSecsSinceEpoch(static_cast<qint64>(t)).toString("hh:mm:ss"));
    }
    view->grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-wall-time.png");

    panel->setXAxisMode(app::XAxisMode::kRelativeTime);
    settle(window);
    QCOMPARE(xs(), (std::vector<double>{0.0, 1.5, 3.0, 95.25}));
    QVERIFY(qobject_cast<QCategoryAxis*>(axis_of(view, Qt::Horizontal))->categoriesLabels().contains("1m30s"));
    view->grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-relative-time.png");

    panel->setXAxisMode(app::XAxisMode::kStep);
    settle(window);
    QCOMPARE(xs(), (std::vector<double>{10, 20, 30, 40}));
  }

  // Hovering names the nearest point's run, exact step and value (the full series', not the
  // thinned line's) and its wall time; far from every point there is no tooltip. Zoom and reset.
  void tooltipNamesTheExactPointAndZoomResets() {
    const std::string name = fleetscope::testing::unique_name("dash.tip");
    auto writer = scalar_writer(name);
    const auto tag = writer->telemetry().tag("train/entropy");
    for (int i = 0; i < 50; ++i) {
      writer->telemetry().scalar(tag, 100 * i, i == 30 ? 0.123456789012345 : 0.9 + 0.001 * i,
                                 kWallBase_ns + static_cast<std::uint64_t>(i) * 1'000'000'000ULL);
    }
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::ChartView* view = window.trainer()->chartFor("train/entropy");
    QVERIFY(view);
    auto* raw = line_named(view, QString::fromStdString(name) + " (raw)");
    QVERIFY(raw);
    const QPoint at = view_position(view, {3000.0, 0.123456789012345}, raw);
    const QString text = view->tooltipText(at + QPoint(2, -1));
    QVERIFY2(text.contains("step 3000") && text.contains("value 0.123456789012345") &&
                 text.contains(QString::fromStdString(name)) && text.contains("30s since start"),
             qPrintable(text));
    QVERIFY2(text.contains(QDateTime::fromSecsSinceEpoch(1'700'000'030).toString("yyyy-MM-dd hh:mm:ss")), qPrintable(text));
    // The mouse shows the same text in a tooltip.
    QTest::mouseMove(view->viewport(), at);
    QTRY_VERIFY_WITH_TIMEOUT(QToolTip::isVisible() && QToolTip::text().contains("step 3000"), 3000);
    // Far from every point (the line lies near 0.9, the one low value far to the right): nothing.
    const QPoint empty = view_position(view, {1500.0, 0.5}, raw);
    QVERIFY2(view->tooltipText(empty).isEmpty(), qPrintable(view->tooltipText(empty)));

    // Zoom to the middle: the axes keep the zoom through refreshes; a reset fits the data again.
    auto* x = qobject_cast<QValueAxis*>(axis_of(view, Qt::Horizontal));
    const QPoint from = view_position(view, {1000.0, 0.95}, raw), to = view_position(view, {2000.0, 0.85}, raw);
    view->zoomToRect(QRect(from, to).normalized());
    QVERIFY(view->isZoomed());
    QVERIFY2(x->min() > 900 && x->max() < 2100, qPrintable(QString("%1 .. %2").arg(x->min()).arg(x->max())));
    writer->telemetry().scalar(tag, 5000, 0.95, kWallBase_ns + 60'000'000'000ULL);
    settle(window);
    QVERIFY(x->max() < 2100);
    view->resetZoom();
    settle(window);
    QVERIFY(!view->isZoomed());
    QCOMPARE(x->min(), 0.0);
    QCOMPARE(x->max(), 5000.0);

    // With the mouse: drag a rectangle to zoom, double click to reset, middle drag to pan.
    QWidget* viewport = view->viewport();
    const QPoint a = view_position(view, {1000.0, 0.95}, raw), b = view_position(view, {2000.0, 0.85}, raw);
    QTest::mousePress(viewport, Qt::LeftButton, {}, a);
    QTest::mouseMove(viewport, b);
    QTest::mouseRelease(viewport, Qt::LeftButton, {}, b);
    QVERIFY(view->isZoomed());
    QVERIFY2(x->min() > 900 && x->max() < 2100, qPrintable(QString("%1 .. %2").arg(x->min()).arg(x->max())));
    QTest::mouseDClick(viewport, Qt::LeftButton, {}, a);
    QVERIFY(!view->isZoomed());
    QCOMPARE(x->max(), 5000.0);
    QTest::mousePress(viewport, Qt::MiddleButton, {}, a);
    QTest::mouseMove(viewport, a + QPoint(60, 0));
    QTest::mouseRelease(viewport, Qt::MiddleButton, {}, a + QPoint(60, 0));
    QVERIFY(view->isZoomed());
    QVERIFY2(x->min() < -100 && x->max() < 4900, qPrintable(QString("%1 .. %2").arg(x->min()).arg(x->max())));
  }

  // Data 0..412: the y axis is 0..500 with ticks every 100 ("%.0f"), the x axis ends at 412.
  void axesHaveRoundTicksAndFitTheData() {
    const std::string name = fleetscope::testing::unique_name("dash.ticks");
    auto writer = scalar_writer(name);
    const auto tag = writer->telemetry().tag("rollout/episode_length_mean");
    for (int i = 0; i <= 412; ++i) writer->telemetry().scalar(tag, i, i);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::ChartView* view = window.trainer()->chartFor("rollout/episode_length_mean");
    QVERIFY(view);
    auto* y = qobject_cast<QValueAxis*>(axis_of(view, Qt::Vertical));
    auto* x = qobject_cast<QValueAxis*>(axis_of(view, Qt::Horizontal));
    QVERIFY(x && y);
    QCOMPARE(y->min(), 0.0);
    QVERIFY2(y->max() == 500.0 || y->max() == 450.0, qPrintable(QString::number(y->max())));
    QCOMPARE(y->tickType(), QValueAxis::TicksDynamic);
    QCOMPARE(y->tickAnchor(), 0.0);
    QVERIFY(y->tickInterval() == 100.0 || y->tickInterval() == 50.0);
    QCOMPARE(y->labelFormat(), QString("%.0f"));
    QCOMPARE(x->min(), 0.0);
    QCOMPARE(x->max(), 412.0);
    QCOMPARE(x->tickInterval(), 100.0);
    view->grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-round-ticks.png");
  }

  // The trainer's screenshot holds every chart: one image as tall as the scroll area's content,
  // taller with more charts, the last chart drawn (not blank).
  void tallTrainerScreenshotHoldsEveryChart() {
    const std::string name = fleetscope::testing::unique_name("dash.tall");
    auto writer = scalar_writer(name);
    auto publish = [&](int first, int count) {
      for (int t = first; t < first + count; ++t) {
        const std::string tag = (t % 3 == 0 ? "train/m" : t % 3 == 1 ? "rollout/m" : "eval/m") + std::to_string(t);
        for (int i = 0; i < 30; ++i) writer->telemetry().scalar(tag, i, std::sin(i * 0.3 + t));
      }
    };
    publish(0, 4);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    QTemporaryDir dir;
    const QString trainer_png = QDir(dir.path()).filePath("trainer.png");
    QVERIFY(window.savePanels(dir.path()).contains(trainer_png));
    const int short_height = QImage(trainer_png).height();
    publish(4, 20);
    settle(window);
    app::TrainerPanel* panel = window.trainer();
    QCOMPARE(panel->chartCount(), 24);
    const QStringList files = window.savePanels(dir.path());
    QVERIFY(files.contains(trainer_png));
    QVERIFY(!files.contains(QDir(dir.path()).filePath("trainer-2.png")));
    const QImage tall(trainer_png);
    QVERIFY(!tall.isNull());
    // 12 rows of two charts, each at least 200 px: far taller than the window and than 4 charts.
    QVERIFY2(tall.height() > short_height + 8 * 200 && tall.height() > window.height() + 1000,
             qPrintable(QString("%1 then %2 px, window %3").arg(short_height).arg(tall.height()).arg(window.height())));
    tall.save(QString(FLEETSCOPE_TEST_OUTPUT) + "/trainer-tall.png");
    // The lowest chart, where it lies in the image: the head above the scroll area, then the content.
    auto* scroll = panel->findChild<QScrollArea*>();
    QVERIFY(scroll);
    const int head = scroll->viewport()->mapTo(panel, QPoint(0, 0)).y();
    app::ChartView* last = nullptr;
    int last_y = -1;
    for (auto* view : panel->findChildren<app::ChartView*>()) {
      if (!view->isVisibleTo(panel)) continue;
      const int y = view->mapTo(scroll->widget(), QPoint(0, 0)).y();
      if (y > last_y) last_y = y, last = view;
    }
    QVERIFY(last);
    QVERIFY(last_y + last->height() > scroll->viewport()->height());  // below the fold on screen
    const QPoint at = last->mapTo(scroll->widget(), QPoint(0, 0)) + QPoint(scroll->viewport()->mapTo(panel, QPoint(0, 0)).x(), head);
    const QImage chart_pixels = tall.copy(QRect(at, last->size()));
    const auto [busy, colours] = busyness(chart_pixels);
    QVERIFY2(busy > 0.02 && colours > 5, qPrintable(QString("the last chart looks blank: %1, %2 colours").arg(busy).arg(colours)));
    // Its line was drawn: it holds the written points.
    auto* line = line_named(last, QString::fromStdString(name));
    QVERIFY(line);
    QCOMPARE(line->count(), 30);
  }

  // The panel names the tile and breakdown tags nobody publishes; tiles and the breakdown show
  // only for published tags, and any subset of the breakdown's parts draws.
  void missingTagsAreNamedAndTheirTilesHidden() {
    const std::string name = fleetscope::testing::unique_name("dash.missing");
    auto writer = scalar_writer(name);
    writer->telemetry().scalar("rollout/reward_mean", 1, 3.5);
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::TrainerPanel* panel = window.trainer();
    QString text = panel->missingTagsText();
    QVERIFY2(text.contains("rollout/episodes_per_s") && text.contains("system/cpu_util_pct") &&
                 text.contains("train/update_time_s") && text.contains("time/env_s") && text.contains("time/waiting_s"),
             qPrintable(text));
    QVERIFY(!text.contains("rollout/reward_mean"));
    QVERIFY(panel->findChild<QLabel*>("missingTags")->isVisible());
    QCOMPARE(panel->tileText("rollout/reward_mean"), QString("3.50"));
    QVERIFY(panel->findChild<QLabel*>("tile:rollout/reward_mean")->isVisible());
    QVERIFY(!panel->findChild<QLabel*>("tile:rollout/episodes_per_s")->isVisible());
    QVERIFY(!panel->breakdownChart()->isVisible());  // none of its tags: no empty chart

    // Two of the four breakdown parts: it draws them.
    writer->telemetry().scalars(writer->telemetry().tag("time/env_s"), std::vector<std::int64_t>{1, 2},
                                std::vector<double>{0.5, 0.6});
    writer->telemetry().scalars(writer->telemetry().tag("time/waiting_s"), std::vector<std::int64_t>{1, 2},
                                std::vector<double>{0.1, 0.2});
    settle(window);
    QVERIFY(panel->breakdownChart()->isVisible());
    const auto areas = panel->breakdownChart()->chart()->series();
    QCOMPARE(areas.size(), 2);
    auto* top = qobject_cast<QAreaSeries*>(areas[1]);
    QVERIFY(top);
    QCOMPARE(top->upperSeries()->points().back().y(), 0.6 + 0.2);
    text = panel->missingTagsText();
    QVERIFY2(!text.contains("time/env_s") && text.contains("time/update_s") && text.contains("time/logging_s"),
             qPrintable(text));
  }

  // Groups with the most tags come first; the filter shows the charts whose tag matches.
  void tagFilterAndGroupOrder() {
    const std::string name = fleetscope::testing::unique_name("dash.filter");
    auto writer = scalar_writer(name);
    for (const char* tag : {"system/cpu", "rollout/reward", "rollout/length", "train/loss_policy", "train/loss_value",
                            "train/entropy"}) {
      writer->telemetry().scalar(tag, 1, 1.0);
    }
    fleetscope::ipc::SourceRegistry registry;
    registry.attach(name);
    app::DashboardWindow window(registry);
    show_trainer(window);
    app::TrainerPanel* panel = window.trainer();
    QCOMPARE(panel->groupOrder(), (QStringList{"train", "rollout", "system"}));
    // On screen too: train's box above rollout's above system's.
    auto box_y = [&](const char* group) { return panel->findChild<QWidget*>(QString("group:%1").arg(group))->y(); };
    QVERIFY(box_y("train") < box_y("rollout") && box_y("rollout") < box_y("system"));
    panel->setTagFilter("loss");
    QVERIFY(panel->chartFor("train/loss_policy")->isVisibleTo(panel));
    QVERIFY(!panel->chartFor("train/entropy")->isVisibleTo(panel));
    QVERIFY(!panel->findChild<QWidget*>("group:rollout")->isVisibleTo(panel));
    panel->setTagFilter("^(rollout|system)/");  // a regular expression
    QVERIFY(panel->chartFor("rollout/length")->isVisibleTo(panel));
    QVERIFY(panel->chartFor("system/cpu")->isVisibleTo(panel));
    QVERIFY(!panel->chartFor("train/loss_value")->isVisibleTo(panel));
    panel->setTagFilter("loss_v(");  // not a valid one: a substring
    QVERIFY(!panel->chartFor("train/loss_value")->isVisibleTo(panel));
    panel->setTagFilter("LOSS_VALUE");
    QVERIFY(panel->chartFor("train/loss_value")->isVisibleTo(panel));
    QVERIFY(!panel->chartFor("train/loss_policy")->isVisibleTo(panel));
    panel->setTagFilter("");
    for (const char* tag : {"system/cpu", "rollout/reward", "train/entropy"}) QVERIFY(panel->chartFor(tag)->isVisibleTo(panel));
  }

  void demoPanelScreenshotsHoldChartsAndLeaveNothingBehind() {
    QTemporaryDir dir;
    ChildProcess viewer({FLEETSCOPE_VIEWER, "--demo", "--panels-screenshot", dir.path().toStdString(),
                         "--screenshot-after", "14"});
    const auto status = viewer.wait_for_exit(std::chrono::seconds(90));
    QVERIFY2(status, "the demo did not finish");
    QVERIFY(WIFEXITED(*status));
    QCOMPARE(WEXITSTATUS(*status), 0);
    for (const char* panel : {"trainer", "env_pool", "grasp_jobs", "viewer"}) {
      const QImage image(dir.filePath(QString("%1.png").arg(panel)));
      QVERIFY2(!image.isNull(), panel);
      const auto [busy, colours] = busyness(image);
      QVERIFY2(busy > 0.15 && colours > 40,
               qPrintable(QString("%1 looks blank: %2 of pixels off the background, %3 colours")
                              .arg(panel).arg(busy).arg(colours)));
      image.save(QString(FLEETSCOPE_TEST_OUTPUT) + "/panel-" + panel + ".png");
    }
    // The children stopped and closed their segments (the env pool's workers' too).
    std::set<std::string> names;
    for (const auto& n : fleetscope::ipc::list_segment_names()) names.insert(n);
    QVERIFY(app::DemoChildren::segmentNames().contains("envpool.w7"));
    for (const QString& child : app::DemoChildren::segmentNames()) {
      QVERIFY2(!names.count(child.toStdString()), qPrintable(child));
    }
  }
};

QTEST_MAIN(DashboardsTest)
#include "dashboards_test.moc"
