#include "sources_dock.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "live_scene.h"

namespace fleetscope::app {
namespace {
enum Column { kName, kState, kPid, kRobots, kLinks, kFps, kAttached, kColumns };

QColor state_color(ipc::WriterState s) {
  switch (s) {
    case ipc::WriterState::kLive: return QColor(60, 170, 80);
    case ipc::WriterState::kPaused: return QColor(210, 160, 40);
    case ipc::WriterState::kDead: return QColor(200, 60, 60);
    case ipc::WriterState::kClosed: return QColor(130, 130, 130);
  }
  return {};
}
}  // namespace

SourcesDock::SourcesDock(LiveScene* live, QWidget* parent) : QDockWidget(tr("Sources"), parent), live_(live) {
  setObjectName("SourcesDock");
  auto* body = new QWidget(this);
  auto* layout = new QVBoxLayout(body);
  table_ = new QTableWidget(0, kColumns, body);
  table_->setObjectName("sourcesTable");
  table_->setHorizontalHeaderLabels({tr("Segment"), tr("State"), tr("PID"), tr("Robots"), tr("Links"), tr("Frames/s"), tr("Attached")});
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_);
  auto* buttons = new QHBoxLayout();
  auto* attach = new QPushButton(tr("Attach"), body);
  auto* detach = new QPushButton(tr("Detach"), body);
  buttons->addWidget(attach);
  buttons->addWidget(detach);
  buttons->addStretch();
  layout->addLayout(buttons);
  auto_attach_ = new QCheckBox(tr("Attach new segments automatically"), body);
  keep_dead_ = new QCheckBox(tr("Keep robots of dead writers (greyed)"), body);
  keep_dead_->setChecked(true);
  layout->addWidget(auto_attach_);
  layout->addWidget(keep_dead_);
  setWidget(body);
  connect(attach, &QPushButton::clicked, this, &SourcesDock::attachSelected);
  connect(detach, &QPushButton::clicked, this, &SourcesDock::detachSelected);
  connect(table_, &QTableWidget::cellDoubleClicked, this, &SourcesDock::attachSelected);
  connect(keep_dead_, &QCheckBox::toggled, this, [this](bool keep) { live_->scene().set_keep_dead_robots(keep); });
  connect(auto_attach_, &QCheckBox::toggled, this, [this](bool) { refresh(); });
  connect(&timer_, &QTimer::timeout, this, &SourcesDock::refresh);
  timer_.start(1000);
}

bool SourcesDock::autoAttach() const { return auto_attach_->isChecked(); }
void SourcesDock::setAutoAttach(bool on) { auto_attach_->setChecked(on); }
bool SourcesDock::keepDeadRobots() const { return keep_dead_->isChecked(); }
void SourcesDock::setKeepDeadRobots(bool keep) { keep_dead_->setChecked(keep); }
int SourcesDock::rowCount() const { return table_->rowCount(); }

QString SourcesDock::attach(const QString& name) {
  try {
    live_->scene().attach(name.toStdString());
    live_->requestFrame();
    refresh();
    return {};
  } catch (const ipc::SegmentError& e) {
    const QString text = QString::fromStdString(e.what());
    emit message(text);
    return text;
  }
}

void SourcesDock::attachSelected() {
  for (const auto& index : table_->selectionModel()->selectedRows()) attach(table_->item(index.row(), kName)->text());
}

void SourcesDock::detachSelected() {
  for (const auto& index : table_->selectionModel()->selectedRows()) {
    live_->detach(table_->item(index.row(), kName)->text().toStdString());
  }
  refresh();
  emit message(tr("Detached"));
}

void SourcesDock::refresh() {
  const auto found = ipc::discover_segments();
  const auto attached = live_->scene().sources();
  const std::uint64_t now = ipc::monotonic_ns();
  // Segments on the machine, plus attached ones whose name is gone (closed and removed).
  struct Row {
    std::string name;
    ipc::WriterState state;
    pid_t pid;
    std::uint32_t robots;
    std::uint64_t links, frame;
    bool attached;
    std::string error;
  };
  std::vector<Row> rows;
  for (const auto& s : found) {
    if (!s.readable) {
      rows.push_back({s.name, ipc::WriterState::kDead, 0, 0, 0, 0, false, s.error});
      continue;
    }
    rows.push_back({s.name, s.status.state, s.writer_pid, s.robots, s.links, s.frame, false, {}});
  }
  for (const auto& a : attached) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == a.name; });
    if (it == rows.end()) {
      rows.push_back({a.name, a.state, a.writer_pid, a.robots, a.links, a.frame, true, a.error});
    } else {
      it->attached = true;
      it->state = a.state;
    }
  }
  if (autoAttach()) {
    for (auto& r : rows) {
      if (r.attached || !r.error.empty() || r.state == ipc::WriterState::kDead || r.state == ipc::WriterState::kClosed) continue;
      try {
        live_->scene().attach(r.name);
        r.attached = true;
        live_->requestFrame();
      } catch (const ipc::SegmentError& e) {
        if (refused_[r.name] != e.what()) emit message(QString::fromStdString(e.what()));
        refused_[r.name] = e.what();
        r.error = e.what();
      }
    }
  }
  // Cell texts first: when nothing changed the table is not touched at all, since any repaint
  // of the window recomposes the GL view (a full-window pass on software GL).
  std::vector<QStringList> texts;
  for (const Row& r : rows) {
    double fps = 0.0;
    if (auto it = last_frames_.find(r.name); it != last_frames_.end() && now > it->second.second && r.frame >= it->second.first) {
      fps = double(r.frame - it->second.first) / ((now - it->second.second) / 1e9);
    }
    last_frames_[r.name] = {r.frame, now};
    texts.push_back({QString::fromStdString(r.name),
                     r.error.empty() ? QString(ipc::writer_state_name(r.state)) : tr("unreadable"),
                     r.pid ? QString::number(r.pid) : QString(), QString::number(r.robots), QString::number(r.links),
                     QString::number(fps, 'f', 1), r.attached ? tr("yes") : tr("no"), QString::fromStdString(r.error)});
  }
  if (texts == shown_) return;
  shown_ = texts;
  table_->setRowCount(static_cast<int>(rows.size()));
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    const QStringList& t = texts[i];
    auto set = [&](int col, const QString& text) {
      auto* item = table_->item(i, col);
      if (!item) {
        item = new QTableWidgetItem();
        table_->setItem(i, col, item);
      }
      item->setText(text);
      return item;
    };
    set(kName, t[kName])->setToolTip(t[kColumns]);
    auto* state = set(kState, t[kState]);
    state->setForeground(rows[i].error.empty() ? state_color(rows[i].state) : QColor(200, 60, 60));
    state->setToolTip(t[kColumns]);
    for (int col : {kPid, kRobots, kLinks, kFps, kAttached}) set(col, t[col]);
  }
}

}  // namespace fleetscope::app
