// The writing side of a segment's telemetry section: scalar series, worker status rows and job
// rows. Owned by a SegmentWriter (one writer, one thread). Every call is wait-free: a record goes
// into the ring whether or not anyone reads, and a slow reader loses the oldest records.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fleetscope/ipc/layout.hpp"
#include "fleetscope/ipc/telemetry_format.hpp"
#include "fleetscope/ipc/telemetry_records.hpp"

namespace fleetscope::ipc {

class TelemetryWriter {
 public:
  // Initialises the section (zeroed shared memory of layout.size bytes). Called by SegmentWriter
  // before the segment is marked open; every record also refreshes the segment's `heartbeat`.
  // `history` (format 1.3, optional) is the zeroed scalar history section of `history_layout`.
  TelemetryWriter(std::span<std::byte> section, const TelemetryLayout& layout,
                  std::atomic<std::uint64_t>& heartbeat, std::span<std::byte> history = {},
                  const std::optional<HistoryLayout>& history_layout = std::nullopt);

  const TelemetryLayout& layout() const noexcept { return layout_; }

  // The id of a tag, adding it on first use. Throws kInvalidArgument (empty, too long, NUL) or
  // kCapacity (tag table full).
  std::uint32_t tag(std::string_view name);
  // One record; `wall_unix_ns` 0 means now. Throws kInvalidArgument for an unknown tag id.
  void scalar(std::uint32_t tag, std::int64_t step, double value, std::uint64_t wall_unix_ns = 0);
  void scalar(std::string_view tag_name, std::int64_t step, double value) {
    scalar(tag(tag_name), step, value);
  }
  // Many records of one tag, one wall time; `steps` and `values` have the same length.
  void scalars(std::uint32_t tag, std::span<const std::int64_t> steps, std::span<const double> values);
  std::uint64_t scalars_written() const noexcept { return written_; }

  // Inserts or updates the worker's row (keyed by worker_id) and refreshes its heartbeat.
  void worker(const WorkerReport& report);
  // Inserts or updates the job's row (keyed by object_code).
  void job(const JobReport& report);

 private:
  TelemetryHeader& header() const noexcept;
  void put_scalar(std::uint32_t tag, std::int64_t step, double value, std::uint64_t wall_ns) noexcept;
  // Folds a record into its tag's history buckets (FORMAT.md, "Scalar history").
  void fold_history(std::uint32_t tag, std::int64_t step, double value, std::uint64_t wall_ns) noexcept;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::span<std::byte> section_;
  TelemetryLayout layout_;
  std::atomic<std::uint64_t>* heartbeat_;
  std::span<std::byte> history_;
  std::optional<HistoryLayout> history_layout_;
  // The writer's own copy of each tag's block header fields (it never reads shared memory back).
  struct TagHistoryState {
    std::int64_t origin = 0;
    std::uint64_t width = 0;  // 0: no record yet
    std::uint64_t used = 0;
    std::uint64_t records = 0;
  };
  std::vector<TagHistoryState> history_state_;
  std::uint64_t written_ = 0;
  std::uint32_t tag_count_ = 0;
  std::uint32_t worker_count_ = 0;
  std::uint32_t job_count_ = 0;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> tags_;
  std::unordered_map<std::uint32_t, std::uint32_t> worker_rows_;  // worker id -> row
  std::unordered_map<std::uint32_t, std::pair<pid_t, std::uint64_t>> worker_start_;  // row -> pid, ticks
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> job_rows_;
};

}  // namespace fleetscope::ipc
