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
};

struct ParseOutcome {
  std::optional<AppOptions> options;  // set: run the viewer
  int exit_code = 0;                  // otherwise: exit with this code
  QString output;                     // printed before exiting (stdout when code 0, else stderr)
};

ParseOutcome parse_command_line(const QStringList& arguments);

}  // namespace fleetscope::app
