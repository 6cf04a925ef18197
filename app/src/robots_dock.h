// The Robots dock: a searchable tree of segments, robots and links. A robot's check box shows
// or hides it; double-clicking a robot or link focuses the camera on that robot.
//
// Layout changes are coalesced (scheduleRebuild: one rebuild within 250 ms however many came),
// and a rebuild touches only segments that came, went or whose robots changed; a state change
// only renames the segment's second column. The name column is sized to its content when rows
// are added or expanded (once per event loop pass, measuring at most the header's
// resizeContentsPrecision rows), not on every update.
#pragma once

#include <QDockWidget>
#include <QTimer>
#include <map>
#include <string>
#include <vector>

#include "fleetscope/render/fleet_scene.hpp"

class QLineEdit;
class QTreeWidget;
class QTreeWidgetItem;

namespace fleetscope::app {

class LiveScene;

class RobotsDock : public QDockWidget {
  Q_OBJECT
 public:
  RobotsDock(LiveScene* live, QWidget* parent = nullptr);
  // Brings the tree up to date now.
  void rebuild();
  // Rebuilds within 250 ms; many requests in that time make one rebuild.
  void scheduleRebuild();
  int robotCount() const;  // robots listed (all segments)
  void applyFilter(const QString& text);
  QTreeWidget* tree() const { return tree_; }

 private:
  struct SegmentEntry {
    QTreeWidgetItem* item = nullptr;
    std::vector<render::RobotInfo> robots;  // as listed under the item
  };
  void onItemChanged(QTreeWidgetItem* item, int column);
  void onDoubleClicked(QTreeWidgetItem* item, int column);
  void fillSegment(QTreeWidgetItem* segment, const std::vector<render::RobotInfo>& robots);
  void filterSegment(QTreeWidgetItem* segment, const QString& text);
  // Sizes the name column to its content on the next event loop pass (many calls, one sizing).
  void scheduleFitNames();

  LiveScene* live_;
  QLineEdit* filter_;
  QTreeWidget* tree_;
  QTimer rebuild_timer_;
  QTimer fit_names_timer_;
  std::map<std::string, SegmentEntry> segments_;
  bool rebuilding_ = false;
};

}  // namespace fleetscope::app
