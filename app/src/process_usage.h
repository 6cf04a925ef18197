// This process's CPU use and resident memory, from /proc/self (Linux).
#pragma once

#include <cstdint>

namespace fleetscope::app {

class ProcessUsage {
 public:
  ProcessUsage();
  // CPU time used since the previous call, as a percentage of one core over the wall time since.
  double cpu_percent();
  static std::uint64_t rss_bytes();

 private:
  std::uint64_t last_cpu_ns_ = 0;
  std::uint64_t last_wall_ns_ = 0;
};

}  // namespace fleetscope::app
