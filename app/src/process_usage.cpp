#include "process_usage.h"

#include <time.h>
#include <unistd.h>

#include <fstream>

#include "fleetscope/ipc/process_liveness.hpp"

namespace fleetscope::app {
namespace {

std::uint64_t cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

ProcessUsage::ProcessUsage() : last_cpu_ns_(cpu_ns()), last_wall_ns_(ipc::monotonic_ns()) {}

double ProcessUsage::cpu_percent() {
  const std::uint64_t cpu = cpu_ns(), wall = ipc::monotonic_ns();
  const double percent = wall > last_wall_ns_ ? 100.0 * double(cpu - last_cpu_ns_) / double(wall - last_wall_ns_) : 0.0;
  last_cpu_ns_ = cpu;
  last_wall_ns_ = wall;
  return percent;
}

std::uint64_t ProcessUsage::rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace fleetscope::app
