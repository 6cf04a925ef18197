// The environment pool panel: the worker table, aggregate throughput over time and execution
// versus IPC time per worker.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "dashboard_panel.h"
#include "telemetry_store.h"

class QBarCategoryAxis;
class QBarSet;
class QLabel;
class QLineSeries;
class QTableView;
class QValueAxis;

namespace fleetscope::app {

class ChartView;
class WorkerTableModel;

class EnvPoolPanel : public DashboardPanel {
  Q_OBJECT
 public:
  // Shows what `store` holds (it outlives the panel).
  explicit EnvPoolPanel(const TelemetryStore& store, QWidget* parent = nullptr);
  void refresh() override;
  WorkerTableModel* model() const { return model_; }
  ChartView* throughputChart() const { return throughput_; }
  ChartView* timingChart() const { return timing_; }
  QString summaryText() const;
  // Selects the row of this worker (the first, if several pools use the id) without announcing
  // it as the user's choice (no workerSelected): the 3D view asked. False when no row has it.
  bool selectWorker(std::uint32_t worker_id);
  // The selected row's worker, if any.
  std::optional<std::uint32_t> selectedWorker() const { return selected_; }

 signals:
  // The user selected a worker row: the 3D view highlights and frames its robots.
  void workerSelected(std::uint32_t worker_id);

 private:
  void onRowSelected();
  void reselect();
  const TelemetryStore& store_;
  WorkerTableModel* model_;
  QTableView* table_;
  QLabel* summary_;
  ChartView* throughput_;
  QLineSeries* throughput_line_;
  QValueAxis* throughput_x_;
  QValueAxis* throughput_y_;
  ChartView* timing_;
  std::vector<QBarSet*> timing_sets_;  // one per timing bar, in the chart's order
  QBarCategoryAxis* timing_x_;
  QValueAxis* timing_y_;
  unsigned refreshes_ = 0;
  std::optional<std::uint32_t> selected_;
  bool selecting_ = false;  // a selection made by this panel itself, not by the user
};

}  // namespace fleetscope::app
