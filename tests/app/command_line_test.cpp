// The viewer's command line. Saved settings belong to the user: command-line modes (--demo,
// --attach-all, --screenshot, --panels-screenshot) never change them, and an explicit --attach
// list means those segments only, whatever "attach new segments automatically" was saved as.
// Headless framing: --size and --camera; --help and error messages.
#include <QApplication>
#include <unistd.h>

#include <QFile>
#include <QProcess>
#include <QSettings>
#include <QtTest>
#include <set>

#include "app_options.h"
#include "dashboard_window.h"
#include "live_scene.h"
#include "main_window.h"
#include "sources_dock.h"
#include "support/child_process.hpp"
#include "vtk_host_widget.h"

using fleetscope::testing::ChildProcess;
namespace app = fleetscope::app;

namespace {

std::unique_ptr<ChildProcess> start_sim(const std::string& name) {
  auto sim = std::make_unique<ChildProcess>(
      std::vector<std::string>{FLEETSCOPE_SIM, "--name", name, "--robots", "2", "--rate", "30"});
  if (!sim->wait_for("fleetscope-sim: segment", std::chrono::seconds(20))) return nullptr;
  return sim;
}

app::AppOptions parsed(const QStringList& args) {
  const auto outcome = app::parse_command_line(QStringList{"fleetscope"} + args);
  if (!outcome.options) qFatal("bad test arguments: %s", qPrintable(outcome.output));
  return *outcome.options;
}

void save_user_settings(bool auto_attach) {
  QSettings s;
  s.clear();
  s.setValue("sources/autoAttach", auto_attach);
  s.setValue("window/geometry", QByteArray("the user's layout"));
  s.sync();
}

}  // namespace

class CommandLineTest : public QObject {
  Q_OBJECT

 private slots:
  void commandLineModesLeaveSavedSettingsAlone() {
    const QString dir = QDir::temp().filePath("fleetscope-settings-test-panels");
    for (const QStringList& args : {QStringList{"--demo"}, QStringList{"--attach-all"},
                                    QStringList{"--screenshot", "/tmp/unused.png"},
                                    QStringList{"--panels-screenshot", dir}}) {
      save_user_settings(false);
      const app::AppOptions options = parsed(args);
      QVERIFY2(options.command_line_mode(), qPrintable(args.join(' ')));
      {
        app::MainWindow window(options);
        window.show();
        // What --demo does once its producers run (attachFromOptions): attach everything.
        window.sourcesDock()->setAutoAttach(true);
        window.close();
      }
      QSettings s;
      QCOMPARE(s.value("sources/autoAttach").toBool(), false);
      QCOMPARE(s.value("window/geometry").toByteArray(), QByteArray("the user's layout"));
    }
  }

  void anAttachListMeansThoseSegmentsOnlyAndKeepsTheSavedChoice() {
    save_user_settings(true);  // a demo or a user once turned automatic attaching on
    const std::string mine = fleetscope::testing::unique_name("settings.mine");
    const std::string other = fleetscope::testing::unique_name("settings.other");
    auto a = start_sim(mine);
    auto b = start_sim(other);
    QVERIFY(a && b);
    {
      app::MainWindow window(parsed({"--attach", QString::fromStdString(mine)}));
      QCOMPARE(window.attachFromOptions(), QString());
      window.show();
      auto* sources = window.sourcesDock();
      QVERIFY(!sources->autoAttach());
      QTest::qWait(2500);  // the Sources dock looks for segments once a second
      std::set<std::string> attached;
      for (const auto& s : window.live()->scene().sources()) attached.insert(s.name);
      QCOMPARE(attached, (std::set<std::string>{mine}));
      window.close();
    }
    QSettings s;
    QCOMPARE(s.value("sources/autoAttach").toBool(), true);
  }

  void aPlainRunSavesWhatTheUserChanged() {
    save_user_settings(false);
    {
      app::MainWindow window(app::AppOptions{});
      window.show();
      window.sourcesDock()->setAutoAttach(true);  // the user ticks the box
      window.close();
    }
    QSettings s;
    QCOMPARE(s.value("sources/autoAttach").toBool(), true);
    QVERIFY(s.value("window/geometry").toByteArray() != QByteArray("the user's layout"));
  }

  void helpNamesTheProgramAndErrorsEndWithANewline() {
    const auto help = app::parse_command_line({"fleetscope", "--help"});
    QCOMPARE(help.exit_code, 0);
    QVERIFY(help.output.contains("Usage: fleetscope [options]"));
    QVERIFY(!help.output.contains("<executable_name>"));
    QVERIFY(help.output.contains("--camera"));
    for (const QStringList& bad :
         {QStringList{"--bogus"}, QStringList{"stray"}, QStringList{"--size", "640x480"},
          QStringList{"--screenshot", "a.png", "--size", "64"}, QStringList{"--screenshot", "a.png", "--size", "9x9000"},
          QStringList{"--screenshot", "a.png", "--camera", "robot:only-segment"},
          QStringList{"--screenshot", "a.png", "--camera", "1,2@3,4,5"},
          QStringList{"--screenshot", "a.png", "--camera", "1,2,3@1,2,3"}, QStringList{"--camera", "fit"},
          QStringList{"--frames", "0", "--screenshot", "a.png"}, QStringList{"--dashboard-tab", "nope"},
          QStringList{"--ground", "sometimes"}}) {
      const auto outcome = app::parse_command_line(QStringList{"fleetscope"} + bad);
      QVERIFY2(!outcome.options, qPrintable(bad.join(' ')));
      QCOMPARE(outcome.exit_code, 2);
      QVERIFY2(outcome.output.startsWith("fleetscope: ") && outcome.output.endsWith("\n"), qPrintable(outcome.output));
    }
    const auto camera = parsed({"--screenshot", "a.png", "--size", "320x200", "--camera", "1,-2,3.5@0,0,0.5"});
    QCOMPARE(camera.size, QSize(320, 200));
    QVERIFY(camera.camera.kind == app::CameraSpec::Kind::kEyeTarget);
    QCOMPARE(camera.camera.eye[2], 3.5);
    QCOMPARE(camera.camera.target[2], 0.5);
    QVERIFY(parsed({}).ground == app::GroundMode::kAuto);
    QVERIFY(parsed({"--ground", "off"}).ground == app::GroundMode::kOff);
    QVERIFY(parsed({"--ground", "on"}).ground == app::GroundMode::kOn);
  }

  void aScreenshotFramesTheNamedRobotAtTheGivenSize() {
    const std::string name = fleetscope::testing::unique_name("cli.camera");
    auto sim = start_sim(name);
    QVERIFY(sim);
    const QString png = QDir::temp().filePath("fleetscope-cli-camera.png");
    QProcess viewer;
    viewer.start(FLEETSCOPE_VIEWER, {"--attach", QString::fromStdString(name), "--no-dashboards", "--screenshot", png,
                                     "--size", "320x240", "--camera", QString("robot:%1:robot1").arg(name.c_str())});
    QVERIFY(viewer.waitForFinished(60000));
    QCOMPARE(viewer.exitCode(), 0);
    const QImage image(png);
    QCOMPARE(image.size(), QSize(320, 240));
    // The framed robot fills the middle of the picture: robot colours there, not floor and sky.
    int coloured = 0, total = 0;
    for (int y = 60; y < 180; ++y) {
      for (int x = 80; x < 240; ++x, ++total) {
        const QColor c = image.pixelColor(x, y);
        if (c.hsvSaturation() > 110 && c.value() > 80) ++coloured;
      }
    }
    QVERIFY2(coloured > total / 20, qPrintable(QString("%1 of %2 centre pixels are robot-coloured").arg(coloured).arg(total)));
    QFile::remove(png);
    // A robot that is not there is an error, exit 1.
    viewer.start(FLEETSCOPE_VIEWER, {"--attach", QString::fromStdString(name), "--no-dashboards", "--screenshot", png,
                                     "--camera", QString("robot:%1:nobody").arg(name.c_str())});
    QVERIFY(viewer.waitForFinished(60000));
    QCOMPARE(viewer.exitCode(), 1);
    QVERIFY(viewer.readAllStandardError().contains("no robot 'nobody'"));
  }

  // One registry, one reader per source: the 3D view and the dashboards read a segment through
  // the same mapping, never open it twice.
  void theSceneAndTheDashboardsShareOneReaderPerSegment() {
    const std::string name = fleetscope::testing::unique_name("cli.shared");
    ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "3", "4"});  // poses and telemetry
    QVERIFY(writer.wait_for("ready"));
    app::MainWindow window(parsed({"--attach", QString::fromStdString(name)}));
    QCOMPARE(window.attachFromOptions(), QString());
    window.show();
    window.dashboards()->show();
    QTRY_VERIFY_WITH_TIMEOUT(window.dashboards()->store().received_total() > 0, 10000);
    QCOMPARE(window.live()->scene().robots().size(), std::size_t{3});
    int mappings = 0;
    QFile maps("/proc/self/maps");
    QVERIFY(maps.open(QIODevice::ReadOnly));
    const QByteArray path = QByteArray("/dev/shm/fleetscope.") + name.c_str();
    for (const QByteArray& line : maps.readAll().split('\n')) mappings += line.endsWith(path);
    QCOMPARE(mappings, 1);
  }

  // --allow-other-users reaches every open: a segment of another user (one the test creates) is
  // refused without the flag and shown with it.
  void allowOtherUsersReachesTheOpens() {
    if (::geteuid() != 0) QSKIP("needs root to create a user");
    const QString user = "fleetscope-test-other";
    QProcess::execute("userdel", {user});
    QCOMPARE(QProcess::execute("useradd", {"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user}), 0);
    struct RemoveUser {
      QString user;
      ~RemoveUser() { QProcess::execute("userdel", {user}); }
    } remove_user{user};
    const std::string name = fleetscope::testing::unique_name("cli.other");
    ChildProcess sim({"/usr/sbin/runuser", "-u", user.toStdString(), "--", FLEETSCOPE_SIM, "--name", name,
                      "--robots", "4", "--rate", "30"});
    QVERIFY(sim.wait_for("fleetscope-sim: segment", std::chrono::seconds(20)));
    {
      app::MainWindow window(parsed({"--attach", QString::fromStdString(name)}));
      const QString error = window.attachFromOptions();
      QVERIFY2(error.contains("belongs to uid") && error.contains("fleetscope-test-other"), qPrintable(error));
    }
    app::MainWindow window(parsed({"--attach", QString::fromStdString(name), "--allow-other-users"}));
    QCOMPARE(window.attachFromOptions(), QString());
    QCOMPARE(window.live()->scene().robots().size(), std::size_t{4});
  }

  // --connect: a relay's segments become sources named HOST:PORT:SEGMENT, drawn like local ones.
  void connectShowsARelaysSegments() {
    save_user_settings(false);
    const std::string name = fleetscope::testing::unique_name("cmdline.relay");
    auto sim = start_sim(name);
    QVERIFY(sim);
    const std::string port = std::to_string(22000 + (::getpid() % 2000) * 2);
    const QString endpoint = QString::fromStdString("tcp://127.0.0.1:" + port);
    ChildProcess relay({FLEETSCOPE_RELAY, "serve", "--bind", endpoint.toStdString(), name});
    QVERIFY(relay.wait_for("serving", std::chrono::seconds(10)));
    for (const QStringList& bad : {QStringList{"--relay-key", "r.pub"}, QStringList{"--connect", endpoint, "--client-key", "k.key"}}) {
      const auto outcome = app::parse_command_line(QStringList{"fleetscope"} + bad);
      QVERIFY2(!outcome.options && outcome.exit_code == 2, qPrintable(bad.join(' ')));
    }
    {
      app::MainWindow window(parsed({"--connect", "tcp://127.0.0.1:notaport"}));
      QVERIFY(window.attachFromOptions().startsWith("--connect: "));
    }
    app::MainWindow window(parsed({"--connect", endpoint}));
    QCOMPARE(window.attachFromOptions(), QString());
    window.show();
    const std::string remote = "127.0.0.1:" + port + ":" + name;
    std::size_t robots = 0;
    for (int i = 0; i < 100 && robots < 2; ++i) {
      QTest::qWait(100);
      robots = 0;
      for (const auto& r : window.live()->scene().robots()) robots += r.segment == remote ? 1 : 0;
    }
    QCOMPARE(robots, std::size_t{2});
    window.close();
  }

  void cleanupTestCase() {
    const QString file = QSettings().fileName();
    QFile::remove(file);  // the test's own settings file: nothing is left in ~/.config
  }
};

int main(int argc, char** argv) {
  app::VtkHostWidget::setDefaultSurfaceFormat();
  QApplication application(argc, argv);
  QApplication::setOrganizationName("fleetscope-tests");  // never the user's saved settings
  QApplication::setApplicationName("settings-test");
  CommandLineTest test;
  return QTest::qExec(&test, argc, argv);
}

#include "command_line_test.moc"
