// Turns SIGINT and SIGTERM into a Qt signal on the GUI thread (self-pipe + QSocketNotifier), so
// the viewer shuts down through the normal Qt path instead of dying inside a handler.
#pragma once

#include <QObject>

class QSocketNotifier;

namespace fleetscope::app {

class UnixSignalWatcher : public QObject {
  Q_OBJECT
 public:
  explicit UnixSignalWatcher(QObject* parent = nullptr);
  ~UnixSignalWatcher() override;

 signals:
  void terminationRequested(int signal);

 private:
  QSocketNotifier* notifier_ = nullptr;
};

}  // namespace fleetscope::app
