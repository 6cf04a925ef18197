// The grasp jobs panel: a row per object with progress, rounds, GPU, seed, state and ETA,
// overall progress and a lane per GPU. Reads telemetry job rows, or a scheduler's manifest.json
// (re-read when it changes on disk; a partial or corrupt file shows an error and the last good
// state stays).
//
// The manifest is read and parsed off the GUI thread (see grasp_manifest.h for what is read at
// all): one read at a time; a change during a read reads again after it; a result for a path no
// longer shown is dropped, so an older read never replaces a newer one.
#pragma once

#include <QFileSystemWatcher>
#include <QFutureWatcher>
#include <QTimer>
#include <cstdint>
#include <optional>
#include <variant>

#include "dashboard_panel.h"
#include "telemetry_store.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QTableView;

namespace fleetscope::app {

class GpuLanesWidget;
class JobTableModel;

class GraspPanel : public DashboardPanel {
  Q_OBJECT
 public:
  // Shows what `store` holds (it outlives the panel) or a manifest.
  explicit GraspPanel(const TelemetryStore& store, QWidget* parent = nullptr);
  void refresh() override;
  // Shows this manifest (and watches it) instead of telemetry.
  void openManifest(const QString& path);
  void chooseManifest();
  // Re-reads the manifest now, in the background (the watcher also does, shortly after a change).
  void reloadManifest();
  bool showingManifest() const;
  // A read of the manifest is under way or asked for.
  bool manifestLoading() const { return loading_ || reload_pending_; }

  JobTableModel* model() const { return model_; }
  GpuLanesWidget* lanes() const { return lanes_; }
  QString manifestError() const { return manifest_error_; }
  QString summaryText() const;

 signals:
  // A read of the manifest finished and was applied (state or error).
  void manifestLoaded();

 private:
  using LoadResult = std::variant<GraspState, QString>;
  void show(const GraspState& state, double window_s);
  void startLoad();
  void onLoaded();
  void apply(LoadResult result);

  const TelemetryStore& store_;
  QComboBox* source_;
  QLabel* path_label_;
  QLabel* error_label_;
  QProgressBar* overall_;
  QLabel* summary_;
  JobTableModel* model_;
  QTableView* table_;
  GpuLanesWidget* lanes_;
  QString manifest_path_;
  QString manifest_error_;
  std::optional<GraspState> manifest_state_;  // the last good read
  QFileSystemWatcher watcher_;
  QTimer reload_timer_;
  QFutureWatcher<LoadResult> load_;
  bool loading_ = false;         // a read is in flight
  bool reload_pending_ = false;  // read again when it ends
  std::uint64_t path_generation_ = 0;  // bumped when another manifest is opened
  std::uint64_t load_generation_ = 0;  // of the read in flight
};

}  // namespace fleetscope::app
