// The environment pool's worker table: one row per (segment, worker id), state colours. Its
// columns (header and cell of each) are worker_columns(), the one list of what a worker row shows.
#pragma once

#include <span>
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
  explicit WorkerTableModel(QObject* parent = nullptr);
  void setWorkers(std::vector<WorkerView> workers);
  const std::vector<WorkerView>& workers() const { return rows(); }
};

// A worker row's columns, in WorkerTableModel::Column order.
std::span<const TableColumn<WorkerView>> worker_columns();

QColor worker_state_color(ipc::WorkerState state);

}  // namespace fleetscope::app
