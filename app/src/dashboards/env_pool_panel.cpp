#include "env_pool_panel.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <algorithm>

#include "chart_view.h"
#include "worker_table_model.h"

namespace fleetscope::app {

EnvPoolPanel::EnvPoolPanel(const TelemetryStore& store, QWidget* parent) : DashboardPanel(parent), store_(store) {
  setObjectName("envPoolPanel");
  auto* layout = new QVBoxLayout(this);
  summary_ = new QLabel(tr("no workers reported yet"), this);
  summary_->setObjectName("envPoolSummary");
  layout->addWidget(summary_);
  auto* split = new QSplitter(Qt::Vertical, this);
  model_ = new WorkerTableModel(this);
  table_ = new QTableView(split);
  table_->setObjectName("workerTable");
  table_->setModel(model_);
  table_->verticalHeader()->hide();
  // Sized to contents when the rows change, not on every update (that measures every cell).
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  connect(model_, &QAbstractItemModel::modelReset, table_, &QTableView::resizeColumnsToContents);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  split->addWidget(table_);

  auto* charts = new QWidget(split);
  auto* row = new QHBoxLayout(charts);
  row->setContentsMargins(0, 0, 0, 0);
  throughput_ = new ChartView(tr("Pool throughput (steps/s, running workers)"), charts);
  throughput_->setObjectName("chart:pool-throughput");
  throughput_line_ = new QLineSeries(throughput_);
  throughput_line_->setName(tr("steps/s"));
  throughput_->chart()->addSeries(throughput_line_);
  throughput_x_ = new QValueAxis(throughput_);
  throughput_y_ = new QValueAxis(throughput_);
  throughput_x_->setTitleText(tr("seconds"));
  throughput_x_->setLabelFormat("%.0f");
  throughput_y_->setLabelFormat("%.0f");
  throughput_->chart()->addAxis(throughput_x_, Qt::AlignBottom);
  throughput_->chart()->addAxis(throughput_y_, Qt::AlignLeft);
  throughput_line_->attachAxis(throughput_x_);
  throughput_line_->attachAxis(throughput_y_);
  throughput_->chart()->legend()->hide();
  row->addWidget(throughput_);

  timing_ = new ChartView(tr("Execution vs IPC time per worker (mean ms)"), charts);
  timing_->setObjectName("chart:exec-vs-ipc");
  exec_set_ = new QBarSet(tr("execution"), timing_);
  ipc_set_ = new QBarSet(tr("IPC"), timing_);
  exec_set_->setColor(QColor(70, 130, 200));
  ipc_set_->setColor(QColor(230, 140, 40));
  auto* bars = new QBarSeries(timing_);
  bars->append(exec_set_);
  bars->append(ipc_set_);
  timing_->chart()->addSeries(bars);
  timing_x_ = new QBarCategoryAxis(timing_);
  timing_y_ = new QValueAxis(timing_);
  timing_->chart()->addAxis(timing_x_, Qt::AlignBottom);
  timing_->chart()->addAxis(timing_y_, Qt::AlignLeft);
  bars->attachAxis(timing_x_);
  bars->attachAxis(timing_y_);
  row->addWidget(timing_);
  split->addWidget(charts);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  layout->addWidget(split, 1);

  throughput_->setProvider([store = &store_] {
    std::vector<ExportSeries> out;
    ExportSeries e{"steps_per_s", "seconds", {}};
    for (const auto& [t, v] : store->throughput()) e.points.emplace_back(t, v);
    out.push_back(std::move(e));
    return out;
  });
  WorkerTableModel* model = model_;
  timing_->setProvider([model] {
    ExportSeries exec{"exec_mean_ms", "worker", {}}, ipc{"ipc_mean_ms", "worker", {}};
    for (const auto& w : model->workers()) {
      exec.points.emplace_back(w.row.worker_id, w.exec_mean_s * 1000.0);
      ipc.points.emplace_back(w.row.worker_id, w.ipc_mean_s * 1000.0);
    }
    return std::vector<ExportSeries>{exec, ipc};
  });
}

QString EnvPoolPanel::summaryText() const { return summary_->text(); }

void EnvPoolPanel::refresh() {
  model_->setWorkers(store_.workers());
  if (++refreshes_ % 10 == 0) table_->resizeColumnsToContents();  // numbers grow; not every update
  // One more bucket for states a newer writer may report that this viewer does not know.
  int counts[ipc::kWorkerStateCount + 1] = {};
  for (const auto& w : model_->workers()) {
    ++counts[std::min(static_cast<std::uint32_t>(w.state), ipc::kWorkerStateCount)];
  }
  QStringList parts;
  for (std::uint32_t s = 0; s <= ipc::kWorkerStateCount; ++s) {
    if (counts[s]) parts << QString("%1 %2").arg(counts[s]).arg(ipc::worker_state_name(static_cast<ipc::WorkerState>(s)));
  }
  const double total = store_.throughput().empty() ? 0.0 : store_.throughput().back().second;
  const QString text = model_->workers().empty()
      ? tr("no workers reported yet")
      : tr("%1 workers: %2 | %3 steps/s").arg(model_->workers().size()).arg(parts.join(", ")).arg(total, 0, 'f', 0);
  if (summary_->text() != text) summary_->setText(text);
  if (!isVisible()) return;

  std::vector<QPointF> points;
  double y1 = 1.0;
  for (const auto& [t, v] : store_.throughput()) {
    points.emplace_back(t, v);
    y1 = std::max(y1, v);
  }
  throughput_line_->replace(thin_points(points, 400));
  if (!points.empty()) {
    fit_axis(throughput_x_, points.front().x(), points.back().x(), 0.2);
    fit_axis(throughput_y_, 0.0, y1, 0.1);
  }
  QStringList categories;
  QList<qreal> exec, ipc;
  double top = 0.001;
  for (const auto& w : model_->workers()) {
    categories << QString("w%1").arg(w.row.worker_id);
    exec << w.exec_mean_s * 1000.0;
    ipc << w.ipc_mean_s * 1000.0;
    top = std::max({top, w.exec_mean_s * 1000.0, w.ipc_mean_s * 1000.0});
  }
  if (timing_x_->categories() != categories) {
    timing_x_->clear();
    timing_x_->append(categories);
  }
  // Whole lists at once: a per-value replace() would lay the chart out once per value.
  exec_set_->remove(0, exec_set_->count());
  ipc_set_->remove(0, ipc_set_->count());
  exec_set_->append(exec);
  ipc_set_->append(ipc);
  fit_axis(timing_y_, 0.0, top, 0.1);
}

}  // namespace fleetscope::app
