#include "robots_dock.h"

#include <QLineEdit>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <map>
#include <set>

#include "live_scene.h"

namespace fleetscope::app {
namespace {
constexpr int kSegmentRole = Qt::UserRole;
constexpr int kSlotRole = Qt::UserRole + 1;
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
  layout->addWidget(filter_);
  layout->addWidget(tree_);
  setWidget(body);
  connect(filter_, &QLineEdit::textChanged, this, &RobotsDock::applyFilter);
  connect(tree_, &QTreeWidget::itemChanged, this, &RobotsDock::onItemChanged);
  connect(tree_, &QTreeWidget::itemDoubleClicked, this, &RobotsDock::onDoubleClicked);
}

int RobotsDock::robotCount() const {
  int n = 0;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) n += tree_->topLevelItem(i)->childCount();
  return n;
}

void RobotsDock::rebuild() {
  rebuilding_ = true;
  std::set<QString> expanded;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    if (tree_->topLevelItem(i)->isExpanded()) expanded.insert(tree_->topLevelItem(i)->text(0));
  }
  tree_->clear();
  std::map<std::string, QTreeWidgetItem*> segments;
  for (const auto& source : live_->scene().sources()) {
    auto* item = new QTreeWidgetItem(tree_, {QString::fromStdString(source.name), QString(ipc::writer_state_name(source.state))});
    item->setExpanded(expanded.empty() || expanded.count(item->text(0)));
    segments[source.name] = item;
  }
  for (const auto& robot : live_->scene().robots()) {
    auto* parent = segments[robot.segment];
    if (!parent) continue;
    auto* item = new QTreeWidgetItem(parent, {QString::fromStdString(robot.name), QString::fromStdString(robot.model)});
    item->setData(0, kSegmentRole, QString::fromStdString(robot.segment));
    item->setData(0, kSlotRole, robot.slot);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(0, robot.visible ? Qt::Checked : Qt::Unchecked);
    for (std::size_t l = 0; l < robot.links.size(); ++l) {
      auto* link = new QTreeWidgetItem(item, {QString::fromStdString(robot.links[l]), QString("link %1").arg(l)});
      link->setData(0, kSegmentRole, QString::fromStdString(robot.segment));
      link->setData(0, kSlotRole, robot.slot);
    }
  }
  rebuilding_ = false;
  applyFilter(filter_->text());
}

void RobotsDock::applyFilter(const QString& text) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    QTreeWidgetItem* segment = tree_->topLevelItem(i);
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
