// The dashboards window: the panels of dashboard_panels() (Trainer, Environment pool, Grasp jobs,
// Viewer) in tabs, fed by a TelemetryStore that reads the sources of the main window's registry. A window of its own
// (not a dock) so its repaints never recompose the 3D view's GL window.
#pragma once

#include <QTimer>
#include <QWidget>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dashboard_panel.h"
#include "telemetry_store.h"
#include "viewer_kpi_panel.h"

class QLabel;
class QTabWidget;

namespace fleetscope::app {

class EnvPoolPanel;
class GraspPanel;
class TrainerPanel;

class DashboardWindow : public QWidget {
  Q_OBJECT
 public:
  // Reads the sources of `registry` (the main window's; it outlives this window).
  explicit DashboardWindow(ipc::SourceRegistry& registry, QWidget* parent = nullptr);
  ~DashboardWindow() override;

  // What the main window asks of the dashboards.
  // Brings panel `id` (dashboard_panels()) to the front; false when there is none.
  bool showPanel(QAnyStringView id);
  // Shows this grasp manifest in the Grasp jobs panel (and follows it on disk) instead of telemetry.
  void openGraspManifest(const QString& path);
  // Shows the window and the Grasp jobs panel, and asks the user for a manifest to open.
  void chooseGraspManifest();
  // One second of the viewer's own figures, for the Viewer panel.
  void addViewerSample(const ViewerKpiSample& sample);
  struct TelemetryTotals {
    std::uint64_t received = 0;  // records taken from the telemetry rings
    std::uint64_t lost = 0;      // records the viewer missed (it fell behind a ring)
  };
  TelemetryTotals telemetryTotals() const;

  // For tests: the store and the panels.
  TelemetryStore& store() { return *store_; }
  TrainerPanel* trainer() const;
  EnvPoolPanel* envPool() const;
  GraspPanel* grasp() const;
  ViewerKpiPanel* viewerKpis() const;
  QTabWidget* tabs() const { return tabs_; }

  // Polls the segments and refreshes every panel now (the timers do it continuously).
  void pollNow();
  void refreshNow();
  // CPU time this window spent (polling, refreshing, painting) since the last call, in % of a core.
  double takeCpuPercent();
  // Saves each panel as <dir>/<panel>.png (the trainer panel whole, every chart; one taller than an
  // image holds goes on in <panel>-2.png, ...); returns the files written, or throws std::runtime_error.
  QStringList savePanels(const QString& dir);

 protected:
  bool event(QEvent* event) override;

 private:
  void savePanelAs();
  // The first panel of type Panel, or nullptr.
  template <typename Panel>
  Panel* panel() const;

  std::unique_ptr<TelemetryStore> store_;
  QTabWidget* tabs_;
  std::vector<DashboardPanel*> panels_;  // as dashboard_panels() lists them (the tabs' order)
  QLabel* status_;
  QTimer poll_timer_;
  QTimer refresh_timer_;
  std::uint64_t cpu_ns_ = 0;
  std::uint64_t poll_ns_ = 0, refresh_ns_ = 0, paint_ns_ = 0;  // its parts, for --verbose
  std::uint64_t cpu_taken_wall_ns_ = 0;
};

}  // namespace fleetscope::app
