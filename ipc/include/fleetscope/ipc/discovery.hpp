// Finding every fleetscope segment on this machine (/dev/shm/fleetscope.*) and removing those
// whose writer is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"

namespace fleetscope::ipc {

struct SegmentSummary {
  std::string name;
  bool readable = false;
  std::string error;  // why it could not be read, when !readable
  uid_t owner_uid = 0;
  pid_t writer_pid = 0;
  WriterStatus status;
  std::uint32_t robots = 0;
  std::uint64_t links = 0;
  std::uint64_t frame = 0;
  std::uint64_t created_unix_ns = 0;
  std::uint64_t size_bytes = 0;
};

// Names of all fleetscope segments, sorted.
std::vector<std::string> list_segment_names();
// Opens each (other users' too, read-only) and summarises it; unreadable ones say why.
std::vector<SegmentSummary> discover_segments(std::uint64_t stale_after_ns = 1'000'000'000ULL);

struct RemovedSegment {
  std::string name;
  std::string reason;
};
// Removes segments whose writer process is gone or that were closed without being removed.
// Never removes a segment whose writer is alive.
std::vector<RemovedSegment> remove_dead_segments();

}  // namespace fleetscope::ipc
