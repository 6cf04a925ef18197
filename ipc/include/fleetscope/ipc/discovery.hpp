// Finding every fleetscope segment on this machine (/dev/shm/fleetscope.*) and removing those
// whose writer is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"

namespace fleetscope::ipc {

struct SegmentSummary {
  std::string name;
  bool readable = false;
  std::string error;  // why it could not be read, when !readable
  bool other_user = false;  // owned by another uid and not read
  uid_t owner_uid = 0;
  pid_t writer_pid = 0;
  WriterStatus status;
  std::uint32_t robots = 0;
  std::uint64_t links = 0;
  std::uint64_t frame = 0;
  std::uint64_t created_unix_ns = 0;
  std::uint64_t size_bytes = 0;
};

// Names of all fleetscope segments, sorted, as found in /dev/shm: a name may be invalid (any
// local user can create files there); print it with printable().
std::vector<std::string> list_segment_names();
// Summarises each segment; unreadable ones say why. Other users' segments are only stat'ed
// (owner and size), not opened, unless `read_other_users`.
std::vector<SegmentSummary> discover_segments(std::uint64_t stale_after_ns = 1'000'000'000ULL,
                                              bool read_other_users = false);
// What discover_segments() says about one segment (the viewer's discovery thread goes name by
// name, to skip segments it already reads and to stop between two).
SegmentSummary summarise_segment(const std::string& name, std::uint64_t stale_after_ns = 1'000'000'000ULL,
                                 bool read_other_users = false);

struct RemovedSegment {
  std::string name;
  std::string reason;
};
// Removes segments whose writer process is gone or that were closed without being removed.
// Never removes a segment whose writer is alive, including one restarted under the same name
// while this runs (see SharedMemoryMapping::remove_if). Only the caller's own segments.
std::vector<RemovedSegment> remove_dead_segments();
// The same for one segment: the reason it was removed, or nullopt if it was left.
std::optional<std::string> remove_if_stale(std::string_view name);

}  // namespace fleetscope::ipc
