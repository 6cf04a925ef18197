#include "app_options.h"

#include <QCommandLineParser>
#include <cmath>

#include "dashboard_panel.h"
#include "fleetscope/ipc/format.hpp"

namespace fleetscope::app {

ParseOutcome parse_command_line(const QStringList& arguments) {
  QCommandLineParser parser;
  parser.setApplicationDescription("fleetscope: live viewer for robot simulations publishing fleetscope segments.");
  const QCommandLineOption help({"h", "help"}, "Show this help and exit.");
  const QCommandLineOption version("version", "Show the version and exit.");
  const QCommandLineOption attach("attach", "Attach segment NAME (repeatable).", "NAME");
  const QCommandLineOption attach_all("attach-all", "Attach every segment now and any that appears later.");
  const QCommandLineOption screenshot("screenshot", "Render the attached scene, write a PNG to FILE and exit.", "FILE");
  const QCommandLineOption frames("frames", "Frames to render before the screenshot (default 10).", "N", "10");
  const QCommandLineOption max_fps("max-fps", "Highest frame rate (default 60).", "N", "60");
  const QCommandLineOption kpi_log("kpi-log", "Write one JSON record of viewer KPIs per second to FILE.", "FILE");
  const QCommandLineOption verbose({"v", "verbose"}, "Log details.");
  const QCommandLineOption other_users("allow-other-users", "Read segments owned by other users.");
  const QCommandLineOption per_actor("actor-per-link", "Draw one VTK actor per link (benchmark baseline only).");
  const QCommandLineOption demo("demo", "Start the demo: fleetscope-sim, a PPO-like trainer, an environment pool and a "
                                        "grasp scheduler as child processes, all attached; closing the viewer stops them.");
  const QCommandLineOption manifest("grasp-manifest", "Show this grasp scheduler manifest.json in the Grasp jobs panel "
                                                      "(re-read when it changes).", "PATH");
  const QCommandLineOption no_dashboards("no-dashboards", "Do not open the dashboards window at start.");
  const QCommandLineOption panels("panels-screenshot", "Save every dashboard panel as DIR/<panel>.png after "
                                                       "--screenshot-after seconds, then exit.", "DIR");
  const QCommandLineOption after("screenshot-after", "Seconds to wait before --panels-screenshot (default 10).", "S", "10");
  QStringList panel_ids;  // the dashboards' panels, in tab order
  for (const auto& panel : dashboard_panels()) panel_ids << panel.id;
  const QString panel_list = panel_ids.mid(0, panel_ids.size() - 1).join(", ") + " or " + panel_ids.last();
  const QCommandLineOption tab("dashboard-tab", "Dashboard panel shown first: " + panel_list + ".", "NAME",
                               panel_ids.first());
  const QCommandLineOption size("size", "With --screenshot or --panels-screenshot: the 3D view's size in pixels, "
                                        "e.g. 1280x720.", "WxH");
  const QCommandLineOption camera("camera", "With --screenshot or --panels-screenshot: 'fit' (everything, the default), "
                                            "'robot:SEGMENT:ROBOT' (frame one robot), or 'X,Y,Z@X,Y,Z' (eye and "
                                            "target in metres, z up).", "SPEC");
  const QCommandLineOption ground("ground", "The viewer's ground plane: 'auto' (hidden when a simulation draws its own "
                                            "floor, the default), 'on' or 'off'.", "MODE", "auto");
  const QCommandLineOption open("open", "Replay the recording FILE (fleetscope-shm record's MCAP): its segments appear "
                                        "as sources (repeatable).", "FILE");
  const QCommandLineOption replay_from("replay-from", "With --open: start this many seconds into the recording "
                                                      "(default 0).", "S", "0");
  const QCommandLineOption replay_speed("replay-speed", "With --open: replay speed, 0 (stay) or 0.1 to 10 "
                                                        "(default 1).", "X", "1");
  parser.addOptions({help, version, attach, attach_all, screenshot, frames, max_fps, kpi_log, verbose, other_users,
                     per_actor, demo, manifest, no_dashboards, panels, after, tab, size, camera, ground, open,
                     replay_from, replay_speed});

  const QCommandLineOption connect_relay("connect", "Show the segments of the relay at tcp://HOST:PORT "
                                                   "(fleetscope-relay serve on another host) as sources named "
                                                   "HOST:SEGMENT (repeatable).", "ENDPOINT");
  const QCommandLineOption relay_key("relay-key", "With --connect: the relays' public key file (fleetscope-relay keygen).", "FILE");
  const QCommandLineOption client_key("client-key", "With --connect: this viewer's key pair file, its public key allowed "
                                                  "by the relays.", "FILE");
  parser.addOptions({connect_relay, relay_key, client_key});
  ParseOutcome out;
  if (!parser.parse(arguments)) {
    out.exit_code = 2;
    out.output = "fleetscope: " + parser.errorText() + "\n(try --help)\n";
    return out;
  }
  if (!parser.positionalArguments().isEmpty()) {
    out.exit_code = 2;
    out.output = "fleetscope: unexpected argument '" + parser.positionalArguments().first() + "' (try --help)\n";
    return out;
  }
  if (parser.isSet(help)) {
    // The usage line names this program, however it was started (the parser would print the
    // file it runs from, or "<executable_name>" before a QCoreApplication exists).
    QString text = parser.helpText();
    const qsizetype end = text.indexOf(" [options]");
    if (text.startsWith("Usage: ") && end > 0) text.replace(7, end - 7, "fleetscope");
    out.output = text +
                 "\nMouse: left drag orbits, middle drag pans, wheel zooms, click selects a link.\n"
                 "Keys: R resets the view, F follows the selected robot.\n";
    return out;
  }
  if (parser.isSet(version)) {
    out.output = QString("fleetscope 0.1.0 (segment format %1.%2)\n").arg(ipc::kAbiMajor).arg(ipc::kAbiMinor);
    return out;
  }
  AppOptions o;
  o.attach = parser.values(attach);
  o.attach_all = parser.isSet(attach_all);
  o.screenshot = parser.value(screenshot);
  o.kpi_log = parser.value(kpi_log);
  o.verbose = parser.isSet(verbose);
  o.allow_other_users = parser.isSet(other_users);
  o.actor_per_link = parser.isSet(per_actor);
  o.demo = parser.isSet(demo);
  o.grasp_manifest = parser.value(manifest);
  o.dashboards = !parser.isSet(no_dashboards);
  o.panels_screenshot = parser.value(panels);
  o.connect = parser.values(connect_relay);
  o.relay_key = parser.value(relay_key);
  o.client_key = parser.value(client_key);
  if (o.relay_key.isEmpty() != o.client_key.isEmpty() || (!o.relay_key.isEmpty() && o.connect.isEmpty())) {
    out.exit_code = 2;
    out.output = "fleetscope: --relay-key and --client-key go together, with --connect\n";
    return out;
  }
  o.open = parser.values(open);
  {
    bool ok_from = false, ok_speed = false;
    o.replay_from_s = parser.value(replay_from).toDouble(&ok_from);
    o.replay_speed = parser.value(replay_speed).toDouble(&ok_speed);
    if (!ok_from || !(o.replay_from_s >= 0.0 && o.replay_from_s <= 1e7)) {
      out.exit_code = 2;
      out.output = "fleetscope: --replay-from must be a number of seconds from 0\n";
      return out;
    }
    if (!ok_speed || !(o.replay_speed == 0.0 || (o.replay_speed >= 0.1 && o.replay_speed <= 10.0))) {
      out.exit_code = 2;
      out.output = "fleetscope: --replay-speed must be 0 or from 0.1 to 10\n";
      return out;
    }
    if ((parser.isSet(replay_from) || parser.isSet(replay_speed)) && o.open.isEmpty()) {
      out.exit_code = 2;
      out.output = "fleetscope: --replay-from and --replay-speed only apply with --open\n";
      return out;
    }
  }
  o.dashboard_tab = dashboard_panel_index(parser.value(tab));
  if (o.dashboard_tab < 0) {
    out.exit_code = 2;
    out.output = "fleetscope: --dashboard-tab must be one of " + panel_ids.join(", ") + "\n";
    return out;
  }
  bool ok = false;
  o.screenshot_after_s = parser.value(after).toDouble(&ok);
  if (!ok || !(o.screenshot_after_s >= 0.0 && o.screenshot_after_s <= 3600.0)) {
    out.exit_code = 2;
    out.output = "fleetscope: --screenshot-after must be a number of seconds from 0 to 3600\n";
    return out;
  }
  if (!o.panels_screenshot.isEmpty() && !o.screenshot.isEmpty()) {
    out.exit_code = 2;
    out.output = "fleetscope: use either --screenshot or --panels-screenshot\n";
    return out;
  }
  o.frames = parser.value(frames).toInt(&ok);
  if (!ok || o.frames < 1 || o.frames > 100000) {
    out.exit_code = 2;
    out.output = "fleetscope: --frames must be a whole number from 1 to 100000\n";
    return out;
  }
  o.max_fps = parser.value(max_fps).toDouble(&ok);
  if (!ok || !(o.max_fps >= 1.0 && o.max_fps <= 1000.0)) {
    out.exit_code = 2;
    out.output = "fleetscope: --max-fps must be a number from 1 to 1000\n";
    return out;
  }
  if (parser.isSet(frames) && o.screenshot.isEmpty()) {
    out.exit_code = 2;
    out.output = "fleetscope: --frames only applies with --screenshot\n";
    return out;
  }
  const bool screenshot_mode = !o.screenshot.isEmpty() || !o.panels_screenshot.isEmpty();
  if ((parser.isSet(size) || parser.isSet(camera)) && !screenshot_mode) {
    out.exit_code = 2;
    out.output = "fleetscope: --size and --camera only apply with --screenshot or --panels-screenshot\n";
    return out;
  }
  if (parser.isSet(size)) {
    const QStringList wh = parser.value(size).split('x');
    int w = 0, h = 0;
    bool ok_w = false, ok_h = false;
    if (wh.size() == 2) {
      w = wh[0].toInt(&ok_w);
      h = wh[1].toInt(&ok_h);
    }
    if (!ok_w || !ok_h || w < 16 || h < 16 || w > 8192 || h > 8192) {
      out.exit_code = 2;
      out.output = "fleetscope: --size must be WIDTHxHEIGHT in pixels, each from 16 to 8192 (e.g. 1280x720)\n";
      return out;
    }
    o.size = QSize(w, h);
  }
  if (parser.isSet(camera)) {
    if (const auto spec = parse_camera(parser.value(camera))) {
      o.camera = *spec;
    } else {
      out.exit_code = 2;
      out.output = "fleetscope: --camera must be 'fit', 'robot:SEGMENT:ROBOT' or 'X,Y,Z@X,Y,Z' (eye@target)\n";
      return out;
    }
  }
  const QString ground_mode = parser.value(ground);
  if (ground_mode == "auto") {
    o.ground = GroundMode::kAuto;
  } else if (ground_mode == "on") {
    o.ground = GroundMode::kOn;
  } else if (ground_mode == "off") {
    o.ground = GroundMode::kOff;
  } else {
    out.exit_code = 2;
    out.output = "fleetscope: --ground must be 'auto', 'on' or 'off'\n";
    return out;
  }
  out.options = o;
  return out;
}

std::optional<CameraSpec> parse_camera(const QString& text) {
  CameraSpec spec;
  if (text == "fit") return spec;
  if (text.startsWith("robot:")) {
    const QStringList parts = text.split(':');
    if (parts.size() != 3 || parts[1].isEmpty() || parts[2].isEmpty()) return std::nullopt;
    spec.kind = CameraSpec::Kind::kRobot;
    spec.segment = parts[1];
    spec.robot = parts[2];
    return spec;
  }
  const QStringList points = text.split('@');
  if (points.size() != 2) return std::nullopt;
  for (int p = 0; p < 2; ++p) {
    const QStringList xyz = points[p].split(',');
    if (xyz.size() != 3) return std::nullopt;
    for (int i = 0; i < 3; ++i) {
      bool ok = false;
      const double v = xyz[i].toDouble(&ok);
      if (!ok || !std::isfinite(v)) return std::nullopt;
      (p == 0 ? spec.eye : spec.target)[i] = v;
    }
  }
  if (spec.eye == spec.target) return std::nullopt;
  spec.kind = CameraSpec::Kind::kEyeTarget;
  return spec;
}

}  // namespace fleetscope::app
