// The viewer's main window: the 3D view in the centre, Sources and Robots docks, a status bar
// with frame rate, frame time and latency. Layout and settings persist (QSettings).
#pragma once

#include <QMainWindow>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app_options.h"
#include "fleetscope/ipc/source_registry.hpp"
#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/frame_statistics.hpp"

class QLabel;

namespace fleetscope::app {
class ProcessUsage;
}
namespace fleetscope::relay {
class RelayClient;
}

namespace fleetscope::app {

class DashboardWindow;
class DemoChildren;
class KpiLogger;
class LiveScene;
class ReplayController;
class TimelineBar;
class RobotsDock;
class SourcesDock;
class VtkHostWidget;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const AppOptions& options, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Attaches what the command line names; returns the error of the first that fails.
  QString attachFromOptions();
  // Opens an MCAP recording: each recorded segment becomes a source, shown at the replay's
  // position. Returns the error (empty when opened).
  QString openRecording(const QString& path);
  ReplayController* replay() const { return replay_; }
  // File > Record: records the attached local segments into `path` (a child fleetscope-shm).
  // Return the error (start) or the recorder's summary (stop).
  QString startRecording(const QString& path);
  QString stopRecording();
  class RecordingProcess* recorder() const { return recorder_; }
  QLabel* recordingIndicator() const { return rec_label_; }
  // Every source the views read (tests look sources up here).
  ipc::SourceRegistry& registry() { return *registry_; }
  TimelineBar* timeline() const { return timeline_; }

  VtkHostWidget* view() const { return view_; }
  LiveScene* live() const { return live_; }
  SourcesDock* sourcesDock() const { return sources_; }
  RobotsDock* robotsDock() const { return robots_; }
  DashboardWindow* dashboards() const { return dashboards_; }
  DemoChildren* demo() const { return demo_; }

 signals:
  // Screenshot mode finished: the exit code to use.
  void screenshotDone(int exit_code);

 public:
  // Saves every dashboard panel into options.panels_screenshot; emits screenshotDone.
  void savePanelsAndFinish();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void onSummary(const render::FrameSummary& summary);
  void onSelection(const std::optional<render::PickResult>& pick);
  void onFrameDone(std::uint64_t frames);
  void showMessage(const QString& text);
  // The env-pool panel's worker selection and the 3D view's robots, both ways (robot attributes).
  void onWorkerSelected(std::uint32_t worker_id);
  void updateWorkerHealth();
  void setColorMode(render::ColorMode mode);

  // Relays of --connect: their segments are attached as RemoteSources as they appear.
  void relayTick();
  // Connects to a relay (--connect, File > Connect to relay...); returns the error (empty when fine).
  QString connectRelay(const QString& endpoint);
  std::vector<std::shared_ptr<relay::RelayClient>> relays_;
  class QTimer* relay_timer_ = nullptr;
  AppOptions options_;
  std::unique_ptr<ipc::SourceRegistry> registry_;  // before the views that borrow it
  bool initial_auto_attach_ = false;  // as the window started: saved only when the user changed it
  VtkHostWidget* view_;
  LiveScene* live_;
  SourcesDock* sources_;
  RobotsDock* robots_;
  QLabel* stats_label_;
  QLabel* selection_label_;
  class ScalarLegendWidget* legend_ = nullptr;
  std::unique_ptr<KpiLogger> kpi_;
  DashboardWindow* dashboards_;
  DemoChildren* demo_ = nullptr;
  std::unique_ptr<ProcessUsage> usage_;
  std::uint64_t started_ns_;
  // Recordings replayed (--open, File > Open recording): their sources go into the registry, the
  // controller plays them on one clock, the timeline bar (shown once one is open) drives it.
  class ReplayController* replay_ = nullptr;
  class RecordingProcess* recorder_ = nullptr;
  QLabel* rec_label_ = nullptr;  // red "REC 12 s 3.4 MB" while recording
  class QAction* record_action_ = nullptr;
  void updateRecordingIndicator();
  class TimelineBar* timeline_ = nullptr;
};

}  // namespace fleetscope::app
