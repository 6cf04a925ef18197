#include "fleetscope/ipc/discovery.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/shared_access.hpp"
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

std::vector<SegmentSummary> discover_segments(std::uint64_t stale_after_ns, bool read_other_users) {
  std::vector<SegmentSummary> out;
  for (const std::string& name : list_segment_names()) out.push_back(summarise_segment(name, stale_after_ns, read_other_users));
  return out;
}

SegmentSummary summarise_segment(const std::string& name, std::uint64_t stale_after_ns, bool read_other_users) {
  SegmentSummary s;
  s.name = name;
  try {
    validate_segment_name(name);
    // Another user's segment is not mapped just to list it: its owner could truncate it under
    // us, and a forged one could claim anything.
    const SegmentFileInfo file = stat_segment_file(name);
    s.owner_uid = file.owner_uid;
    s.size_bytes = file.size;
    if (file.owner_uid != ::geteuid() && !read_other_users) {
      s.other_user = true;
      s.error = "belongs to " + owner_text(file.owner_uid) + "; not read (allow other users' segments to read it)";
      return s;
    }
    const SegmentReader reader = SegmentReader::open(name, ReaderOptions{.allow_other_users = read_other_users});
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
  return s;
}

std::optional<std::string> stale_reason(const SharedMemoryMapping& mapping, std::string_view name) {
  try {
    const SegmentReader reader = SegmentReader::over_mapping(mapping, name);
    const WriterStatus status = reader.writer_status();
    if (status.state == WriterState::kDead) {
      return "writer pid " + std::to_string(reader.info().writer_pid) + " is gone";
    }
    if (status.state == WriterState::kClosed) return "closed by its writer but not removed";
  } catch (const SegmentError& e) {
    // Still being created, and nobody holds its lock (the caller took it): a creator that died
    // half-way (it writes its pid first). A creator in the moment before it locks has written
    // nothing yet (pid 0) and is left alone. Corrupt segments are not ours to judge.
    if (e.code() != ErrorCode::kNotReady || mapping.bytes().size() < sizeof(SegmentHeader)) return std::nullopt;
    alignas(8) std::byte raw[offsetof(SegmentHeader, created_unix_ns)];
    load_words(raw, mapping.bytes().data(), sizeof raw);
    std::int32_t pid = 0;
    std::uint64_t start_ticks = 0;
    std::memcpy(&pid, raw + offsetof(SegmentHeader, writer_pid), sizeof pid);
    std::memcpy(&start_ticks, raw + offsetof(SegmentHeader, writer_start_ticks), sizeof start_ticks);
    if (pid > 0 && !process_alive(pid, start_ticks)) {
      return "its creation never finished: writer pid " + std::to_string(pid) + " is gone";
    }
  }
  return std::nullopt;
}

std::optional<std::string> remove_if_stale(std::string_view name) {
  return SharedMemoryMapping::remove_if(name, [&](const SharedMemoryMapping& m) { return stale_reason(m, name); });
}

std::vector<RemovedSegment> remove_dead_segments() {
  std::vector<RemovedSegment> removed;
  for (const std::string& name : list_segment_names()) {
    try {
      validate_segment_name(name);
    } catch (const SegmentError&) {
      continue;  // not a name fleetscope writes
    }
    if (auto reason = remove_if_stale(name)) removed.push_back({name, std::move(*reason)});
  }
  return removed;
}

}  // namespace fleetscope::ipc
