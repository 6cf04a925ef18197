// The environment pool's worker table: one row per (segment, worker id), state colours.
#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "telemetry_store.h"

namespace fleetscope::app {

class WorkerTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    kSource, kWorker, kPid, kHost, kState, kHeartbeat, kRestarts, kSteps, kStepsPerS, kChunk,
    kExecMean, kExecP95, kIpcMean, kIpcP95, kColumnCount
  };
  using QAbstractTableModel::QAbstractTableModel;
  void setWorkers(std::vector<WorkerView> workers);
  const std::vector<WorkerView>& workers() const { return workers_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<WorkerView> workers_;
};

QColor worker_state_color(ipc::WorkerState state);

}  // namespace fleetscope::app
