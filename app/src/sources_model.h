// The Sources dock's table: one row per segment, sorted by name. setRows() compares the new rows
// with the shown ones and tells the view only what changed: rows that came or went
// (begin/endInsertRows, begin/endRemoveRows) and the cells whose text, colour or tooltip changed
// (dataChanged over each run of changed rows). A second with nothing new costs the view nothing.
#pragma once

#include <QAbstractTableModel>
#include <QColor>
#include <QString>
#include <array>
#include <vector>

namespace fleetscope::app {

class SourcesModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kName, kState, kPid, kRobots, kLinks, kFps, kAttached, kColumns };

  struct Row {
    std::array<QString, kColumns> text;
    QColor state_color;  // foreground of the State cell
    QString error;       // tooltip of the Segment and State cells
    const QString& name() const { return text[kName]; }
    bool operator==(const Row&) const = default;
  };

  explicit SourcesModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  // `rows` sorted by name, names unique.
  void setRows(std::vector<Row> rows);
  const Row& row(int index) const { return rows_[static_cast<std::size_t>(index)]; }
  // The row of `name`, or -1.
  int find(const QString& name) const;

 private:
  std::vector<Row> rows_;
};

}  // namespace fleetscope::app
