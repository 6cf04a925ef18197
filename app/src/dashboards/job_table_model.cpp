#include "job_table_model.h"

#include <QApplication>
#include <QColor>
#include <QPainter>
#include <QStyleOptionProgressBar>
#include <algorithm>
#include <array>
#include <cmath>

namespace fleetscope::app {

QString duration_text(std::optional<double> seconds) {
  if (!seconds) return QStringLiteral("–");
  const auto s = static_cast<long long>(std::llround(*seconds));
  if (s <= 0) return QStringLiteral("done");
  if (s < 60) return QString("%1 s").arg(s);
  if (s < 3600) return QString("%1 min %2 s").arg(s / 60).arg(s % 60);
  return QString("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

namespace {

using Job = const JobView&;
using Model = JobTableModel;

// Collected of the quota, in whole percent (an empty quota is complete).
int percent_done(const ipc::JobRowRead& r) {
  return r.target_count == 0
      ? 100
      : static_cast<int>(std::min<std::uint64_t>(100, r.collected_count * 100 / r.target_count));
}

// A state a newer writer reports that this viewer does not know: no colour.
QVariant job_state_color(ipc::JobState state) {
  switch (state) {
    case ipc::JobState::kQueued: return QColor(200, 200, 200);
    case ipc::JobState::kRunning: return QColor(120, 170, 230);
    case ipc::JobState::kDone: return QColor(110, 200, 120);
    case ipc::JobState::kFailed: return QColor(225, 90, 90);
  }
  return {};
}

std::array<TableColumn<JobView>, Model::kColumnCount> make_job_columns() {
  std::array<TableColumn<JobView>, Model::kColumnCount> c;
  c[Model::kObject] = {.header = "Object",
                       .text = [](Job j) -> QVariant { return QString::fromStdString(j.row.object_code); }};
  c[Model::kProgress] = {.header = "Progress",
                         .text = [](Job j) -> QVariant { return QString("%1%").arg(percent_done(j.row)); },
                         .value = [](Job j) -> QVariant { return percent_done(j.row); }};  // the bar's value
  c[Model::kCollected] = {.header = "Collected",
                          .text = [](Job j) -> QVariant { return static_cast<qulonglong>(j.row.collected_count); }};
  c[Model::kTarget] = {.header = "Quota",
                       .text = [](Job j) -> QVariant { return static_cast<qulonglong>(j.row.target_count); }};
  c[Model::kDone] = {.header = "Rounds done", .text = [](Job j) -> QVariant { return j.row.rounds_done; }};
  c[Model::kFailed] = {.header = "Failed", .text = [](Job j) -> QVariant { return j.row.rounds_failed; }};
  c[Model::kRetried] = {.header = "Retried", .text = [](Job j) -> QVariant { return j.row.rounds_retried; }};
  c[Model::kGpu] = {.header = "GPU",
                    .text = [](Job j) -> QVariant {
                      return j.row.gpu >= 0 ? QVariant(j.row.gpu) : QVariant(QStringLiteral("–"));
                    }};
  c[Model::kLastSeed] = {.header = "Last seed",
                         .text = [](Job j) -> QVariant { return static_cast<qulonglong>(j.row.last_seed); }};
  c[Model::kState] = {.header = "State",
                      .text = [](Job j) -> QVariant { return QString(ipc::job_state_name(j.row.state)); },
                      .background = [](Job j) -> QVariant { return job_state_color(j.row.state); }};
  c[Model::kEta] = {.header = "ETA", .text = [](Job j) -> QVariant { return duration_text(j.eta_s); }};
  return c;
}

}  // namespace

std::span<const TableColumn<JobView>> job_columns() {
  static const auto columns = make_job_columns();
  return columns;
}

JobTableModel::JobTableModel(QObject* parent) : RowTableModel(job_columns(), parent) {}

void JobTableModel::setJobs(std::vector<JobView> jobs) {
  replaceRows(std::move(jobs), [](const JobView& a, const JobView& b) {
    return a.source == b.source && a.row.object_code == b.row.object_code;
  });
}

void ProgressBarDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
  QStyleOptionProgressBar bar;
  bar.rect = option.rect.adjusted(2, 3, -2, -3);
  bar.minimum = 0;
  bar.maximum = 100;
  bar.progress = index.data(Qt::UserRole).toInt();
  bar.text = index.data(Qt::DisplayRole).toString();
  bar.textVisible = true;
  bar.state = option.state | QStyle::State_Horizontal;
  QApplication::style()->drawControl(QStyle::CE_ProgressBar, &bar, painter);
}

}  // namespace fleetscope::app
