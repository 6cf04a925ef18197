#include "worker_table_model.h"

#include <QColor>
#include <array>

namespace fleetscope::app {
namespace {

QString ms(double seconds) { return QString::number(seconds * 1000.0, 'f', 2); }

using Worker = const WorkerView&;
using Model = WorkerTableModel;

std::array<TableColumn<WorkerView>, Model::kColumnCount> make_worker_columns() {
  std::array<TableColumn<WorkerView>, Model::kColumnCount> c;
  c[Model::kSource] = {.header = "Segment",
                       .text = [](Worker w) -> QVariant { return QString::fromStdString(w.source); }};
  c[Model::kWorker] = {.header = "Worker", .text = [](Worker w) -> QVariant { return w.row.worker_id; }};
  c[Model::kPid] = {.header = "PID",
                    .text = [](Worker w) -> QVariant { return static_cast<int>(w.row.pid); },
                    .right_aligned = true};
  c[Model::kHost] = {.header = "Host/GPU",
                     .text = [](Worker w) -> QVariant { return QString::fromStdString(w.row.host); }};
  c[Model::kState] = {.header = "State",
                      .text = [](Worker w) -> QVariant { return QString(ipc::worker_state_name(w.state)); },
                      .value = [](Worker w) -> QVariant { return static_cast<int>(w.state); },
                      .background = [](Worker w) -> QVariant { return worker_state_color(w.state); }};
  c[Model::kHeartbeat] = {.header = "Heartbeat",
                          .text = [](Worker w) -> QVariant {
                            return QString::number(w.heartbeat_age_s, 'f', 1) + " s";
                          },
                          .right_aligned = true};
  c[Model::kRestarts] = {.header = "Restarts",
                         .text = [](Worker w) -> QVariant { return w.row.restarts; },
                         .right_aligned = true};
  c[Model::kSteps] = {.header = "Steps",
                      .text = [](Worker w) -> QVariant { return static_cast<qulonglong>(w.row.steps); },
                      .right_aligned = true};
  c[Model::kStepsPerS] = {.header = "Steps/s",
                          .text = [](Worker w) -> QVariant { return QString::number(w.row.steps_per_s, 'f', 0); },
                          .right_aligned = true};
  c[Model::kChunk] = {.header = "Chunk",
                      .text = [](Worker w) -> QVariant { return w.row.chunk_size; },
                      .right_aligned = true};
  c[Model::kExecMean] = {.header = "Exec mean ms",
                         .text = [](Worker w) -> QVariant { return ms(w.exec_mean_s); },
                         .right_aligned = true};
  c[Model::kExecP95] = {.header = "Exec p95 ms",
                        .text = [](Worker w) -> QVariant { return ms(w.exec_p95_s); },
                        .right_aligned = true};
  c[Model::kIpcMean] = {.header = "IPC mean ms",
                        .text = [](Worker w) -> QVariant { return ms(w.ipc_mean_s); },
                        .right_aligned = true};
  c[Model::kIpcP95] = {.header = "IPC p95 ms",
                       .text = [](Worker w) -> QVariant { return ms(w.ipc_p95_s); },
                       .right_aligned = true};
  return c;
}

}  // namespace

std::span<const TableColumn<WorkerView>> worker_columns() {
  static const auto columns = make_worker_columns();
  return columns;
}

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

WorkerTableModel::WorkerTableModel(QObject* parent) : RowTableModel(worker_columns(), parent) {}

void WorkerTableModel::setWorkers(std::vector<WorkerView> workers) {
  replaceRows(std::move(workers), [](const WorkerView& a, const WorkerView& b) {
    return a.source == b.source && a.row.worker_id == b.row.worker_id;
  });
}

}  // namespace fleetscope::app
