// The Robots dock: a searchable tree of segments, robots and links. A robot's check box shows
// or hides it; double-clicking a robot or link focuses the camera on that robot.
#pragma once

#include <QDockWidget>

class QLineEdit;
class QTreeWidget;
class QTreeWidgetItem;

namespace fleetscope::app {

class LiveScene;

class RobotsDock : public QDockWidget {
  Q_OBJECT
 public:
  RobotsDock(LiveScene* live, QWidget* parent = nullptr);
  void rebuild();
  int robotCount() const;  // robots listed (all segments)
  void applyFilter(const QString& text);
  QTreeWidget* tree() const { return tree_; }

 private:
  void onItemChanged(QTreeWidgetItem* item, int column);
  void onDoubleClicked(QTreeWidgetItem* item, int column);

  LiveScene* live_;
  QLineEdit* filter_;
  QTreeWidget* tree_;
  bool rebuilding_ = false;
};

}  // namespace fleetscope::app
