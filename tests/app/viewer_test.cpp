// The viewer against real simulation processes, under Xvfb (xcb). Checks model data and real
// frames, not just that calls return.
#include <signal.h>

#include <QApplication>
#include <QImage>
#include <QComboBox>
#include <QLabel>
#include <QSlider>
#include <QPushButton>
#include <QStatusBar>
#include <QTabWidget>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>
#include <chrono>
#include <spdlog/spdlog.h>
#include <thread>
#include <vtkRenderer.h>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/recording/recorder.hpp"
#include "fleetscope/recording/recording_source.hpp"
#include "dashboard_window.h"
#include "env_pool_panel.h"
#include "worker_table_model.h"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "grasp_panel.h"
#include "live_scene.h"
#include "main_window.h"
#include "replay_controller.h"
#include "timeline_bar.h"
#include "robots_dock.h"
#include "sources_dock.h"
#include "sources_model.h"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"
#include "vtk_host_widget.h"

using fleetscope::testing::ChildProcess;
namespace app = fleetscope::app;

namespace {

std::unique_ptr<ChildProcess> start_sim(const std::string& name, int robots) {
  auto sim = std::make_unique<ChildProcess>(std::vector<std::string>{
      FLEETSCOPE_SIM, "--name", name, "--robots", std::to_string(robots), "--rate", "60"});
  // The first statistics line comes after a second of publishing.
  if (!sim->wait_for("fleetscope-sim: segment", std::chrono::seconds(20))) return nullptr;
  return sim;
}

// Share of pixels that are clearly robot-coloured (saturated), not background or floor greys.
double coloured_share(const QImage& image) {
  std::int64_t coloured = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      if (c.hsvSaturation() > 110 && c.value() > 80) ++coloured;
    }
  }
  return double(coloured) / (double(image.width()) * image.height());
}

QString cell(const QTableView* table, int row, int column) {
  return table->model()->index(row, column).data().toString();
}

struct Viewer {
  std::vector<std::string> attach;
  app::AppOptions options() const {
    app::AppOptions o;
    for (const auto& a : attach) o.attach << QString::fromStdString(a);
    return o;
  }
};

}  // namespace

class ViewerTest : public QObject {
  Q_OBJECT

 private slots:
  void attachShowsRobotsRendersAndDetaches() {
    const std::string name = fleetscope::testing::unique_name("app.attach");
    auto sim = start_sim(name, 12);
    QVERIFY(sim);
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.resize(1200, 760);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 12, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->framesRendered() > 5, 10000);
    QCOMPARE(window.view()->lastFramebufferStatus(), 0x8CD5u);  // GL_FRAMEBUFFER_COMPLETE
    const QImage frame = window.view()->grabFramebuffer();
    QVERIFY2(coloured_share(frame) > 0.002, "no robots in the rendered frame");
    window.grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/viewer-window.png");

    // Detach through the Sources dock.
    auto* table = window.sourcesDock()->findChild<QTableView*>("sourcesTable");
    QVERIFY(table);
    window.sourcesDock()->refresh();
    int row = -1;
    for (int r = 0; r < table->model()->rowCount(); ++r) {
      if (cell(table, r, 0) == QString::fromStdString(name)) row = r;
    }
    QVERIFY(row >= 0);
    table->selectRow(row);
    QPushButton* detach = nullptr;
    for (auto* b : window.sourcesDock()->findChildren<QPushButton*>()) {
      if (b->text() == "Detach") detach = b;
    }
    QVERIFY(detach);
    detach->click();
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 0, 5000);
    QVERIFY(window.live()->scene().sources().empty());
    // Detaching never touches the writer's segment.
    QVERIFY(fleetscope::ipc::SegmentReader::open(name).writer_status().state == fleetscope::ipc::WriterState::kLive);
  }

  void aWriterKilledTurnsDeadAndItsRobotsStay() {
    const std::string name = fleetscope::testing::unique_name("app.dead");
    auto sim = start_sim(name, 6);
    QVERIFY(sim);
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.show();
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 6, 10000);
    sim->signal(SIGKILL);
    sim->wait();
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->scene().sources().at(0).state == fleetscope::ipc::WriterState::kDead, 5000);
    window.sourcesDock()->refresh();
    auto* table = window.sourcesDock()->findChild<QTableView*>("sourcesTable");
    bool shown_dead = false;
    for (int r = 0; r < table->model()->rowCount(); ++r) {
      shown_dead |= cell(table, r, 0) == QString::fromStdString(name) && cell(table, r, 1) == "dead";
    }
    QVERIFY(shown_dead);
    QCOMPARE(window.robotsDock()->robotCount(), 6);  // kept, greyed
    fleetscope::ipc::SharedMemoryMapping::remove(name);
  }

  void aPausedWriterMeansNoFramesAfterSettling() {
    const std::string name = fleetscope::testing::unique_name("app.paused");
    ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "paused", "4", "6"});
    QVERIFY(writer.wait_for("ready"));
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->framesRendered() > 0, 10000);
    // Settle: the last publishes, the liveness change and the robots' fade (they have not moved
    // for SceneSettings::robot_fade_after_ns, 3 s) render.
    QTest::qWait(4000);
    const auto frames = window.live()->framesRendered();
    const QSize view_size = window.view()->size();
    QTest::qWait(1500);
    QCOMPARE(window.view()->size(), view_size);
    QCOMPARE(window.live()->framesRendered(), frames);
    writer.signal(SIGTERM);
    writer.wait();
  }

  void screenshotModeWritesAPngWithTheRobots() {
    const std::string name = fleetscope::testing::unique_name("app.shot");
    auto sim = start_sim(name, 20);
    QVERIFY(sim);
    QTemporaryDir dir;
    const QString file = dir.filePath("shot.png");
    ChildProcess viewer({FLEETSCOPE_VIEWER, "--attach", name, "--screenshot", file.toStdString(), "--frames", "5"});
    const auto status = viewer.wait_for_exit(std::chrono::seconds(60));
    QVERIFY(status);
    QVERIFY(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    QImage image(file);
    QVERIFY(!image.isNull());
    QVERIFY2(coloured_share(image) > 0.002, "the screenshot shows no robots");
    image.save(QString(FLEETSCOPE_TEST_OUTPUT) + "/viewer-screenshot.png");
  }

  void sigtermWithAHundredRobotsExitsCleanlyAndLeavesTheSegment() {
    const std::string name = fleetscope::testing::unique_name("app.sigterm");
    auto sim = start_sim(name, 100);
    QVERIFY(sim);
    ChildProcess viewer({FLEETSCOPE_VIEWER, "--attach", name});
    QTest::qWait(3000);  // up and rendering
    const auto start = std::chrono::steady_clock::now();
    viewer.signal(SIGTERM);
    const auto status = viewer.wait_for_exit(std::chrono::seconds(5));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    QVERIFY(status);
    QVERIFY(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    QVERIFY2(seconds <= 2.0, qPrintable(QString("shutdown took %1 s").arg(seconds)));
    qInfo("viewer shutdown after SIGTERM: %.0f ms", seconds * 1000);
    QVERIFY(fleetscope::ipc::SegmentReader::open(name).writer_status().state == fleetscope::ipc::WriterState::kLive);
  }

  void attachAllPicksUpASegmentThatAppearsLater() {
    app::AppOptions options;
    options.attach_all = true;
    app::MainWindow window(options);
    QVERIFY(window.attachFromOptions().isEmpty());
    window.show();
    const std::string name = fleetscope::testing::unique_name("app.later");
    auto sim = start_sim(name, 5);
    QVERIFY(sim);
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->scene().attached(name), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(window.robotsDock()->robotCount() >= 5, 5000);
  }

  void withoutADisplayTheViewerSaysHowToUseXvfb() {
    ChildProcess viewer({"/usr/bin/env", "-u", "DISPLAY", "-u", "WAYLAND_DISPLAY", "-u", "QT_QPA_PLATFORM",
                         FLEETSCOPE_VIEWER, "--attach", "x"});
    const auto status = viewer.wait_for_exit(std::chrono::seconds(30));
    QVERIFY(status);
    QVERIFY(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  }

  void badCommandLinesExitNonZeroWithAMessage() {
    auto run = [](std::vector<std::string> args) {
      args.insert(args.begin(), FLEETSCOPE_VIEWER);
      ChildProcess p(args);
      const auto status = p.wait_for_exit(std::chrono::seconds(30));
      return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    };
    QCOMPARE(run({"--bogus"}), 2);
    QCOMPARE(run({"--frames", "0", "--screenshot", "x.png"}), 2);
    QCOMPARE(run({"--attach", "no.such.segment"}), 1);
    QCOMPARE(run({"--version"}), 0);
  }

  // The Sources model tells its view only what changed: rows that came and went, and the cells
  // that changed, one dataChanged per run of changed rows.
  void sourcesModelSignalsOnlyWhatChanged() {
    app::SourcesModel model;
    auto rows = [](std::initializer_list<std::pair<const char*, const char*>> names_fps) {
      std::vector<app::SourcesModel::Row> out;
      for (const auto& [name, fps] : names_fps) {
        app::SourcesModel::Row r;
        r.text = {name, "live", "1", "2", "8", fps, "no"};
        out.push_back(r);
      }
      return out;
    };
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.setRows(rows({{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}}));
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(inserted.count(), 1);
    model.setRows(rows({{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}}));
    QCOMPARE(changed.count(), 0);  // nothing new: no signal at all
    // b and c change their frame rate (one run), d goes, e comes.
    model.setRows(rows({{"a", "1"}, {"b", "2"}, {"c", "2"}, {"e", "1"}}));
    QCOMPARE(changed.count(), 1);
    const auto from = changed.at(0).at(0).value<QModelIndex>(), to = changed.at(0).at(1).value<QModelIndex>();
    QCOMPARE(from.row(), 1);
    QCOMPARE(to.row(), 2);
    QCOMPARE(from.column(), int(app::SourcesModel::kFps));
    QCOMPARE(to.column(), int(app::SourcesModel::kFps));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(reset.count(), 0);
    QStringList names;
    for (int r = 0; r < model.rowCount(); ++r) names << model.index(r, 0).data().toString();
    QCOMPARE(names, QStringList({"a", "b", "c", "e"}));
    QCOMPARE(model.index(2, app::SourcesModel::kFps).data().toString(), QString("2"));
    QCOMPARE(model.find("e"), 3);
    QCOMPARE(model.find("d"), -1);
    // A row's error shows as the tooltip of its name and state, and its state colour changes.
    auto with_error = rows({{"a", "1"}, {"b", "2"}, {"c", "2"}, {"e", "1"}});
    with_error[0].error = "broken";
    with_error[0].state_color = QColor(200, 60, 60);
    changed.clear();
    model.setRows(with_error);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.index(0, app::SourcesModel::kState).data(Qt::ToolTipRole).toString(), QString("broken"));
    QCOMPARE(model.index(0, app::SourcesModel::kState).data(Qt::ForegroundRole).value<QColor>(), QColor(200, 60, 60));
    model.setRows({});
    QCOMPARE(model.rowCount(), 0);
  }

  // 200 segments of another process on the machine: the viewer attached to one of them keeps
  // polling and its event loop stays responsive (discovery runs off the GUI thread), the Sources
  // table lists them all with their figures; attaching all of them automatically keeps it
  // responsive too; a viewer process attached to all exits promptly on SIGTERM; nothing is left.
  void manySegmentsOnTheMachineKeepTheViewerResponsive() {
#ifndef FLEETSCOPE_MANY_SEGMENTS
    QSKIP("fleetscope-many-segments is built with FLEETSCOPE_BUILD_BENCHMARKS only");
#else
    const std::string prefix = fleetscope::testing::unique_name("app.many");
    auto ours = [&prefix] {
      int n = 0;
      for (const auto& name : fleetscope::ipc::list_segment_names()) n += name.rfind(prefix + ".", 0) == 0;
      return n;
    };
    constexpr int kSegments = 200;
    {
      ChildProcess generator({FLEETSCOPE_MANY_SEGMENTS, "--segments", std::to_string(kSegments), "--prefix", prefix,
                              "--robots", "2", "--links", "3-5", "--rate", "30"});
      QVERIFY(generator.wait_for("fleetscope-many-segments: "));
      QCOMPARE(ours(), kSegments);
      auto window = std::make_unique<app::MainWindow>(Viewer{{prefix + ".0000"}}.options());
      QVERIFY(window->attachFromOptions().isEmpty());
      window->show();
      QVERIFY(QTest::qWaitForWindowExposed(window.get()));
      QTRY_VERIFY_WITH_TIMEOUT(window->sourcesDock()->rowCount() >= kSegments, 10000);
      // Rows of segments not attached carry discovery's figures.
      const app::SourcesModel* model = window->sourcesDock()->model();
      const int other = model->find(QString::fromStdString(prefix + ".0001"));
      QVERIFY(other >= 0);
      QTRY_COMPARE_WITH_TIMEOUT(model->row(other).text[app::SourcesModel::kRobots], QString("2"), 5000);
      QCOMPARE(model->row(other).text[app::SourcesModel::kAttached], QString("no"));
      const int mine = model->find(QString::fromStdString(prefix + ".0000"));
      QVERIFY(mine >= 0);
      QCOMPARE(model->row(mine).text[app::SourcesModel::kAttached], QString("yes"));

      auto responsive = [&](const char* what) {
        int ticks = 0;
        QTimer tick;
        tick.setInterval(50);
        QObject::connect(&tick, &QTimer::timeout, [&ticks] { ++ticks; });
        tick.start();
        const std::uint64_t polls = window->live()->polls();
        const std::uint64_t rounds = window->sourcesDock()->discovery()->rounds();
        QTest::qWait(2000);
        const std::uint64_t polled = window->live()->polls() - polls;
        qInfo("%s: %d ticks of a 50 ms timer, %llu polls, %llu discovery rounds in 2 s", what, ticks,
              static_cast<unsigned long long>(polled),
              static_cast<unsigned long long>(window->sourcesDock()->discovery()->rounds() - rounds));
        QVERIFY2(ticks >= 10, qPrintable(QString("%1: a 50 ms timer fired %2 times in 2 s").arg(what).arg(ticks)));
        QVERIFY2(polled >= 40, qPrintable(QString("%1: %2 polls in 2 s").arg(what).arg(polled)));
        QVERIFY(window->sourcesDock()->discovery()->rounds() > rounds);
      };
      responsive("attached to 1 of 200");
      if (QTest::currentTestFailed()) return;

      // Auto-attach takes every segment on the machine: other programs' too, which are not counted.
      auto attached = [&] {
        int n = 0;
        for (const auto& s : window->live()->scene().sources()) n += s.name.rfind(prefix + ".", 0) == 0;
        return n;
      };
      window->sourcesDock()->setAutoAttach(true);
      QTRY_COMPARE_WITH_TIMEOUT(attached(), kSegments, 15000);
      QTRY_VERIFY_WITH_TIMEOUT(window->robotsDock()->robotCount() >= 2 * kSegments, 10000);
      responsive("attached to all 200");
      if (QTest::currentTestFailed()) return;
      window.reset();  // the viewer never removes a writer's segment
      QCOMPARE(ours(), kSegments);

      ChildProcess viewer({FLEETSCOPE_VIEWER, "--attach-all"});
      QTest::qWait(4000);  // up, attached and rendering
      const auto start = std::chrono::steady_clock::now();
      viewer.signal(SIGTERM);
      const auto status = viewer.wait_for_exit(std::chrono::seconds(5));
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      QVERIFY(status);
      QVERIFY(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
      qInfo("viewer attached to all %d segments: SIGTERM to exit in %.0f ms", kSegments, seconds * 1000);
      QVERIFY2(seconds <= 2.0, qPrintable(QString("shutdown took %1 s").arg(seconds)));
      QCOMPARE(ours(), kSegments);
      generator.signal(SIGTERM);
      QCOMPARE(generator.wait(), 0);
    }
    QCOMPARE(ours(), 0);
#endif
  }

  // At the Robots dock's default width a robot's whole name shows (not "rob..."): the name
  // column is sized to its content when rows are added.
  void theRobotsDockShowsWholeRobotNames() {
    const std::string name = fleetscope::testing::unique_name("app.names");
    auto sim = start_sim(name, 12);
    QVERIFY(sim);
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 12, 10000);
    QTreeWidget* tree = window.robotsDock()->tree();
    QTreeWidgetItem* segment = tree->topLevelItem(0);
    QVERIFY(segment && segment->isExpanded());
    // The robot whose name is widest in the tree's font.
    const QFontMetrics metrics(tree->font());
    QTreeWidgetItem* widest = nullptr;
    for (int r = 0; r < segment->childCount(); ++r) {
      QTreeWidgetItem* robot = segment->child(r);
      if (!widest || metrics.horizontalAdvance(robot->text(0)) > metrics.horizontalAdvance(widest->text(0))) {
        widest = robot;
      }
    }
    QVERIFY(widest);
    const QModelIndex index = tree->indexFromItem(widest, 0);
    tree->scrollToItem(widest);
    // What the item needs (check box, margins and the text in the tree's font), against the room
    // its column gives it after the indentation, all of it inside the viewport.
    QStyleOptionViewItem option;
    option.initFrom(tree);
    option.widget = tree;
    const int needed = tree->itemDelegateForIndex(index)->sizeHint(option, index).width();
    const int text = metrics.horizontalAdvance(widest->text(0));
    QVERIFY2(needed > text, qPrintable(QString("item %1 px, text %2 px").arg(needed).arg(text)));
    (void)QTest::qWaitFor([&] { return tree->visualRect(index).width() >= needed; }, 2000);  // sized after a rebuild
    const QRect shown = tree->visualRect(index);
    QVERIFY2(shown.width() >= needed && shown.left() >= 0 && shown.left() + needed <= tree->viewport()->width(),
             qPrintable(QString("'%1' needs %2 px from x %3; its column gives %4 px, the viewport is %5 px wide")
                            .arg(widest->text(0)).arg(needed).arg(shown.left()).arg(shown.width())
                            .arg(tree->viewport()->width())));
    QVERIFY(tree->columnWidth(0) >= text);
  }

  // --dashboard-tab NAME: the main window brings that panel of the dashboards to the front.
  void theDashboardTabOptionShowsThatPanel() {
    const auto parsed = app::parse_command_line({"fleetscope", "--dashboard-tab", "grasp"});
    QVERIFY(parsed.options);
    app::MainWindow window(*parsed.options);
    QCOMPARE(window.dashboards()->tabs()->currentWidget(), window.dashboards()->grasp());
  }

  void aClickedRobotSelectsItsWorkerRowAndARowHighlightsItsRobots() {
    // Three workers of a live producer, two robots each (worker w's at x = 4w and 4w + 2);
    // worker 2 goes silent after a second.
    const std::string name = fleetscope::testing::unique_name("app.linked");
    ChildProcess writer({FLEETSCOPE_LINKED_WRITER, name, "3", "2"});
    QVERIFY(writer.wait_for("linked_fleet_writer: segment", std::chrono::seconds(20)));
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.resize(1200, 760);
    window.show();
    window.dashboards()->show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 6, 10000);
    auto* pool = window.dashboards()->envPool();
    QTRY_COMPARE_WITH_TIMEOUT(pool->model()->workers().size(), std::size_t{3}, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->framesRendered() > 3, 10000);

    // Click robot "w1-env0" (x = 4): worker 1's row is selected, the status bar names its episode.
    auto* renderer = window.view()->renderer();
    renderer->SetWorldPoint(4.0, 0.0, 0.25, 1.0);
    renderer->WorldToDisplay();
    double d[3];
    renderer->GetDisplayPoint(d);
    emit window.view()->clicked(static_cast<int>(d[0]), static_cast<int>(d[1]));
    QCOMPARE(pool->selectedWorker(), std::optional<std::uint32_t>(1));
    auto* table = pool->findChild<QTableView*>("workerTable");
    QVERIFY(table);
    const auto selected = table->selectionModel()->selectedRows();
    QCOMPARE(selected.size(), 1);
    QCOMPARE(pool->model()->workers()[static_cast<std::size_t>(selected.first().row())].row.worker_id, 1u);
    const QString status = window.statusBar()->findChildren<QLabel*>().first()->text();
    QVERIFY2(status.contains("w1-env0") && status.contains("worker 1 env 0") && status.contains("episode return"),
             qPrintable(status));

    // The reverse: the user selects worker 0's row; its two robots are highlighted and framed.
    int row0 = -1;
    for (std::size_t r = 0; r < pool->model()->workers().size(); ++r) {
      if (pool->model()->workers()[r].row.worker_id == 0) row0 = static_cast<int>(r);
    }
    QVERIFY(row0 >= 0);
    QSignalSpy spy(pool, &app::EnvPoolPanel::workerSelected);
    table->selectRow(row0);
    QCOMPARE(spy.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(window.statusBar()->findChildren<QLabel*>().first()->text().contains("worker 0: 2 robots highlighted"), 2000);
    QCOMPARE(window.live()->scene().robots_of_worker(0).size(), std::size_t{2});

    // Worker 2 stalled (silent for over 2 s): the panel says so, and its robots turn amber in 3D.
    QTRY_VERIFY_WITH_TIMEOUT(std::any_of(pool->model()->workers().begin(), pool->model()->workers().end(),
                                         [](const app::WorkerView& w) { return w.row.worker_id == 2 && w.state == fleetscope::ipc::WorkerState::kStalled; }),
                             10000);
    window.live()->resetCamera();  // the whole fleet in view again
    const auto frames = window.live()->framesRendered();
    QTRY_VERIFY_WITH_TIMEOUT(window.live()->framesRendered() > frames + 2, 5000);
    renderer->SetWorldPoint(8.0, 0.0, 0.25, 1.0);
    renderer->WorldToDisplay();
    renderer->GetDisplayPoint(d);
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
          const QImage frame = window.view()->grabFramebuffer();
          const QColor c = frame.pixelColor(static_cast<int>(d[0]), frame.height() - 1 - static_cast<int>(d[1]));
          return c.red() > 150 && c.green() > 90 && c.blue() < c.green() / 2;
        }(),
        8000);
  }

  void aSegmentOfANewerMajorVersionIsRefusedNamingBothVersions() {
    const std::string name = fleetscope::testing::unique_name("app.newer");
    fleetscope::WriterConfig c;
    c.name = name + ".src";
    c.max_robots = 1;
    c.max_links = 1;
    fleetscope::SimWriter writer(c);
    auto image = fleetscope::testing::copy_segment(c.name);
    image.header().abi_major = 2;
    image.header().abi_minor = 1;
    fleetscope::testing::write_object(name, image.bytes());
    struct RemoveAtEnd {  // also when a check fails and returns early
      std::string name;
      ~RemoveAtEnd() { fleetscope::ipc::SharedMemoryMapping::remove(name); }
    } remove_at_end{name};
    app::MainWindow window(Viewer{{name}}.options());
    const QString error = window.attachFromOptions();
    QVERIFY2(error.contains("format 2.1") && error.contains(QString("reads format %1.%2").arg(fleetscope::ipc::kAbiMajor).arg(fleetscope::ipc::kAbiMinor)), qPrintable(error));
  }

  // File > Record: the attached segment recorded by a child fleetscope-shm while the viewer shows
  // it; the indicator says so; stopping finishes a file that replays the writer's frames.
  void fileRecordRecordsTheAttachedSegments() {
    const std::string name = fleetscope::testing::unique_name("app.record");
    QTemporaryDir dir;
    const QString path = dir.path() + "/viewer.mcap";
    {
      app::MainWindow empty(app::AppOptions{});
      QVERIFY(empty.startRecording(path).contains("no local segment"));
      QVERIFY(!empty.recordingIndicator()->isVisibleTo(&empty));
    }
    auto sim = start_sim(name, 5);
    QVERIFY(sim);
    app::MainWindow window(Viewer{{name}}.options());
    QVERIFY(window.attachFromOptions().isEmpty());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const QString error = window.startRecording(path);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(window.recordingIndicator()->isVisibleTo(&window));
    QTest::qWait(1500);
    QTRY_VERIFY_WITH_TIMEOUT(window.recordingIndicator()->text().contains("REC"), 2000);
    const QString summary = window.stopRecording();
    QVERIFY2(summary.contains("wrote"), qPrintable(summary));
    QVERIFY(!window.recordingIndicator()->isVisibleTo(&window));
    auto recording = fleetscope::recording::Recording::open(path.toStdString());
    QCOMPARE(recording->segments(), std::vector<std::string>{name});
    fleetscope::recording::RecordingSource replay(recording, name);
    replay.seek(replay.end_time());
    QVERIFY2(replay.frame().frame > 30, qPrintable(QString::number(replay.frame().frame)));
    QCOMPARE(replay.layout().robots.size(), 5u);
  }

  // A recording of a real writer, opened in the viewer: the timeline bar steps frame by frame,
  // scrubs to either end and back (a backward move replays the state at that time), and plays to
  // the end at 10x; the 3D view draws the recorded robots.
  void theTimelineStepsScrubsAndPlaysARecording() {
    const std::string name = fleetscope::testing::unique_name("app.replay");
    auto writer = start_sim(name, 4);  // coloured robots at 60 Hz
    QVERIFY(writer);
    QTemporaryDir dir;
    const std::string file = (dir.path() + "/run.mcap").toStdString();
    {
      fleetscope::recording::RecorderOptions options;
      options.segments = {name};
      options.output = file;
      fleetscope::recording::Recorder recorder(options);
      std::atomic<bool> stop{false};
      recorder.run(stop, 1.5);
    }
    writer.reset();  // stopped: the replay reads the file alone

    app::AppOptions options;
    options.open << QString::fromStdString(file);
    options.replay_speed = 0;  // held at the start
    app::MainWindow window(options);
    QVERIFY(window.attachFromOptions().isEmpty());
    window.resize(1200, 760);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    app::ReplayController* replay = window.replay();
    app::TimelineBar* timeline = window.timeline();
    QVERIFY(timeline->isVisible());
    QVERIFY(!replay->playing());
    QVERIFY2(std::abs(timeline->slider()->maximum() - 1500) < 400, qPrintable(QString::number(timeline->slider()->maximum())));
    QVERIFY2(timeline->timeLabel()->text().startsWith("0.00 s / 1."), qPrintable(timeline->timeLabel()->text()));
    QTRY_COMPARE_WITH_TIMEOUT(window.robotsDock()->robotCount(), 4, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(coloured_share(window.view()->grabFramebuffer()) > 0.001, 10000);

    auto* source = dynamic_cast<fleetscope::recording::RecordingSource*>(window.registry().find(name));
    QVERIFY(source);
    const std::uint64_t first = source->frame().frame;
    const std::uint64_t at_start = replay->position();
    // Step forward: the next recorded frame; back: the one before.
    replay->stepForward();
    QVERIFY(replay->position() > at_start);
    QVERIFY(source->frame().frame > first);
    const std::uint64_t second = source->frame().frame;
    replay->stepForward();
    QVERIFY(source->frame().frame > second);
    replay->stepBack();
    QCOMPARE(source->frame().frame, second);
    // Scrub to the end and back to the start with the slider.
    timeline->slider()->triggerAction(QAbstractSlider::SliderToMaximum);
    QCOMPARE(replay->position(), replay->end());
    const std::uint64_t last = source->frame().frame;
    QVERIFY2(last > second + 50, qPrintable(QString("%1 frames in 1.5 s at 60 Hz").arg(last - first)));
    QVERIFY(timeline->timeLabel()->text().startsWith(timeline->timeLabel()->text().section(" / ", 1)));
    timeline->slider()->triggerAction(QAbstractSlider::SliderToMinimum);
    QCOMPARE(replay->position(), replay->start());
    QCOMPARE(source->frame().frame, first);
    // Play at 10x: the end within a second or so, then paused there.
    timeline->speedBox()->setCurrentIndex(timeline->speedBox()->count() - 1);
    QCOMPARE(replay->speed(), 10.0);
    QSignalSpy stopped(replay, &app::ReplayController::playingChanged);
    replay->play();
    QVERIFY(replay->playing());
    QTRY_VERIFY_WITH_TIMEOUT(!replay->playing(), 5000);
    QCOMPARE(replay->position(), replay->end());
    QCOMPARE(source->frame().frame, last);
    window.grab().save(QString(FLEETSCOPE_TEST_OUTPUT) + "/replay-window.png");
  }
};

int main(int argc, char** argv) {
  app::VtkHostWidget::setDefaultSurfaceFormat();
  QApplication application(argc, argv);
  QApplication::setOrganizationName("fleetscope-tests");  // never the user's saved layout
  if (qEnvironmentVariableIsSet("FLEETSCOPE_TRACE")) spdlog::set_level(spdlog::level::trace);
  ViewerTest test;
  return QTest::qExec(&test, argc, argv);
}

#include "viewer_test.moc"
