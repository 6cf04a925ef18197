// The Sources dock: every fleetscope segment on the machine with its writer state, pid, robots,
// links and frames/s; attach and detach; attach new segments automatically; what to do with
// robots of writers that died.
//
// Discovery (opening every segment on the machine) runs on a DiscoveryWorker thread once a
// second; the figures of attached segments come from the scene on the GUI thread. The table is a
// QTableView over a SourcesModel that signals only the rows and cells that changed.
#pragma once

#include <QDockWidget>
#include <QString>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "discovery_worker.h"

class QCheckBox;
class QTableView;

namespace fleetscope::app {

class LiveScene;
class SourcesModel;

class SourcesDock : public QDockWidget {
  Q_OBJECT
 public:
  SourcesDock(LiveScene* live, QWidget* parent = nullptr);
  ~SourcesDock() override;
  bool autoAttach() const;
  void setAutoAttach(bool on);
  bool keepDeadRobots() const;
  void setKeepDeadRobots(bool keep);
  // Attaches one segment; returns an empty string or the error message.
  QString attach(const QString& name);
  // Rebuilds the rows from the latest discovery and the scene (and auto-attaches); asks the
  // worker for a fresh discovery when an attached segment was let go.
  void refresh();
  int rowCount() const;
  SourcesModel* model() const { return model_; }
  DiscoveryWorker* discovery() const { return worker_.get(); }
  // Stops discovery (joins its thread); the dock shows what it has from then on. For shutdown.
  void stopDiscovery();

 signals:
  void message(const QString& text);
  // The Connect... and Open recording... buttons: the window asks for the address or the file.
  void connectRequested();
  void openRecordingRequested();

 private:
  void onDiscovered(std::shared_ptr<const DiscoveryResult> result);
  void attachSelected();
  void detachSelected();
  void scheduleRefresh();

  struct FrameSample {
    std::uint64_t frame = 0;
    std::uint64_t time_ns = 0;
    double fps = 0.0;
  };
  struct Refusal {
    std::uint64_t created_unix_ns = 0;
    std::string error;
  };

  LiveScene* live_;
  SourcesModel* model_;
  QTableView* table_;
  QCheckBox* auto_attach_;
  QCheckBox* keep_dead_;
  std::unique_ptr<DiscoveryWorker> worker_;
  std::shared_ptr<const DiscoveryResult> latest_;
  std::map<std::string, FrameSample> last_frames_;
  std::map<std::string, Refusal> refused_;  // auto-attach errors, reported once per writer
  bool columns_sized_ = false;
  bool refresh_scheduled_ = false;
};

}  // namespace fleetscope::app
