#include "sources_dock.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "live_scene.h"
#include "sources_model.h"

namespace fleetscope::app {
namespace {

// Auto-attach spends at most this long per pass on the GUI thread; the rest follows in the next
// turn of the event loop, so attaching a thousand segments never freezes the window.
constexpr std::uint64_t kAttachBudgetNs = 40'000'000ULL;
// A frame rate is measured over at least this long (refresh() may run right after another).
constexpr std::uint64_t kMinFpsWindowNs = 500'000'000ULL;

QColor state_color(ipc::WriterState s) {
  switch (s) {
    case ipc::WriterState::kLive: return QColor(60, 170, 80);
    case ipc::WriterState::kPaused: return QColor(210, 160, 40);
    case ipc::WriterState::kDead: return QColor(200, 60, 60);
    case ipc::WriterState::kClosed: return QColor(130, 130, 130);
    case ipc::WriterState::kUnreachable: return QColor(150, 90, 200);
  }
  return {};
}

}  // namespace

SourcesDock::SourcesDock(LiveScene* live, QWidget* parent) : QDockWidget(tr("Sources"), parent), live_(live) {
  setObjectName("SourcesDock");
  auto* body = new QWidget(this);
  auto* layout = new QVBoxLayout(body);
  model_ = new SourcesModel(this);
  table_ = new QTableView(body);
  table_->setObjectName("sourcesTable");
  table_->setModel(model_);
  // Columns are sized to their contents once, when the first rows appear (sampling at most 200
  // rows), and are the user's to resize after that: never measured again on an update.
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  table_->horizontalHeader()->setResizeContentsPrecision(200);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  table_->verticalHeader()->hide();
  table_->setWordWrap(false);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_);
  auto* buttons = new QHBoxLayout();
  auto* attach = new QPushButton(tr("Attach"), body);
  auto* detach = new QPushButton(tr("Detach"), body);
  // Sources that are not local segments: a relay on another host, a recording.
  auto* connect_relay = new QPushButton(tr("Connect..."), body);
  connect_relay->setObjectName("connectRelayButton");
  connect_relay->setToolTip(tr("Show the segments of a fleetscope-relay on another host"));
  auto* open_recording = new QPushButton(tr("Open recording..."), body);
  open_recording->setObjectName("openRecordingButton");
  buttons->addWidget(attach);
  buttons->addWidget(detach);
  buttons->addStretch();
  buttons->addWidget(connect_relay);
  buttons->addWidget(open_recording);
  layout->addLayout(buttons);
  auto_attach_ = new QCheckBox(tr("Attach new segments automatically"), body);
  keep_dead_ = new QCheckBox(tr("Keep robots of dead writers (greyed)"), body);
  keep_dead_->setChecked(true);
  layout->addWidget(auto_attach_);
  layout->addWidget(keep_dead_);
  setWidget(body);
  connect(attach, &QPushButton::clicked, this, &SourcesDock::attachSelected);
  connect(detach, &QPushButton::clicked, this, &SourcesDock::detachSelected);
  connect(connect_relay, &QPushButton::clicked, this, &SourcesDock::connectRequested);
  connect(open_recording, &QPushButton::clicked, this, &SourcesDock::openRecordingRequested);
  connect(table_, &QTableView::doubleClicked, this, &SourcesDock::attachSelected);
  connect(keep_dead_, &QCheckBox::toggled, this, [this](bool keep) { live_->scene().set_keep_dead_robots(keep); });
  connect(auto_attach_, &QCheckBox::toggled, this, [this](bool) { refresh(); });
  worker_ = std::make_unique<DiscoveryWorker>(1000);
  connect(worker_.get(), &DiscoveryWorker::discovered, this, &SourcesDock::onDiscovered);
}

SourcesDock::~SourcesDock() = default;

bool SourcesDock::autoAttach() const { return auto_attach_->isChecked(); }
void SourcesDock::setAutoAttach(bool on) { auto_attach_->setChecked(on); }
bool SourcesDock::keepDeadRobots() const { return keep_dead_->isChecked(); }
void SourcesDock::setKeepDeadRobots(bool keep) { keep_dead_->setChecked(keep); }
int SourcesDock::rowCount() const { return model_->rowCount(); }

void SourcesDock::stopDiscovery() { worker_->stop(); }

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
  QStringList names;
  for (const auto& index : table_->selectionModel()->selectedRows()) names << model_->row(index.row()).name();
  for (const QString& name : names) attach(name);
}

void SourcesDock::detachSelected() {
  QStringList names;
  for (const auto& index : table_->selectionModel()->selectedRows()) names << model_->row(index.row()).name();
  for (const QString& name : names) live_->detach(name.toStdString());
  refresh();
  emit message(tr("Detached"));
}

void SourcesDock::onDiscovered(std::shared_ptr<const DiscoveryResult> result) {
  latest_ = std::move(result);
  refresh();
}

void SourcesDock::scheduleRefresh() {
  if (refresh_scheduled_) return;
  refresh_scheduled_ = true;
  QTimer::singleShot(0, this, [this] {
    if (refresh_scheduled_) refresh();
  });
}

void SourcesDock::refresh() {
  refresh_scheduled_ = false;
  const std::uint64_t now = ipc::monotonic_ns();
  struct Info {
    ipc::WriterState state = ipc::WriterState::kLive;
    pid_t pid = 0;
    std::uint32_t robots = 0;
    std::uint64_t links = 0, frame = 0, frame_ns = 0, created_unix_ns = 0;
    bool attached = false;
    bool known = false;  // figures read (by discovery or the scene); else listed only
    std::string error;
  };
  // Segments on the machine (discovery), then attached ones (the scene), whose names may be gone
  // (closed and removed) and which discovery lists without opening.
  std::map<std::string, Info> infos;
  if (latest_) {
    for (const auto& s : latest_->summaries) {
      Info& i = infos[s.name];
      i.known = true;
      i.frame_ns = latest_->listed_ns;
      if (!s.readable) {
        i.state = ipc::WriterState::kDead;
        i.error = s.error;
        continue;
      }
      i.state = s.status.state;
      i.pid = s.writer_pid;
      i.robots = s.robots;
      i.links = s.links;
      i.frame = s.frame;
      i.created_unix_ns = s.created_unix_ns;
    }
    for (const auto& name : latest_->skipped) infos[name];
  }
  std::set<std::string> attached_names;
  for (const auto& a : live_->scene().sources()) {
    Info& i = infos[a.name];
    i = Info{a.state, a.writer_pid, a.robots, a.links, a.frame, now, 0, true, true, a.error};
    attached_names.insert(a.name);
  }
  // Listed without figures and not attached (any more): discovery has to read it again.
  bool stale = false;
  for (const auto& [name, i] : infos) stale |= !i.known;
  worker_->setSkipped(attached_names);
  if (stale) worker_->requestNow();

  if (autoAttach()) {
    bool more = false;
    for (auto& [name, i] : infos) {
      if (i.attached || !i.known || !i.error.empty() || ipc::writer_is_gone(i.state)) continue;
      if (auto it = refused_.find(name); it != refused_.end() && it->second.created_unix_ns == i.created_unix_ns) continue;
      if (ipc::monotonic_ns() - now > kAttachBudgetNs) {
        more = true;
        break;
      }
      try {
        live_->scene().attach(name);
        i.attached = true;
        refused_.erase(name);
        live_->requestFrame();
      } catch (const ipc::SegmentError& e) {
        Refusal& r = refused_[name];
        if (r.error != e.what()) emit message(QString::fromStdString(e.what()));
        r = {i.created_unix_ns, e.what()};
      }
    }
    if (more) scheduleRefresh();
  }
  for (auto it = refused_.begin(); it != refused_.end();) {
    it = infos.count(it->first) ? std::next(it) : refused_.erase(it);
  }
  for (auto it = last_frames_.begin(); it != last_frames_.end();) {
    it = infos.count(it->first) ? std::next(it) : last_frames_.erase(it);
  }

  std::vector<SourcesModel::Row> rows;
  rows.reserve(infos.size());
  for (auto& [name, i] : infos) {
    SourcesModel::Row row;
    const QString qname = QString::fromStdString(name);
    if (!i.known) {
      // Listed only: what was shown before (it was attached), no longer attached.
      const int shown = model_->find(qname);
      if (shown >= 0) row = model_->row(shown);
      row.text[SourcesModel::kName] = qname;
      row.text[SourcesModel::kAttached] = tr("no");
      rows.push_back(std::move(row));
      continue;
    }
    if (!i.attached && i.error.empty()) {
      if (auto it = refused_.find(name); it != refused_.end()) i.error = it->second.error;
    }
    FrameSample& sample = last_frames_[name];
    double fps = sample.fps;
    if (sample.time_ns == 0 || i.frame < sample.frame || i.frame_ns < sample.time_ns) {
      sample = {i.frame, i.frame_ns, 0.0};
      fps = 0.0;
    } else if (i.frame_ns - sample.time_ns >= kMinFpsWindowNs) {
      fps = double(i.frame - sample.frame) / ((i.frame_ns - sample.time_ns) / 1e9);
      sample = {i.frame, i.frame_ns, fps};
    }
    row.text = {qname,
                i.error.empty() ? QString(ipc::writer_state_name(i.state)) : tr("unreadable"),
                i.pid ? QString::number(i.pid) : QString(),
                QString::number(i.robots),
                QString::number(i.links),
                QString::number(fps, 'f', 1),
                i.attached ? tr("yes") : tr("no")};
    row.state_color = i.error.empty() ? state_color(i.state) : QColor(200, 60, 60);
    row.error = QString::fromStdString(i.error);
    rows.push_back(std::move(row));
  }
  // The model's order is QString's; segment names are ASCII, so this sort is a formality.
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.name() < b.name(); });
  model_->setRows(std::move(rows));
  if (model_->rowCount() == 0) {
    columns_sized_ = false;
  } else if (!columns_sized_) {
    table_->resizeColumnsToContents();
    columns_sized_ = true;
  }
}

}  // namespace fleetscope::app
