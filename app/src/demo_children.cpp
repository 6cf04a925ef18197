#include "demo_children.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <spdlog/spdlog.h>
#include <stdexcept>

namespace fleetscope::app {
namespace {

constexpr int kGraceMs = 3000;
constexpr int kEnvWorkers = 8;

// Build-tree locations, overridable for installed layouts.
QString setting(const char* env, const char* fallback) {
  const QByteArray value = qgetenv(env);
  return value.isEmpty() ? QString(fallback) : QString::fromLocal8Bit(value);
}

}  // namespace

DemoChildren::DemoChildren(QObject* parent) : QObject(parent) {}

DemoChildren::~DemoChildren() { stop(); }

QStringList DemoChildren::segmentNames() {
  QStringList names = {"fleet", "trainer", "envpool", "grasp"};
  for (int i = 0; i < kEnvWorkers; ++i) names << QString("envpool.w%1").arg(i);  // each worker's arms
  return names;
}

QString DemoChildren::manifestPath() const {
  return data_dir_ ? QDir(data_dir_->path()).filePath("manifest.json") : QString();
}

std::vector<qint64> DemoChildren::pids() const {
  std::vector<qint64> out;
  for (const QProcess* p : children_) out.push_back(p->processId());
  return out;
}

void DemoChildren::launch(const QString& program, const QStringList& arguments) {
  auto* process = new QProcess(this);
  process->setProgram(program);
  process->setArguments(arguments);
  process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
  process->setStandardOutputFile(QProcess::nullDevice());
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  const QString python_dir = setting("FLEETSCOPE_PYTHON_DIR", FLEETSCOPE_DEMO_PYTHON_DIR);
  env.insert("PYTHONPATH", python_dir + (env.contains("PYTHONPATH") ? ":" + env.value("PYTHONPATH") : QString()));
  // One BLAS thread per producer: a demo of many processes must not oversubscribe the cores.
  env.insert("OPENBLAS_NUM_THREADS", "1");
  env.insert("OMP_NUM_THREADS", "1");
  process->setProcessEnvironment(env);
  // Should the viewer die without cleaning up, the kernel tells the child to stop.
  process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
  process->start();
  if (!process->waitForStarted(5000)) {
    const QString error = process->errorString();
    throw std::runtime_error("cannot start demo program '" + program.toStdString() + "': " + error.toStdString());
  }
  spdlog::debug("demo: started {} (pid {})", program.toStdString(), process->processId());
  children_.push_back(process);
}

void DemoChildren::start() {
  data_dir_ = std::make_unique<QTemporaryDir>(QDir::temp().filePath("fleetscope-demo-XXXXXX"));
  if (!data_dir_->isValid()) throw std::runtime_error("cannot create a temporary directory for the demo");
  const QString sim = setting("FLEETSCOPE_SIM", FLEETSCOPE_DEMO_SIM);
  const QString python = setting("FLEETSCOPE_PYTHON", "/usr/bin/python3");
  const QString examples = setting("FLEETSCOPE_EXAMPLES", FLEETSCOPE_DEMO_EXAMPLES_DIR);
  for (const QString& path : {sim, python, examples + "/ppo_trainer.py", examples + "/env_pool.py",
                               examples + "/reach_env.py", examples + "/grasp_scheduler.py"}) {
    if (!QFileInfo::exists(path)) throw std::runtime_error("demo program '" + path.toStdString() + "' is missing");
  }
  launch(sim, {"--name", "fleet", "--robots", "100", "--quiet"});
  // PPO (PyTorch) learning to reach with URDF arms: the trainer runs the environment pool as its
  // own worker processes (segment "envpool" with their rows, "envpool.wI" with each worker's arms
  // and targets); one worker stalls now and then, one crashes now and then and is restarted.
  launch(python, {examples + "/ppo_trainer.py", "--name", "trainer", "--pool-name", "envpool", "--workers",
                  QString::number(kEnvWorkers), "--envs-per-worker", "8", "--stall-worker", "2", "--crash-worker", "5"});
  launch(python, {examples + "/grasp_scheduler.py", "--name", "grasp", "--dir", data_dir_->path()});
}

void DemoChildren::stop() {
  for (QProcess* p : children_) {
    if (p->state() != QProcess::NotRunning) p->terminate();  // SIGTERM: each closes its segment
  }
  for (QProcess* p : children_) {
    if (p->state() != QProcess::NotRunning && !p->waitForFinished(kGraceMs)) {
      spdlog::warn("demo: {} did not stop in {} ms; killing it", p->program().toStdString(), kGraceMs);
      p->kill();
      p->waitForFinished(1000);
    }
  }
  qDeleteAll(children_);
  children_.clear();
  data_dir_.reset();
}

}  // namespace fleetscope::app
