#include "grasp_manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "fleetscope/ipc/posix_file.hpp"

namespace fleetscope::app {
namespace {

struct Invalid {
  QString message;
};

// Required and optional fields, with the object and field named in the error.
// `fallback` < 0: the field is required.
qint64 integer(const QJsonObject& o, const char* field, const QString& where, qint64 fallback = -1) {
  const QJsonValue v = o.value(field);
  if (v.isUndefined() && fallback >= 0) return fallback;
  if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() != std::floor(v.toDouble())) {
    throw Invalid{QString("%1: '%2' %3").arg(where, field, v.isUndefined() ? "is missing" : "must be a whole number >= 0")};
  }
  return v.toInteger();
}

QJsonArray array(const QJsonObject& o, const char* field, const QString& where, bool required) {
  const QJsonValue v = o.value(field);
  if (v.isUndefined() && !required) return {};
  if (!v.isArray()) throw Invalid{QString("%1: '%2' %3").arg(where, field, v.isUndefined() ? "is missing" : "must be an array")};
  return v.toArray();
}

QString text(const QJsonObject& o, const char* field, const QString& where) {
  const QJsonValue v = o.value(field);
  if (!v.isString()) throw Invalid{QString("%1: '%2' %3").arg(where, field, v.isUndefined() ? "is missing" : "must be a string")};
  return v.toString();
}

QString mib(qint64 bytes) { return QString::number(static_cast<double>(bytes) / (1 << 20), 'f', 1) + " MiB"; }

QString not_regular(const QString& path, mode_t mode) {
  return QString("%1: cannot read: %2, not a regular file; a manifest is read only from a regular file")
      .arg(path, QString::fromLatin1(ipc::file_kind(mode)));
}

QString too_large(const QString& path, qint64 size) {
  return QString("%1: cannot read: %2 is over the %3 limit for a manifest").arg(path, mib(size), mib(kMaxManifestBytes));
}

QString os_error(const QString& path, int e) { return QString("%1: cannot read: %2").arg(path, QString::fromLocal8Bit(std::strerror(e))); }

}  // namespace

std::variant<QByteArray, QString> read_manifest_file(const QString& path) {
  const QByteArray name = QFile::encodeName(path);
  // Refused from stat, before open(): opening a FIFO blocks, opening a device may do anything.
  struct stat before {};
  if (::stat(name.constData(), &before) != 0) return os_error(path, errno);
  if (!S_ISREG(before.st_mode)) return not_regular(path, before.st_mode);
  if (before.st_size > kMaxManifestBytes) return too_large(path, before.st_size);
  const int fd = ::open(name.constData(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return os_error(path, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // Swapped since the stat (schedulers replace the file by rename: a new regular file is fine).
  struct stat st {};
  if (::fstat(fd, &st) != 0) return os_error(path, errno);
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  if (st.st_size > kMaxManifestBytes) return too_large(path, st.st_size);
  QByteArray bytes;
  bytes.resize(static_cast<qsizetype>(st.st_size) + 1);  // one more: a file that grows is noticed
  qsizetype got = 0;
  for (;;) {
    if (got == bytes.size()) {
      if (bytes.size() > kMaxManifestBytes) return too_large(path, bytes.size());
      bytes.resize(std::min<qsizetype>(bytes.size() * 2, kMaxManifestBytes + 1));
    }
    const ssize_t n = ::read(fd, bytes.data() + got, static_cast<std::size_t>(bytes.size() - got));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(path, errno);
    }
    got += n;
  }
  bytes.truncate(got);
  return bytes;
}

QString check_manifest_file(const QString& path) {
  const QByteArray name = QFile::encodeName(path);
  struct stat st {};
  if (::stat(name.constData(), &st) != 0) return os_error(path, errno);
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  if (st.st_size > kMaxManifestBytes) return too_large(path, st.st_size);
  if (::access(name.constData(), R_OK) != 0) return os_error(path, errno);
  return {};
}

std::variant<GraspState, QString> load_grasp_manifest(const QString& path, double now_unix_s) {
  auto bytes = read_manifest_file(path);
  if (auto* error = std::get_if<QString>(&bytes)) return *error;
  return parse_grasp_manifest(std::get<QByteArray>(bytes), path, now_unix_s);
}

std::variant<GraspState, QString> parse_grasp_manifest(const QByteArray& json, const QString& path,
                                                       double now_unix_s) {
  QJsonParseError error{};
  const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
  if (error.error != QJsonParseError::NoError) {
    return QString("%1: not valid JSON at byte %2 (%3); the file may be partly written")
        .arg(path).arg(error.offset).arg(error.errorString());
  }
  if (!doc.isObject()) return QString("%1: the top level must be an object").arg(path);
  try {
    const QJsonObject top = doc.object();
    const QJsonValue objects_value = top.value("objects");
    if (!objects_value.isObject()) {
      return QString("%1: 'objects' %2").arg(path, objects_value.isUndefined() ? "is missing" : "must be an object");
    }
    const qint64 quota = top.contains("quota") ? integer(top, "quota", path) : -1;
    const QJsonObject objects = objects_value.toObject();
    GraspState state;
    // A manifest's own clock: running rounds extend to its last update, not to the reader's now.
    if (top.value("updated_at").isDouble()) now_unix_s = top.value("updated_at").toDouble();
    state.now_s = now_unix_s;
    std::set<int> gpus;
    double remaining_work_s = 0.0;
    for (auto it = objects.begin(); it != objects.end(); ++it) {
      const QString where = QString("%1: object '%2'").arg(path, it.key());
      if (!it.value().isObject()) throw Invalid{where + " must be an object"};
      const QJsonObject o = it.value().toObject();
      JobView job;
      job.source = path.toStdString();
      auto& row = job.row;
      row.object_code = it.key().toStdString();
      row.target_count = static_cast<std::uint64_t>(integer(o, "target_count", where, quota));
      row.collected_count = static_cast<std::uint64_t>(integer(o, "collected_count", where));
      row.rounds_done = static_cast<std::uint32_t>(integer(o, "completed_rounds", where));
      const QJsonArray seeds = array(o, "seeds_used", where, true);
      if (!seeds.isEmpty()) {
        const QJsonValue last = seeds.last();
        if (!last.isDouble()) throw Invalid{where + ": 'seeds_used' must hold numbers"};
        row.last_seed = static_cast<std::uint64_t>(last.toInteger());
      }
      const QJsonArray failures = array(o, "failures", where, false);
      row.rounds_failed = static_cast<std::uint32_t>(failures.size());
      for (const QJsonValue& f : failures) {
        if (!f.isObject()) throw Invalid{where + ": each failure must be an object"};
        if (f.toObject().value("retried").toBool(false)) ++row.rounds_retried;
      }
      bool running = false;
      double busy_s = 0.0;
      int timed_rounds = 0;
      const QJsonArray rounds = array(o, "rounds", where, true);
      for (qsizetype r = 0; r < rounds.size(); ++r) {
        const QString round_where = QString("%1, round %2").arg(where).arg(r);
        if (!rounds[r].isObject()) throw Invalid{round_where + " must be an object"};
        const QJsonObject round = rounds[r].toObject();
        text(round, "name", round_where);
        const QString merge = text(round, "merge_state", round_where);
        if (!round.value("result_path").isString() && !round.value("result_path").isNull()) {
          throw Invalid{round_where + ": 'result_path' must be a string or null"};
        }
        const int gpu = round.value("gpu").toInt(-1);
        if (gpu >= 0) {
          row.gpu = gpu;
          gpus.insert(gpu);
        }
        const double started = round.value("started_at").toDouble(-1.0);
        const double finished = round.value("finished_at").toDouble(-1.0);
        const bool open = merge == "running" || merge == "pending";
        if (open && merge == "running") running = true;
        if (gpu >= 0 && started > 0) {
          LaneInterval lane{gpu, row.object_code, started, open || finished <= 0 ? now_unix_s : finished, open, merge == "failed"};
          state.lanes.push_back(lane);
        }
        if (!open && started > 0 && finished >= started) {
          busy_s += finished - started;
          ++timed_rounds;
        }
      }
      const std::uint64_t remaining = remaining_grasps(row);
      row.state = remaining == 0 ? ipc::JobState::kDone : running ? ipc::JobState::kRunning : ipc::JobState::kQueued;
      if (o.value("state").toString() == "failed") row.state = ipc::JobState::kFailed;
      // ETA from the manifest alone: grasps per round and time per round so far.
      if (remaining == 0) {
        job.eta_s = 0.0;
      } else if (row.rounds_done > 0 && row.collected_count > 0 && timed_rounds > 0) {
        const double per_round = static_cast<double>(row.collected_count) / row.rounds_done;
        const double round_s = busy_s / timed_rounds;
        job.eta_s = remaining / per_round * round_s;
        remaining_work_s += *job.eta_s;
      }
      state.add_job(std::move(job));
    }
    if (state.all_done()) {
      state.eta_s = 0.0;
    } else if (remaining_work_s > 0) {
      state.eta_s = remaining_work_s / std::max<std::size_t>(1, gpus.size());
    }
    std::sort(state.lanes.begin(), state.lanes.end(),
              [](const LaneInterval& a, const LaneInterval& b) { return a.start_s < b.start_s; });
    return state;
  } catch (const Invalid& e) {
    return e.message;
  }
}

}  // namespace fleetscope::app
