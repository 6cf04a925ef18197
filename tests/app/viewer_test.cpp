// The viewer against real simulation processes, under Xvfb (xcb). Checks model data and real
// frames, not just that calls return.
#include <signal.h>

#include <QApplication>
#include <QImage>
#include <QPushButton>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>
#include <chrono>
#include <spdlog/spdlog.h>
#include <thread>

#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "live_scene.h"
#include "main_window.h"
#include "robots_dock.h"
#include "sources_dock.h"
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
    auto* table = window.sourcesDock()->findChild<QTableWidget*>("sourcesTable");
    QVERIFY(table);
    window.sourcesDock()->refresh();
    int row = -1;
    for (int r = 0; r < table->rowCount(); ++r) {
      if (table->item(r, 0)->text() == QString::fromStdString(name)) row = r;
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
    auto* table = window.sourcesDock()->findChild<QTableWidget*>("sourcesTable");
    bool shown_dead = false;
    for (int r = 0; r < table->rowCount(); ++r) {
      shown_dead |= table->item(r, 0)->text() == QString::fromStdString(name) && table->item(r, 1)->text() == "dead";
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
    QTest::qWait(1500);  // settle: the last publishes and the liveness change render
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

  void aSegmentOfANewerMajorVersionIsRefusedNamingBothVersions() {
    const std::string name = fleetscope::testing::unique_name("app.newer");
    fleetscope::WriterConfig c;
    c.name = name + ".src";
    c.max_robots = 1;
    c.max_links = 1;
    fleetscope::SimWriter writer(c);
    auto image = fleetscope::testing::copy_segment(c.name);
    image.header().abi_major = 2;
    fleetscope::testing::write_object(name, image.bytes());
    struct RemoveAtEnd {  // also when a check fails and returns early
      std::string name;
      ~RemoveAtEnd() { fleetscope::ipc::SharedMemoryMapping::remove(name); }
    } remove_at_end{name};
    app::MainWindow window(Viewer{{name}}.options());
    const QString error = window.attachFromOptions();
    QVERIFY2(error.contains("format 2.1") && error.contains("reads format 1.1"), qPrintable(error));
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
