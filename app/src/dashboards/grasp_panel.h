// The grasp jobs panel: a row per object with progress, rounds, GPU, seed, state and ETA,
// overall progress and a lane per GPU. Reads telemetry job rows, or a scheduler's manifest.json
// (re-read when it changes on disk; a partial or corrupt file shows an error and the last good
// state stays).
#pragma once

#include <QFileSystemWatcher>
#include <QTimer>
#include <QWidget>
#include <optional>

#include "telemetry_store.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QTableView;

namespace fleetscope::app {

class GpuLanesWidget;
class JobTableModel;

class GraspPanel : public QWidget {
  Q_OBJECT
 public:
  explicit GraspPanel(QWidget* parent = nullptr);
  void refresh(const TelemetryStore& store);
  // Shows this manifest (and watches it) instead of telemetry.
  void openManifest(const QString& path);
  void chooseManifest();
  // Re-reads the manifest now (the watcher also does, shortly after a change).
  void reloadManifest();
  bool showingManifest() const;

  JobTableModel* model() const { return model_; }
  GpuLanesWidget* lanes() const { return lanes_; }
  QString manifestError() const { return manifest_error_; }
  QString summaryText() const;

 private:
  void show(const GraspState& state, double window_s);

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
  const TelemetryStore* store_ = nullptr;
};

}  // namespace fleetscope::app
