// File > Record: the viewer records the segments it shows into an MCAP file by running
// `fleetscope-shm record` as a child process. A separate reader process, like the viewer itself,
// never slows a writer, and the viewer keeps one reader per segment (the scene's and the
// dashboards' sources are not shared with a recorder on another thread).
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace fleetscope::app {

class RecordingProcess : public QObject {
  Q_OBJECT

 public:
  explicit RecordingProcess(QObject* parent = nullptr);
  ~RecordingProcess() override;

  // Starts recording `segments` into `path`. Returns the error (empty when the recorder started
  // and opened its segments).
  QString start(const QStringList& segments, const QString& path);
  // Asks the recorder to finish the file (SIGTERM) and waits for it. Returns its summary line or
  // the error.
  QString stop();

  bool recording() const { return process_.state() != QProcess::NotRunning; }
  const QString& path() const { return path_; }
  double seconds() const { return elapsed_.isValid() ? elapsed_.elapsed() / 1000.0 : 0.0; }
  qint64 bytes() const;
  // Where the recorder program is: $FLEETSCOPE_SHM, beside the viewer, the build tree, PATH.
  static QString program();

 signals:
  // The recorder ended on its own (an error, or its segments all gone); the message says why.
  void ended(const QString& message);

 private:
  // Takes what the recorder printed; returns its last 8 KiB.
  QString output();

  QProcess process_;
  QString path_;
  QElapsedTimer elapsed_;
  QString log_;
  bool stopping_ = false;
};

}  // namespace fleetscope::app
