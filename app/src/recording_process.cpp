#include "recording_process.h"

#include <sys/prctl.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFileInfo>
#include <QStandardPaths>
#include <algorithm>
#include <csignal>

namespace fleetscope::app {

RecordingProcess::RecordingProcess(QObject* parent) : QObject(parent) {
  process_.setProcessChannelMode(QProcess::MergedChannels);
  // Should the viewer die without stopping it, the kernel tells the recorder to finish its file.
  process_.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
  // Read as it comes, so that the recorder never blocks on a full pipe; the last lines are kept.
  connect(&process_, &QProcess::readyRead, this, [this] { output(); });
  connect(&process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    if (stopping_) return;
    const QString out = output().trimmed();
    emit ended(status == QProcess::NormalExit && code == 0 ? tr("recording ended: %1").arg(out)
                                                           : tr("the recorder stopped: %1").arg(out));
  });
}

RecordingProcess::~RecordingProcess() {
  if (recording()) stop();
}

QString RecordingProcess::program() {
  if (const QString set = qEnvironmentVariable("FLEETSCOPE_SHM"); !set.isEmpty()) return set;
  const QString beside = QCoreApplication::applicationDirPath() + "/fleetscope-shm";  // installed: bin/
  if (QFileInfo(beside).isExecutable()) return beside;
  if (QFileInfo(QStringLiteral(FLEETSCOPE_RECORDER)).isExecutable()) return QStringLiteral(FLEETSCOPE_RECORDER);
  return QStandardPaths::findExecutable("fleetscope-shm");
}

QString RecordingProcess::output() {
  log_ += QString::fromUtf8(process_.readAll());
  if (log_.size() > 8192) log_ = log_.right(8192);
  return log_;
}

qint64 RecordingProcess::bytes() const { return path_.isEmpty() ? 0 : QFileInfo(path_).size(); }

QString RecordingProcess::start(const QStringList& segments, const QString& path) {
  if (recording()) return tr("already recording to %1").arg(path_);
  if (segments.isEmpty()) return tr("no local segment is attached to record");
  const QString recorder = program();
  if (recorder.isEmpty()) return tr("cannot find the recorder program fleetscope-shm (set FLEETSCOPE_SHM)");
  stopping_ = false;
  path_ = path;
  QStringList arguments{"record"};
  arguments << segments << "-o" << path;
  process_.start(recorder, arguments);
  if (!process_.waitForStarted(5000)) return tr("cannot start %1: %2").arg(recorder, process_.errorString());
  // It says "recording N segment(s) to FILE" once the file is open and every segment attached;
  // a segment it cannot read or a file it cannot write ends it with the reason.
  log_.clear();
  const QDeadlineTimer deadline(10000);
  while (!output().contains("recording") && process_.state() == QProcess::Running && !deadline.hasExpired()) {
    process_.waitForReadyRead(static_cast<int>(std::max<qint64>(1, deadline.remainingTime())));
  }
  const QString said = output();
  if (process_.state() != QProcess::Running) {
    stopping_ = true;
    process_.waitForFinished(1000);
    const QString why = output().trimmed();
    return why.isEmpty() ? tr("the recorder exited at once") : why;
  }
  if (!said.contains("recording")) {
    stop();
    return tr("the recorder did not start within 10 s");
  }
  elapsed_.start();
  return {};
}

QString RecordingProcess::stop() {
  if (!recording()) return {};
  stopping_ = true;
  process_.terminate();  // SIGTERM: the recorder writes its summary and footer
  if (!process_.waitForFinished(10000)) {
    process_.kill();
    process_.waitForFinished(2000);
    return tr("the recorder did not finish within 10 s; `fleetscope-shm recover` rebuilds %1").arg(path_);
  }
  elapsed_.invalidate();
  const QStringList lines = output().trimmed().split('\n');
  return lines.last();
}

}  // namespace fleetscope::app
