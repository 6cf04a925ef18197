// --kpi-log FILE: one JSON record per second with the viewer's own figures (fps, frame ms,
// ingest us, dirty links, latency p50/p99, CPU %, RSS, segment polls per second, sources attached)
// for later analysis.
#pragma once

#include <QFile>
#include <QString>
#include <cstdint>

#include "fleetscope/render/frame_statistics.hpp"

namespace fleetscope::app {

class KpiLogger {
 public:
  // Throws std::runtime_error when the file cannot be opened for writing.
  explicit KpiLogger(const QString& path);
  // The dashboards' share: CPU of polling, refreshing and painting; records received and lost.
  struct TelemetryFigures {
    double cpu_percent = 0.0;
    std::uint64_t received = 0;
    std::uint64_t lost = 0;
  };
  // How often the frame loop read the attached segments, and how many there are.
  struct PollFigures {
    double polls_per_second = 0.0;
    std::uint64_t sources = 0;
  };
  // `cpu_percent` (of one core) and `rss_mib` as the caller measured them for the same second.
  void write(const render::FrameSummary& summary, std::uint64_t instances, double cpu_percent, double rss_mib,
             const TelemetryFigures& telemetry, const PollFigures& polls);

 private:
  QFile file_;
};

}  // namespace fleetscope::app
