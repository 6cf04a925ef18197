// The worker and job records of the telemetry section as C++ values: what a writer reports and,
// with the fields the writer adds, what a reader gets back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fleetscope/ipc/telemetry_format.hpp"

namespace fleetscope::ipc {

struct WorkerReport {
  std::uint32_t worker_id = 0;  // the row's key
  pid_t pid = 0;                // the worker's process; 0 when it has none (yet)
  std::string host;             // host or GPU, at most 31 bytes
  WorkerState state = WorkerState::kRunning;
  std::uint32_t chunk_size = 0;
  std::uint64_t steps = 0;
  double steps_per_s = 0.0;
  double exec_s = 0.0;  // execution time of the last chunk
  double ipc_s = 0.0;   // communication time of the last chunk
  std::uint32_t restarts = 0;
};

struct JobReport {
  std::string object_code;  // the row's key, at most 47 bytes
  std::uint64_t target_count = 0;
  std::uint64_t collected_count = 0;
  std::uint32_t rounds_done = 0;
  std::uint32_t rounds_failed = 0;
  std::uint32_t rounds_retried = 0;
  std::int32_t gpu = -1;
  std::uint64_t last_seed = 0;
  JobState state = JobState::kQueued;
};

struct WorkerRowRead : WorkerReport {
  std::uint64_t start_ticks = 0;   // of pid, recorded by the writer (0: unknown)
  std::uint64_t heartbeat_ns = 0;  // CLOCK_MONOTONIC of the last report
};

struct JobRowRead : JobReport {
  std::uint64_t updated_ns = 0;  // CLOCK_MONOTONIC of the last change
};

}  // namespace fleetscope::ipc
