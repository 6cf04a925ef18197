// The environment pool's worker table: one row per (segment, worker id), state colours.
#pragma once

#include <vector>

#include "row_table_model.h"
#include "telemetry_store.h"

namespace fleetscope::app {

class WorkerTableModel : public RowTableModel<WorkerView> {
  Q_OBJECT
 public:
  enum Column {
    kSource, kWorker, kPid, kHost, kState, kHeartbeat, kRestarts, kSteps, kStepsPerS, kChunk,
    kExecMean, kExecP95, kIpcMean, kIpcP95, kColumnCount
  };
  explicit WorkerTableModel(QObject* parent = nullptr) : RowTableModel(kColumnCount, parent) {}
  void setWorkers(std::vector<WorkerView> workers);
  const std::vector<WorkerView>& workers() const { return rows(); }

  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
};

QColor worker_state_color(ipc::WorkerState state);

}  // namespace fleetscope::app
