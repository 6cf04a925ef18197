#include "job_table_model.h"

#include <QApplication>
#include <QColor>
#include <QPainter>
#include <QStyleOptionProgressBar>
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

void JobTableModel::setJobs(std::vector<JobView> jobs) {
  replaceRows(std::move(jobs), [](const JobView& a, const JobView& b) {
    return a.source == b.source && a.row.object_code == b.row.object_code;
  });
}

QVariant JobTableModel::data(const QModelIndex& index, int role) const {
  const JobView* found = rowAt(index);
  if (!found) return {};
  const JobView& j = *found;
  const auto& r = j.row;
  const int percent = r.target_count == 0
      ? 100
      : static_cast<int>(std::min<std::uint64_t>(100, r.collected_count * 100 / r.target_count));
  if (role == Qt::UserRole && index.column() == kProgress) return percent;
  if (role == Qt::BackgroundRole && index.column() == kState) {
    switch (r.state) {
      case ipc::JobState::kQueued: return QColor(200, 200, 200);
      case ipc::JobState::kRunning: return QColor(120, 170, 230);
      case ipc::JobState::kDone: return QColor(110, 200, 120);
      case ipc::JobState::kFailed: return QColor(225, 90, 90);
    }
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kObject: return QString::fromStdString(r.object_code);
    case kProgress: return QString("%1%").arg(percent);
    case kCollected: return static_cast<qulonglong>(r.collected_count);
    case kTarget: return static_cast<qulonglong>(r.target_count);
    case kDone: return r.rounds_done;
    case kFailed: return r.rounds_failed;
    case kRetried: return r.rounds_retried;
    case kGpu: return r.gpu >= 0 ? QVariant(r.gpu) : QVariant(QStringLiteral("–"));
    case kLastSeed: return static_cast<qulonglong>(r.last_seed);
    case kState: return QString(ipc::job_state_name(r.state));
    case kEta: return duration_text(j.eta_s);
    default: return {};
  }
}

QVariant JobTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Object", "Progress", "Collected", "Quota", "Rounds done", "Failed",
                                "Retried", "GPU", "Last seed", "State", "ETA"};
  return section >= 0 && section < kColumnCount ? QString(names[section]) : QVariant();
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
