// The demo's producers as child processes of the viewer: fleetscope-sim, the PPO trainer (which
// runs the environment pool of URDF arms as its own worker processes) and the grasp scheduler.
// They stop when this object goes (SIGTERM, then SIGKILL after a grace period), and the kernel
// sends them SIGTERM should the viewer die first, so their segments never outlive the demo.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>
#include <vector>

class QProcess;

namespace fleetscope::app {

class DemoChildren : public QObject {
  Q_OBJECT
 public:
  explicit DemoChildren(QObject* parent = nullptr);
  ~DemoChildren() override;

  // Starts every producer; throws std::runtime_error naming what could not start.
  void start();
  void stop();
  // Segment names the producers write (the env pool's workers' included).
  static QStringList segmentNames();
  QString manifestPath() const;
  std::vector<qint64> pids() const;

 private:
  void launch(const QString& program, const QStringList& arguments);
  std::vector<QProcess*> children_;
  std::unique_ptr<QTemporaryDir> data_dir_;  // manifest.json and round results; removed at the end
};

}  // namespace fleetscope::app
