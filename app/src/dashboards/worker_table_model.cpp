#include "worker_table_model.h"

#include <QColor>

namespace fleetscope::app {

QColor worker_state_color(ipc::WorkerState state) {
  switch (state) {
    case ipc::WorkerState::kStarting: return QColor(120, 170, 230);
    case ipc::WorkerState::kRunning: return QColor(110, 200, 120);
    case ipc::WorkerState::kStalled: return QColor(240, 190, 60);
    case ipc::WorkerState::kDead: return QColor(225, 90, 90);
    case ipc::WorkerState::kRestarting: return QColor(190, 130, 220);
    case ipc::WorkerState::kStopped: return QColor(180, 180, 180);
  }
  return {};
}

void WorkerTableModel::setWorkers(std::vector<WorkerView> workers) {
  replaceRows(std::move(workers), [](const WorkerView& a, const WorkerView& b) {
    return a.source == b.source && a.row.worker_id == b.row.worker_id;
  });
}

QVariant WorkerTableModel::data(const QModelIndex& index, int role) const {
  const WorkerView* found = rowAt(index);
  if (!found) return {};
  const WorkerView& w = *found;
  if (role == Qt::BackgroundRole && index.column() == kState) return worker_state_color(w.state);
  if (role == Qt::TextAlignmentRole && index.column() >= kPid && index.column() != kHost && index.column() != kState) {
    return QVariant(Qt::AlignRight | Qt::AlignVCenter);
  }
  if (role == Qt::UserRole) {  // raw values for tests and sorting
    switch (index.column()) {
      case kState: return static_cast<int>(w.state);
      case kPid: return static_cast<int>(w.row.pid);
      case kSteps: return static_cast<qulonglong>(w.row.steps);
      default: return data(index, Qt::DisplayRole);
    }
  }
  if (role != Qt::DisplayRole) return {};
  const auto ms = [](double s) { return QString::number(s * 1000.0, 'f', 2); };
  switch (index.column()) {
    case kSource: return QString::fromStdString(w.source);
    case kWorker: return w.row.worker_id;
    case kPid: return static_cast<int>(w.row.pid);
    case kHost: return QString::fromStdString(w.row.host);
    case kState: return QString(ipc::worker_state_name(w.state));
    case kHeartbeat: return QString::number(w.heartbeat_age_s, 'f', 1) + " s";
    case kRestarts: return w.row.restarts;
    case kSteps: return static_cast<qulonglong>(w.row.steps);
    case kStepsPerS: return QString::number(w.row.steps_per_s, 'f', 0);
    case kChunk: return w.row.chunk_size;
    case kExecMean: return ms(w.exec_mean_s);
    case kExecP95: return ms(w.exec_p95_s);
    case kIpcMean: return ms(w.ipc_mean_s);
    case kIpcP95: return ms(w.ipc_p95_s);
    default: return {};
  }
}

QVariant WorkerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Segment", "Worker", "PID", "Host/GPU", "State", "Heartbeat", "Restarts", "Steps",
                                "Steps/s", "Chunk", "Exec mean ms", "Exec p95 ms", "IPC mean ms", "IPC p95 ms"};
  return section >= 0 && section < kColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace fleetscope::app
