#include "robots_dock.h"

#include <QLineEdit>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <set>

#include "live_scene.h"

namespace fleetscope::app {
namespace {
constexpr int kSegmentRole = Qt::UserRole;
constexpr int kSlotRole = Qt::UserRole + 1;
constexpr int kRebuildDelayMs = 250;
// New segment items start expanded while the tree is this small, collapsed beyond.
constexpr std::size_t kExpandAtMost = 16;

// Same robots with the same names, models and links (visibility aside).
bool same_robots(const std::vector<render::RobotInfo>& a, const std::vector<render::RobotInfo>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].slot != b[i].slot || a[i].name != b[i].name || a[i].model != b[i].model || a[i].links != b[i].links) {
      return false;
    }
  }
  return true;
}
}  // namespace

RobotsDock::RobotsDock(LiveScene* live, QWidget* parent) : QDockWidget(tr("Robots"), parent), live_(live) {
  setObjectName("RobotsDock");
  auto* body = new QWidget(this);
  auto* layout = new QVBoxLayout(body);
  filter_ = new QLineEdit(body);
  filter_->setPlaceholderText(tr("Filter robots and links"));
  filter_->setClearButtonEnabled(true);
  tree_ = new QTreeWidget(body);
  tree_->setObjectName("robotsTree");
  tree_->setHeaderLabels({tr("Name"), tr("Model")});
  tree_->setUniformRowHeights(true);
  layout->addWidget(filter_);
  layout->addWidget(tree_);
  setWidget(body);
  rebuild_timer_.setSingleShot(true);
  connect(&rebuild_timer_, &QTimer::timeout, this, &RobotsDock::rebuild);
  fit_names_timer_.setSingleShot(true);
  connect(&fit_names_timer_, &QTimer::timeout, this, [this] { tree_->resizeColumnToContents(0); });
  // Expanding shows rows (robots, links) the last sizing did not measure.
  connect(tree_, &QTreeWidget::itemExpanded, this, &RobotsDock::scheduleFitNames);
  connect(filter_, &QLineEdit::textChanged, this, &RobotsDock::applyFilter);
  connect(tree_, &QTreeWidget::itemChanged, this, &RobotsDock::onItemChanged);
  connect(tree_, &QTreeWidget::itemDoubleClicked, this, &RobotsDock::onDoubleClicked);
}

int RobotsDock::robotCount() const {
  int n = 0;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) n += tree_->topLevelItem(i)->childCount();
  return n;
}

void RobotsDock::scheduleRebuild() {
  if (!rebuild_timer_.isActive()) rebuild_timer_.start(kRebuildDelayMs);
}

void RobotsDock::scheduleFitNames() {
  if (!fit_names_timer_.isActive()) fit_names_timer_.start(0);
}

void RobotsDock::fillSegment(QTreeWidgetItem* segment, const std::vector<render::RobotInfo>& robots) {
  // Built apart and added in one call: one model signal, not one per item.
  QList<QTreeWidgetItem*> items;
  for (const auto& robot : robots) {
    auto* item = new QTreeWidgetItem({QString::fromStdString(robot.name), QString::fromStdString(robot.model)});
    item->setData(0, kSegmentRole, QString::fromStdString(robot.segment));
    item->setData(0, kSlotRole, robot.slot);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(0, robot.visible ? Qt::Checked : Qt::Unchecked);
    for (std::size_t l = 0; l < robot.links.size(); ++l) {
      auto* link = new QTreeWidgetItem(item, {QString::fromStdString(robot.links[l]), QString("link %1").arg(l)});
      link->setData(0, kSegmentRole, QString::fromStdString(robot.segment));
      link->setData(0, kSlotRole, robot.slot);
    }
    items.push_back(item);
  }
  segment->addChildren(items);
  scheduleFitNames();
}

void RobotsDock::rebuild() {
  rebuild_timer_.stop();
  rebuilding_ = true;
  const auto sources = live_->scene().sources();
  std::map<std::string, std::vector<render::RobotInfo>> robots;
  for (auto& robot : live_->scene().robots()) robots[robot.segment].push_back(std::move(robot));
  std::set<std::string> present;
  for (const auto& source : sources) present.insert(source.name);
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    delete it->second.item;  // takes it out of the tree
    it = segments_.erase(it);
  }
  const bool expand_new = sources.size() <= kExpandAtMost;
  const QString filter = filter_->text();
  QList<QTreeWidgetItem*> added;
  for (const auto& source : sources) {
    const QString state(ipc::writer_state_name(source.state));
    auto& listed = robots[source.name];
    SegmentEntry& entry = segments_[source.name];
    if (!entry.item) {
      // New segments follow the scene's order: attached last, listed last.
      entry.item = new QTreeWidgetItem({QString::fromStdString(source.name), state});
      fillSegment(entry.item, listed);
      entry.robots = std::move(listed);
      added.push_back(entry.item);
      continue;
    }
    if (entry.item->text(1) != state) entry.item->setText(1, state);
    if (!same_robots(entry.robots, listed)) {
      qDeleteAll(entry.item->takeChildren());
      fillSegment(entry.item, listed);
      entry.robots = std::move(listed);
      if (!filter.isEmpty()) filterSegment(entry.item, filter);
      continue;
    }
    for (std::size_t r = 0; r < listed.size(); ++r) {
      const Qt::CheckState check = listed[r].visible ? Qt::Checked : Qt::Unchecked;
      QTreeWidgetItem* child = entry.item->child(static_cast<int>(r));
      if (child && child->checkState(0) != check) child->setCheckState(0, check);
      entry.robots[r].visible = listed[r].visible;
    }
  }
  if (!added.isEmpty()) {
    tree_->addTopLevelItems(added);
    for (QTreeWidgetItem* item : added) {
      if (expand_new) item->setExpanded(true);
      if (!filter.isEmpty()) filterSegment(item, filter);
    }
  }
  rebuilding_ = false;
}

void RobotsDock::filterSegment(QTreeWidgetItem* segment, const QString& text) {
  for (int r = 0; r < segment->childCount(); ++r) {
    QTreeWidgetItem* robot = segment->child(r);
    bool robot_match = text.isEmpty() || robot->text(0).contains(text, Qt::CaseInsensitive);
    bool any_link = false;
    for (int l = 0; l < robot->childCount(); ++l) {
      const bool m = robot_match || robot->child(l)->text(0).contains(text, Qt::CaseInsensitive);
      robot->child(l)->setHidden(!m);
      any_link |= m;
    }
    robot->setHidden(!(robot_match || any_link));
  }
}

void RobotsDock::applyFilter(const QString& text) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) filterSegment(tree_->topLevelItem(i), text);
}

void RobotsDock::onItemChanged(QTreeWidgetItem* item, int column) {
  if (rebuilding_ || column != 0 || !item->parent() || item->childCount() == 0) return;
  live_->scene().set_robot_visible(item->data(0, kSegmentRole).toString().toStdString(),
                                   item->data(0, kSlotRole).toUInt(), item->checkState(0) == Qt::Checked);
  live_->requestFrame();
}

void RobotsDock::onDoubleClicked(QTreeWidgetItem* item, int) {
  if (!item->parent()) return;
  live_->focusRobot(item->data(0, kSegmentRole).toString().toStdString(), item->data(0, kSlotRole).toUInt());
}

}  // namespace fleetscope::app
