// The viewer's command line.
#pragma once

#include <QSize>
#include <QString>
#include <QStringList>
#include <array>
#include <optional>

namespace fleetscope::app {

// Where the camera looks for a screenshot: fit everything (the default), frame one robot, or an
// explicit eye and target (world metres, z up).
struct CameraSpec {
  enum class Kind { kFit, kRobot, kEyeTarget };
  Kind kind = Kind::kFit;
  QString segment, robot;          // kRobot
  std::array<double, 3> eye{};     // kEyeTarget
  std::array<double, 3> target{};  // kEyeTarget
};

// The viewer's own ground plane: hidden when a simulation draws its own floor (auto), or always
// shown, or never.
enum class GroundMode { kAuto, kOn, kOff };

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
  QSize size;                   // --size: the 3D view's size in pixels (empty: the window's)
  CameraSpec camera;            // --camera
  GroundMode ground = GroundMode::kAuto;  // --ground
  QStringList open;             // --open: recordings (MCAP) replayed as sources
  double replay_from_s = 0.0;   // --replay-from: seconds after a recording's start
  double replay_speed = 1.0;    // --replay-speed

  QStringList connect;          // --connect: relays (tcp://HOST:PORT) whose segments become sources
  QString relay_key;            // --relay-key: the relays' public key file (CURVE)
  QString client_key;           // --client-key: this viewer's key pair file (CURVE)
  // Command-line modes run for a purpose and never change the user's saved settings.
  bool command_line_mode() const {
    return demo || attach_all || !screenshot.isEmpty() || !panels_screenshot.isEmpty();
  }
};

struct ParseOutcome {
  std::optional<AppOptions> options;  // set: run the viewer
  int exit_code = 0;                  // otherwise: exit with this code
  QString output;                     // printed before exiting (stdout when code 0, else stderr)
};

ParseOutcome parse_command_line(const QStringList& arguments);
// "fit", "robot:SEGMENT:ROBOT" or "X,Y,Z@X,Y,Z"; nullopt if malformed.
std::optional<CameraSpec> parse_camera(const QString& text);

}  // namespace fleetscope::app
