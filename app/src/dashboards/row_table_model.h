// A table model over rows that a panel replaces as a whole on each refresh. The same keys in the
// same order give one dataChanged (views keep their selection and scroll position); anything
// else resets the model.
#pragma once

#include <QAbstractTableModel>
#include <vector>

namespace fleetscope::app {

template <typename Row>
class RowTableModel : public QAbstractTableModel {
 public:
  RowTableModel(int columns, QObject* parent) : QAbstractTableModel(parent), columns_(columns) {}

  const std::vector<Row>& rows() const { return rows_; }
  int rowCount(const QModelIndex& parent = {}) const override {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
  }
  int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : columns_; }

 protected:
  // `same_key(a, b)`: whether two rows stand for the same thing (a worker, an object).
  template <typename SameKey>
  void replaceRows(std::vector<Row> rows, SameKey same_key) {
    bool same_rows = rows.size() == rows_.size();
    for (std::size_t i = 0; same_rows && i < rows.size(); ++i) same_rows = same_key(rows[i], rows_[i]);
    if (same_rows) {
      rows_ = std::move(rows);
      if (!rows_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, columns_ - 1));
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
  std::vector<Row> rows_;
  int columns_;
};

}  // namespace fleetscope::app
