// A table model over rows that a panel replaces as a whole on each refresh. The same keys in the
// same order give one dataChanged (views keep their selection and scroll position); anything
// else resets the model.
//
// What a row shows is a table of TableColumn, one per column: its header and how a row turns into
// its cell. That table is the one place a row type's fields are listed for display; the model's
// data() and headerData() only read it.
#pragma once

#include <QAbstractTableModel>
#include <span>
#include <vector>

namespace fleetscope::app {

template <typename Row>
struct TableColumn {
  const char* header = "";
  QVariant (*text)(const Row&) = nullptr;        // Qt::DisplayRole
  QVariant (*value)(const Row&) = nullptr;       // Qt::UserRole, the raw value (tests, sorting); null: the text
  QVariant (*background)(const Row&) = nullptr;  // Qt::BackgroundRole; null: none
  bool right_aligned = false;                    // numbers
};

template <typename Row>
class RowTableModel : public QAbstractTableModel {
 public:
  // `columns` outlives the model (a static table).
  RowTableModel(std::span<const TableColumn<Row>> columns, QObject* parent)
      : QAbstractTableModel(parent), columns_(columns) {}

  const std::vector<Row>& rows() const { return rows_; }
  int rowCount(const QModelIndex& parent = {}) const override {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
  }
  int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : columnTotal(); }

  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override {
    const Row* row = rowAt(index);
    if (!row || index.column() >= columnTotal()) return {};
    const TableColumn<Row>& column = columns_[static_cast<std::size_t>(index.column())];
    switch (role) {
      case Qt::DisplayRole: return column.text(*row);
      case Qt::UserRole: return column.value ? column.value(*row) : column.text(*row);
      case Qt::BackgroundRole: return column.background ? column.background(*row) : QVariant();
      case Qt::TextAlignmentRole:
        return column.right_aligned ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
      default: return {};
    }
  }
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= columnTotal()) return {};
    return QString(columns_[static_cast<std::size_t>(section)].header);
  }

 protected:
  // `same_key(a, b)`: whether two rows stand for the same thing (a worker, an object).
  template <typename SameKey>
  void replaceRows(std::vector<Row> rows, SameKey same_key) {
    bool same_rows = rows.size() == rows_.size();
    for (std::size_t i = 0; same_rows && i < rows.size(); ++i) same_rows = same_key(rows[i], rows_[i]);
    if (same_rows) {
      rows_ = std::move(rows);
      if (!rows_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, columnTotal() - 1));
      return;
    }
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
  }
  // The row behind a valid index, or nullptr.
  const Row* rowAt(const QModelIndex& index) const {
    return index.isValid() && index.row() < rowCount() ? &rows_[static_cast<std::size_t>(index.row())] : nullptr;
  }

 private:
  int columnTotal() const { return static_cast<int>(columns_.size()); }

  std::vector<Row> rows_;
  std::span<const TableColumn<Row>> columns_;
};

}  // namespace fleetscope::app
