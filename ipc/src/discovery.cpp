#include "fleetscope/ipc/discovery.hpp"

#include <algorithm>
#include <filesystem>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/shared_memory.hpp"

namespace fleetscope::ipc {

std::vector<std::string> list_segment_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(kObjectPrefix, 0) == 0 && file.size() > kObjectPrefix.size()) {
      names.push_back(file.substr(kObjectPrefix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<SegmentSummary> discover_segments(std::uint64_t stale_after_ns) {
  std::vector<SegmentSummary> out;
  for (const std::string& name : list_segment_names()) {
    SegmentSummary s;
    s.name = name;
    try {
      const SegmentReader reader = SegmentReader::open(name, ReaderOptions{.allow_other_users = true});
      const LayoutSnapshot layout = reader.read_layout();
      s.readable = true;
      s.owner_uid = reader.info().owner_uid;
      s.writer_pid = reader.info().writer_pid;
      s.status = reader.writer_status(stale_after_ns);
      s.robots = static_cast<std::uint32_t>(layout.robots.size());
      for (const RobotSnapshot& r : layout.robots) s.links += r.link_count;
      s.frame = reader.frame().frame;
      s.created_unix_ns = reader.info().created_unix_ns;
      s.size_bytes = reader.info().layout.total_size;
    } catch (const SegmentError& e) {
      s.error = e.what();
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<RemovedSegment> remove_dead_segments() {
  std::vector<RemovedSegment> removed;
  for (const std::string& name : list_segment_names()) {
    try {
      const SegmentReader reader = SegmentReader::open(name);
      const WriterStatus status = reader.writer_status();
      std::string reason;
      if (status.state == WriterState::kDead) {
        reason = "writer pid " + std::to_string(reader.info().writer_pid) + " is gone";
      } else if (status.state == WriterState::kClosed) {
        reason = "closed by its writer but not removed";
      } else {
        continue;
      }
      if (SharedMemoryMapping::remove(name)) removed.push_back({name, reason});
    } catch (const SegmentError&) {
      // Another user's, corrupt or still being created: not ours to judge.
    }
  }
  return removed;
}

}  // namespace fleetscope::ipc
