// The reading side of a segment's telemetry section. Reads only: a reader that falls behind the
// scalar ring loses the oldest records and is told how many; rows are seqlock-validated copies.
// Not thread-safe; use one per thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/layout.hpp"
#include "fleetscope/ipc/reader_state.hpp"
#include "fleetscope/ipc/telemetry_format.hpp"
#include "fleetscope/ipc/telemetry_records.hpp"

namespace fleetscope::ipc {

class SegmentReader;

struct ScalarSample {
  std::uint32_t tag = 0;
  std::int64_t step = 0;
  std::uint64_t wall_unix_ns = 0;
  double value = 0.0;
};

// Where one reader is in the ring. A new cursor starts at the oldest record still held, so a
// reader attached late gets the history the ring keeps (and no loss is counted for it).
// One tag's downsampled history (format 1.3): buckets of `width` steps from `origin`, oldest
// first, empty buckets left out.
struct HistoryPoint {
  std::int64_t last_step = 0;  // the highest step in the bucket
  std::uint64_t last_wall_unix_ns = 0;
  double min = 0.0, max = 0.0, mean = 0.0;
  std::uint64_t count = 0;
};
struct TagHistory {
  std::int64_t origin = 0;
  std::uint64_t width = 0;    // steps per bucket
  std::uint64_t records = 0;  // records folded in
  std::vector<HistoryPoint> points;
};

struct ScalarCursor {
  std::uint64_t next = 0;
  bool started = false;
  std::uint64_t lost = 0;  // records overwritten before this reader took them, in total
};

const char* worker_state_name(WorkerState state);
const char* job_state_name(JobState state);

// Checks a telemetry section's header against the layout its capacities imply. Throws
// SegmentError(kCorrupt) naming the segment.
TelemetryLayout validate_telemetry_section(std::span<const std::byte> section, std::string_view segment);

class TelemetryReader {
 public:
  // nullopt when the segment has no telemetry section. Shares the segment reader's mapping (it
  // stays mapped while either lives).
  static std::optional<TelemetryReader> of(const SegmentReader& segment);

  const TelemetryLayout& layout() const noexcept { return layout_; }

  // Throws SegmentError(kCorrupt) when a count exceeds its capacity (as for models).
  std::uint32_t tag_count() const;
  // Tags with ids [first, tag_count()). Throws kCorrupt for a tag without a NUL.
  std::vector<std::string> tags_from(std::uint32_t first) const;

  std::uint64_t scalars_written() const noexcept;
  // Appends up to `max` records from the cursor on to `out`; returns the records lost in this
  // call (also added to cursor.lost). The cursor only moves forward: a ring head that moved back
  // or that the records do not bear out (a corrupt counter) yields nothing and loses nothing. Records whose tag is not yet counted are kept too: the
  // caller looks tags up after the call.
  std::uint64_t read_scalars(ScalarCursor& cursor, std::vector<ScalarSample>& out,
                             std::size_t max = SIZE_MAX) const;

  // Every row in use. A row the writer kept busy for every retry is left out this time. A state
  // value this reader does not know (a newer writer's) is kept as it is: worker_state_name() and
  // job_state_name() call it "unknown". Throws kCorrupt for a count above capacity or a string
  // without its NUL.
  std::vector<WorkerRowRead> workers() const;
  std::vector<JobRowRead> jobs() const;

  // The tag's history when the segment keeps one for it (format 1.3); nullopt without, or when
  // the writer kept the block busy for every retry (ask again). Throws kCorrupt for a block whose
  // header or buckets break FORMAT.md's rules.
  std::optional<TagHistory> history(std::uint32_t tag) const;

 private:
  TelemetryReader(std::shared_ptr<ReaderState> state, std::span<const std::byte> section,
                  const TelemetryLayout& layout, std::string name, std::span<const std::byte> history,
                  const std::optional<HistoryLayout>& history_layout);
  const TelemetryHeader& header() const noexcept;

  std::shared_ptr<ReaderState> state_;
  std::span<const std::byte> section_;
  TelemetryLayout layout_;
  std::string name_;
  std::span<const std::byte> history_;
  std::optional<HistoryLayout> history_layout_;
};

}  // namespace fleetscope::ipc
