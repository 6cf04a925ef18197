// Telling whether a segment's writer process still exists, robust against pid reuse: a pid
// counts as the writer only if its start time (/proc/<pid>/stat field 22) matches.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace fleetscope::ipc {

// Start time of `pid` in clock ticks since boot, or nullopt if it does not exist
// or has exited (zombie).
std::optional<std::uint64_t> process_start_ticks(pid_t pid);

// True when `pid` exists and started at `start_ticks`.
bool process_alive(pid_t pid, std::uint64_t start_ticks);

// CLOCK_MONOTONIC in nanoseconds: the clock of heartbeats and publish timestamps.
std::uint64_t monotonic_ns() noexcept;
std::uint64_t unix_time_ns() noexcept;

}  // namespace fleetscope::ipc
