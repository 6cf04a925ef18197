// The grasp jobs table: one row per object, with progress towards its quota and an ETA; the
// Progress column is drawn as a bar by ProgressBarDelegate.
#pragma once

#include <QAbstractTableModel>
#include <QStyledItemDelegate>
#include <vector>

#include "telemetry_store.h"

namespace fleetscope::app {

QString duration_text(std::optional<double> seconds);

class JobTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    kObject, kProgress, kCollected, kTarget, kDone, kFailed, kRetried, kGpu, kLastSeed, kState, kEta, kColumnCount
  };
  using QAbstractTableModel::QAbstractTableModel;
  void setJobs(std::vector<JobView> jobs);
  const std::vector<JobView>& jobs() const { return jobs_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<JobView> jobs_;
};

// Draws an integer percentage (the model's UserRole) as a progress bar.
class ProgressBarDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

}  // namespace fleetscope::app
