// The grasp jobs table: one row per object, with progress towards its quota and an ETA; the
// Progress column is drawn as a bar by ProgressBarDelegate. Its columns (header and cell of each)
// are job_columns(), the one list of what a job row shows.
#pragma once

#include <QStyledItemDelegate>
#include <span>
#include <vector>

#include "row_table_model.h"
#include "telemetry_store.h"

namespace fleetscope::app {

QString duration_text(std::optional<double> seconds);

class JobTableModel : public RowTableModel<JobView> {
  Q_OBJECT
 public:
  enum Column {
    kObject, kProgress, kCollected, kTarget, kDone, kFailed, kRetried, kGpu, kLastSeed, kState, kEta, kColumnCount
  };
  explicit JobTableModel(QObject* parent = nullptr);
  void setJobs(std::vector<JobView> jobs);
  const std::vector<JobView>& jobs() const { return rows(); }
};

// A job row's columns, in JobTableModel::Column order.
std::span<const TableColumn<JobView>> job_columns();

// Draws an integer percentage (the model's UserRole) as a progress bar.
class ProgressBarDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

}  // namespace fleetscope::app
