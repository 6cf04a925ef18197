// The viewer's command line.
#pragma once

#include <QString>
#include <QStringList>
#include <optional>

namespace fleetscope::app {

struct AppOptions {
  QStringList attach;
  bool attach_all = false;
  QString screenshot;
  int frames = 10;
  double max_fps = 60.0;
  QString kpi_log;
  bool verbose = false;
  bool allow_other_users = false;
  bool actor_per_link = false;  // benchmark baseline
  bool demo = false;            // start the built-in demo producers as children
  QString grasp_manifest;
  bool dashboards = true;
  int dashboard_tab = 0;        // trainer, envpool, grasp, viewer
  QString panels_screenshot;    // directory: save every dashboard panel as PNG, then exit
  double screenshot_after_s = 10.0;
};

struct ParseOutcome {
  std::optional<AppOptions> options;  // set: run the viewer
  int exit_code = 0;                  // otherwise: exit with this code
  QString output;                     // printed before exiting (stdout when code 0, else stderr)
};

ParseOutcome parse_command_line(const QStringList& arguments);

}  // namespace fleetscope::app
