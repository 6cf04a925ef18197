#include "kpi_logger.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <stdexcept>

namespace fleetscope::app {

KpiLogger::KpiLogger(const QString& path) : file_(path) {
  if (!file_.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
    throw std::runtime_error("cannot write KPI log '" + path.toStdString() + "': " + file_.errorString().toStdString());
  }
}

void KpiLogger::write(const render::FrameSummary& s, std::uint64_t instances, double cpu_percent, double rss_mib,
                      const TelemetryFigures& telemetry, const PollFigures& polls) {
  QJsonObject o;
  o["time"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
  o["fps"] = s.fps;
  o["frame_ms"] = s.frame_ms_mean;
  o["frame_ms_max"] = s.frame_ms_max;
  o["ingest_us"] = s.ingest_us_mean;
  o["dirty_links_per_frame"] = s.dirty_links_per_frame;
  o["instances"] = static_cast<qint64>(instances);
  o["latency_ms_p50"] = s.latency_ms_p50;
  o["latency_ms_p99"] = s.latency_ms_p99;
  o["cpu_percent"] = cpu_percent;
  o["telemetry_cpu_percent"] = telemetry.cpu_percent;
  o["telemetry_records"] = static_cast<qint64>(telemetry.received);
  o["telemetry_lost"] = static_cast<qint64>(telemetry.lost);
  o["rss_mib"] = rss_mib;
  o["polls"] = polls.polls_per_second;
  o["sources"] = static_cast<qint64>(polls.sources);
  file_.write(QJsonDocument(o).toJson(QJsonDocument::Compact));
  file_.write("\n");
  file_.flush();
}

}  // namespace fleetscope::app
