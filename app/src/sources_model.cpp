#include "sources_model.h"

#include <algorithm>

namespace fleetscope::app {

SourcesModel::SourcesModel(QObject* parent) : QAbstractTableModel(parent) {}

int SourcesModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int SourcesModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumns; }

QVariant SourcesModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= kColumns) return {};
  const Row& r = rows_[static_cast<std::size_t>(index.row())];
  switch (role) {
    case Qt::DisplayRole: return r.text[static_cast<std::size_t>(index.column())];
    case Qt::ForegroundRole:
      if (index.column() == kState && r.state_color.isValid()) return r.state_color;
      return {};
    case Qt::ToolTipRole:
      if ((index.column() == kName || index.column() == kState) && !r.error.isEmpty()) return r.error;
      return {};
    case Qt::TextAlignmentRole:
      if (index.column() == kPid || index.column() == kRobots || index.column() == kLinks || index.column() == kFps) {
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
      }
      return {};
    default: return {};
  }
}

QVariant SourcesModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
  switch (section) {
    case kName: return tr("Segment");
    case kState: return tr("State");
    case kPid: return tr("PID");
    case kRobots: return tr("Robots");
    case kLinks: return tr("Links");
    case kFps: return tr("Frames/s");
    case kAttached: return tr("Attached");
    default: return {};
  }
}

int SourcesModel::find(const QString& name) const {
  const auto it = std::lower_bound(rows_.begin(), rows_.end(), name,
                                   [](const Row& r, const QString& n) { return r.name() < n; });
  return it != rows_.end() && it->name() == name ? static_cast<int>(it - rows_.begin()) : -1;
}

void SourcesModel::setRows(std::vector<Row> next) {
  // Runs of changed rows become one dataChanged each, spanning the columns that changed in them.
  int run_first = -1, run_last = -1, col_first = kColumns, col_last = -1;
  auto flush = [&] {
    if (run_first >= 0) emit dataChanged(index(run_first, col_first), index(run_last, col_last));
    run_first = run_last = col_last = -1;
    col_first = kColumns;
  };
  std::size_t i = 0, j = 0;
  while (i < rows_.size() || j < next.size()) {
    if (j == next.size() || (i < rows_.size() && rows_[i].name() < next[j].name())) {
      // rows_[i..k) are gone.
      std::size_t k = i;
      while (k < rows_.size() && (j == next.size() || rows_[k].name() < next[j].name())) ++k;
      flush();
      beginRemoveRows({}, static_cast<int>(i), static_cast<int>(k) - 1);
      rows_.erase(rows_.begin() + static_cast<std::ptrdiff_t>(i), rows_.begin() + static_cast<std::ptrdiff_t>(k));
      endRemoveRows();
    } else if (i == rows_.size() || next[j].name() < rows_[i].name()) {
      // next[j..m) are new, before rows_[i].
      std::size_t m = j;
      while (m < next.size() && (i == rows_.size() || next[m].name() < rows_[i].name())) ++m;
      flush();
      beginInsertRows({}, static_cast<int>(i), static_cast<int>(i + (m - j)) - 1);
      rows_.insert(rows_.begin() + static_cast<std::ptrdiff_t>(i), std::make_move_iterator(next.begin() + static_cast<std::ptrdiff_t>(j)),
                   std::make_move_iterator(next.begin() + static_cast<std::ptrdiff_t>(m)));
      endInsertRows();
      i += m - j;
      j = m;
    } else {
      Row& shown = rows_[i];
      Row& fresh = next[j];
      int lo = kColumns, hi = -1;
      for (int c = 0; c < kColumns; ++c) {
        if (shown.text[static_cast<std::size_t>(c)] != fresh.text[static_cast<std::size_t>(c)]) {
          lo = std::min(lo, c);
          hi = std::max(hi, c);
        }
      }
      if (shown.state_color != fresh.state_color || shown.error != fresh.error) {
        lo = std::min(lo, static_cast<int>(kName));
        hi = std::max(hi, static_cast<int>(kState));
      }
      if (hi >= 0) {
        shown = std::move(fresh);
        const int r = static_cast<int>(i);
        if (run_first < 0 || run_last != r - 1) {
          flush();
          run_first = r;
        }
        run_last = r;
        col_first = std::min(col_first, lo);
        col_last = std::max(col_last, hi);
      } else {
        flush();
      }
      ++i;
      ++j;
    }
  }
  flush();
}

}  // namespace fleetscope::app
