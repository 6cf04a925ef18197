#include "fleetscope/ipc/process_liveness.hpp"

#include <time.h>

#include <fstream>
#include <sstream>
#include <string>

namespace fleetscope::ipc {

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) may contain spaces and parentheses: parse from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  // A zombie has exited: it no longer writes, whatever its parent does.
  if (!(fields >> field) || field == "Z" || field == "X") return std::nullopt;
  // Fields 4..21 follow the state; field 22 is the start time.
  for (int i = 4; i < 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  std::uint64_t start = 0;
  if (!(fields >> start)) return std::nullopt;
  return start;
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) {
  const auto start = process_start_ticks(pid);
  // 0: the writer could not read its own start time; then any living process of that pid counts.
  return start && (start_ticks == 0 || *start == start_ticks);
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t unix_time_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace fleetscope::ipc
