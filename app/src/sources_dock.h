// The Sources dock: every fleetscope segment on the machine with its writer state, pid, robots,
// links and frames/s; attach and detach; attach new segments automatically; what to do with
// robots of writers that died.
#pragma once

#include <QDockWidget>
#include <QStringList>
#include <QTimer>
#include <map>
#include <string>
#include <vector>

class QCheckBox;
class QTableWidget;
class QPushButton;

namespace fleetscope::app {

class LiveScene;

class SourcesDock : public QDockWidget {
  Q_OBJECT
 public:
  SourcesDock(LiveScene* live, QWidget* parent = nullptr);
  bool autoAttach() const;
  void setAutoAttach(bool on);
  bool keepDeadRobots() const;
  void setKeepDeadRobots(bool keep);
  // Attaches one segment; returns an empty string or the error message.
  QString attach(const QString& name);
  void refresh();
  int rowCount() const;

 signals:
  void message(const QString& text);

 private:
  void attachSelected();
  void detachSelected();

  LiveScene* live_;
  QTableWidget* table_;
  QCheckBox* auto_attach_;
  QCheckBox* keep_dead_;
  QTimer timer_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> last_frames_;  // frame, time
  std::map<std::string, std::string> refused_;  // auto-attach errors, reported once
  std::vector<QStringList> shown_;               // the table's cell texts (and error) now
};

}  // namespace fleetscope::app
