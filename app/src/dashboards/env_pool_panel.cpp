#include "env_pool_panel.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineSeries>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <algorithm>

#include "chart_view.h"
#include "worker_table_model.h"

namespace fleetscope::app {
namespace {

// The bars of the execution vs IPC chart, per worker: the one list of which timings it shows (the
// chart and its CSV export both read it).
struct TimingBar {
  const char* name;         // legend (tr() in EnvPoolPanel)
  const char* export_name;  // CSV series
  QRgb color;
  double WorkerView::*mean_s;
};
constexpr TimingBar kTimingBars[] = {
    {"execution", "exec_mean_ms", qRgb(70, 130, 200), &WorkerView::exec_mean_s},
    {"IPC", "ipc_mean_ms", qRgb(230, 140, 40), &WorkerView::ipc_mean_s},
};

double mean_ms(const WorkerView& worker, const TimingBar& bar) { return worker.*bar.mean_s * 1000.0; }

}  // namespace

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
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { onRowSelected(); });
  // A reset (rows added or gone) drops the selection: put it back on the same worker.
  connect(model_, &QAbstractItemModel::modelReset, this, [this] { reselect(); });
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
  auto* bars = new QBarSeries(timing_);
  for (const TimingBar& bar : kTimingBars) {
    auto* set = new QBarSet(tr(bar.name), timing_);
    set->setColor(QColor(bar.color));
    bars->append(set);
    timing_sets_.push_back(set);
  }
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
    std::vector<ExportSeries> out;
    for (const TimingBar& bar : kTimingBars) {
      ExportSeries e{bar.export_name, "worker", {}};
      for (const auto& w : model->workers()) e.points.emplace_back(w.row.worker_id, mean_ms(w, bar));
      out.push_back(std::move(e));
    }
    return out;
  });
}

QString EnvPoolPanel::summaryText() const { return summary_->text(); }

void EnvPoolPanel::onRowSelected() {
  if (selecting_) return;
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.isEmpty()) return;
  const auto& workers = model_->workers();
  const auto row = static_cast<std::size_t>(rows.first().row());
  if (row >= workers.size()) return;
  selected_ = workers[row].row.worker_id;
  emit workerSelected(*selected_);
}

bool EnvPoolPanel::selectWorker(std::uint32_t worker_id) {
  selected_ = worker_id;
  const auto& workers = model_->workers();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (workers[i].row.worker_id != worker_id) continue;
    selecting_ = true;
    table_->selectRow(static_cast<int>(i));
    table_->scrollTo(model_->index(static_cast<int>(i), 0));
    selecting_ = false;
    return true;
  }
  return false;
}

void EnvPoolPanel::reselect() {
  if (!selected_) return;
  const auto& workers = model_->workers();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (workers[i].row.worker_id != *selected_) continue;
    selecting_ = true;
    table_->selectRow(static_cast<int>(i));
    selecting_ = false;
    return;
  }
}

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
  for (const auto& w : model_->workers()) categories << QString("w%1").arg(w.row.worker_id);
  if (timing_x_->categories() != categories) {
    timing_x_->clear();
    timing_x_->append(categories);
  }
  double top = 0.001;
  for (std::size_t b = 0; b < std::size(kTimingBars); ++b) {
    QList<qreal> values;
    for (const auto& w : model_->workers()) {
      values << mean_ms(w, kTimingBars[b]);
      top = std::max(top, values.back());
    }
    // Whole lists at once: a per-value replace() would lay the chart out once per value.
    timing_sets_[b]->remove(0, timing_sets_[b]->count());
    timing_sets_[b]->append(values);
  }
  fit_axis(timing_y_, 0.0, top, 0.1);
}

}  // namespace fleetscope::app
