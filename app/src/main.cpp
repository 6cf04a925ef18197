// fleetscope: the viewer. See --help.
#include <sys/resource.h>

#include <QApplication>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <spdlog/spdlog.h>

#include "app_options.h"
#include "dashboard_window.h"
#include "main_window.h"
#include "unix_signal_watcher.h"
#include "vtk_host_widget.h"

int main(int argc, char** argv) {
  QStringList arguments;
  for (int i = 0; i < argc; ++i) arguments << QString::fromLocal8Bit(argv[i]);
  const auto parsed = fleetscope::app::parse_command_line(arguments);
  if (!parsed.options) {
    std::fputs(qPrintable(parsed.output), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const auto& options = *parsed.options;
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::warn);
  if (std::getenv("FLEETSCOPE_TRACE")) spdlog::set_level(spdlog::level::trace);
  const char* platform = std::getenv("QT_QPA_PLATFORM");
  if ((!platform || !*platform) && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    std::fputs("fleetscope: no display found (DISPLAY is not set).\n"
               "On a machine without a display, run it under Xvfb, e.g.:\n"
               "  xvfb-run -a build/app/fleetscope --attach fleet --screenshot fleet.png\n",
               stderr);
    return 1;
  }

  // Every attached segment keeps its shared memory object open: a thousand segments need more
  // descriptors than the usual soft limit of 1024. Raised towards the hard limit (capped: some
  // code walks every possible descriptor).
  if (rlimit nofile{}; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
                       nofile.rlim_cur < 65536 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(nofile.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  fleetscope::app::VtkHostWidget::setDefaultSurfaceFormat();
  QApplication app(argc, argv);
  QApplication::setApplicationName("fleetscope");
  QApplication::setOrganizationName("fleetscope");

  try {
    fleetscope::app::MainWindow window(options);
    const QString error = window.attachFromOptions();
    if (!error.isEmpty()) {
      std::fprintf(stderr, "fleetscope: %s\n", qPrintable(error));
      return 1;
    }
    fleetscope::app::UnixSignalWatcher signals_watcher;
    QObject::connect(&signals_watcher, &fleetscope::app::UnixSignalWatcher::terminationRequested, &app,
                     [](int) { QApplication::quit(); });
    int screenshot_code = 0;
    QObject::connect(&window, &fleetscope::app::MainWindow::screenshotDone, &app, [&](int code) {
      screenshot_code = code;
      QApplication::quit();
    });
    if (!options.screenshot.isEmpty()) {
      // A screenshot that cannot be taken in time is an error, not a hang.
      QTimer::singleShot(60000, &app, [&] {
        std::fputs("fleetscope: screenshot timed out\n", stderr);
        screenshot_code = 1;
        QApplication::quit();
      });
    }
    if (!options.panels_screenshot.isEmpty()) {
      QTimer::singleShot(static_cast<int>(options.screenshot_after_s * 1000), &window,
                         [&window] { window.savePanelsAndFinish(); });
    }
    window.show();
    if (options.dashboards) window.dashboards()->show();
    const int code = app.exec();
    return code != 0 ? code : screenshot_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleetscope: %s\n", e.what());
    return 1;
  }
}
