#include "fleetscope/ipc/telemetry_reader.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <new>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/history_format.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/shared_access.hpp"

namespace fleetscope::ipc {
namespace {

[[noreturn]] void corrupt(std::string_view segment, const std::string& what) {
  throw SegmentError(ErrorCode::kCorrupt,
                     "segment '" + std::string(segment) + "' is corrupt: telemetry " + what);
}

// One seqlock-validated copy of a row whose first word is its sequence. False when the writer
// kept it busy (taken on the next poll); a gone writer's row is copied once, torn or not.
template <typename Row>
bool read_row(const Row& shared, Row& local, bool writer_gone) noexcept {
  return seqlock_read(shared.seq, kRowPolicy, writer_gone, [&](std::uint64_t) {
           load_words(reinterpret_cast<std::byte*>(&local) + 8, reinterpret_cast<const std::byte*>(&shared) + 8,
                      sizeof(Row) - 8);
         }) != SeqlockOutcome::kBusy;
}

// A count above its capacity is corruption, as for models: refused, never clamped.
std::uint32_t checked_count(std::string_view segment, std::uint32_t count, std::uint32_t capacity, const char* what) {
  if (count > capacity) {
    corrupt(segment, std::string(what) + " count " + std::to_string(count) + " exceeds capacity " + std::to_string(capacity));
  }
  return count;
}

template <std::size_t N>
std::string text_of(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

}  // namespace

const char* worker_state_name(WorkerState state) {
  switch (state) {
    case WorkerState::kStarting: return "starting";
    case WorkerState::kRunning: return "running";
    case WorkerState::kStalled: return "stalled";
    case WorkerState::kDead: return "dead";
    case WorkerState::kRestarting: return "restarting";
    case WorkerState::kStopped: return "stopped";
  }
  return "unknown";
}

const char* job_state_name(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

TelemetryLayout validate_telemetry_section(std::span<const std::byte> section, std::string_view segment) {
  if (section.size() < sizeof(TelemetryHeader)) corrupt(segment, "section is smaller than its header");
  // The immutable part of the header (first 64 bytes) was written before the segment opened.
  alignas(8) std::byte raw[64];
  load_words(raw, section.data(), sizeof raw);
  std::uint64_t magic = 0;
  std::uint32_t caps[4] = {};
  std::uint64_t offsets[5] = {};
  std::memcpy(&magic, raw, 8);
  std::memcpy(caps, raw + 8, sizeof caps);
  std::memcpy(offsets, raw + 24, sizeof offsets);
  if (magic != kTelemetryMagic) corrupt(segment, "section has the wrong magic");
  TelemetryCapacities c;
  c.scalars = caps[0];
  c.tags = caps[1];
  c.workers = caps[2];
  c.jobs = caps[3];
  TelemetryLayout layout;
  try {
    layout = compute_telemetry_layout(c);
  } catch (const SegmentError& e) {
    corrupt(segment, std::string("capacities out of range: ") + e.what());
  }
  if (offsets[0] != layout.tags_offset || offsets[1] != layout.scalars_offset ||
      offsets[2] != layout.workers_offset || offsets[3] != layout.jobs_offset ||
      offsets[4] != layout.size || layout.size != section.size()) {
    corrupt(segment, "offsets or size do not match its capacities");
  }
  return layout;
}

std::optional<TelemetryReader> TelemetryReader::of(const SegmentReader& segment) {
  const SegmentInfo& info = segment.info();
  if (!info.telemetry) return std::nullopt;
  std::span<const std::byte> history;
  if (info.history) history = segment.bytes().subspan(info.history_offset, info.history->size);
  return TelemetryReader(segment.state(), segment.bytes().subspan(info.telemetry_offset, info.telemetry->size),
                         *info.telemetry, info.name, history, info.history);
}

TelemetryReader::TelemetryReader(std::shared_ptr<ReaderState> state, std::span<const std::byte> section,
                                 const TelemetryLayout& layout, std::string name, std::span<const std::byte> history,
                                 const std::optional<HistoryLayout>& history_layout)
    : state_(std::move(state)),
      section_(section),
      layout_(layout),
      name_(std::move(name)),
      history_(history),
      history_layout_(history_layout) {}

std::optional<TagHistory> TelemetryReader::history(std::uint32_t tag) const {
  if (!history_layout_ || tag >= history_layout_->capacities.tags) return std::nullopt;
  state_->check_mapping();
  const std::uint64_t buckets = history_layout_->capacities.buckets;
  const std::byte* block = history_.data() + history_layout_->blocks_offset + std::uint64_t{tag} * history_layout_->block_stride;
  const auto& head = *std::launder(reinterpret_cast<const HistoryBlockHeader*>(block));
  std::uint64_t words[4] = {};
  std::vector<std::uint64_t> raw(buckets * 6);
  auto copy = [&](std::uint64_t) {
    words[0] = head.origin.load(std::memory_order_relaxed);
    words[1] = head.width.load(std::memory_order_relaxed);
    words[2] = head.used.load(std::memory_order_relaxed);
    words[3] = head.records.load(std::memory_order_relaxed);
    const std::uint64_t used = std::min(words[2], buckets);
    load_words(raw.data(), block + sizeof(HistoryBlockHeader), used * sizeof(HistoryBucket));
  };
  const SeqlockOutcome outcome = seqlock_read(head.seq, kRowPolicy, state_->writer_gone(), copy);
  if (outcome == SeqlockOutcome::kBusy) return std::nullopt;
  const std::string which = "the scalar history of tag " + std::to_string(tag);
  TagHistory h;
  h.origin = static_cast<std::int64_t>(words[0]);
  h.width = words[1];
  h.records = words[3];
  if (h.width == 0) {
    if (words[2] != 0 || h.records != 0) corrupt(name_, which + " has records but no bucket width");
    return h;
  }
  if ((h.width & (h.width - 1)) != 0) corrupt(name_, which + " has a bucket width that is not a power of two");
  if (words[2] > buckets) corrupt(name_, which + " uses " + std::to_string(words[2]) + " of " + std::to_string(buckets) + " buckets");
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < words[2]; ++i) {
    const std::uint64_t* b = &raw[i * 6];
    if (b[5] == 0) continue;
    HistoryPoint p;
    p.last_step = static_cast<std::int64_t>(b[0]);
    p.last_wall_unix_ns = b[1];
    p.min = std::bit_cast<double>(b[2]);
    p.max = std::bit_cast<double>(b[3]);
    p.count = b[5];
    p.mean = std::bit_cast<double>(b[4]) / static_cast<double>(p.count);
    if (!std::isfinite(p.min) || !std::isfinite(p.max) || !std::isfinite(p.mean) || p.min > p.max) {
      corrupt(name_, which + ": bucket " + std::to_string(i) + " has min, max or mean out of order or not finite");
    }
    total += p.count;
    h.points.push_back(p);
  }
  if (total > h.records) corrupt(name_, which + " holds more records in its buckets than it counted");
  return h;
}

const TelemetryHeader& TelemetryReader::header() const noexcept {
  return *std::launder(reinterpret_cast<const TelemetryHeader*>(section_.data()));
}

std::uint32_t TelemetryReader::tag_count() const {
  // SYNC POINT READ (tags): pairs with the writer's release store after a tag's name.
  return checked_count(name_, header().tag_count.load(std::memory_order_acquire), layout_.capacities.tags, "tag");
}

std::vector<std::string> TelemetryReader::tags_from(std::uint32_t first) const {
  state_->check_mapping();
  const std::uint32_t count = tag_count();
  std::vector<std::string> names;
  const auto* records = reinterpret_cast<const TagRecord*>(section_.data() + layout_.tags_offset);
  for (std::uint32_t i = first; i < count; ++i) {
    TagRecord copy;
    load_words(&copy, records + i, sizeof copy);
    if (!terminated(copy.name)) corrupt(name_, "tag " + std::to_string(i) + " is not NUL-terminated");
    names.push_back(text_of(copy.name));
  }
  return names;
}

std::uint64_t TelemetryReader::scalars_written() const noexcept {
  return header().scalars_written.load(std::memory_order_acquire);
}

std::uint64_t TelemetryReader::read_scalars(ScalarCursor& cursor, std::vector<ScalarSample>& out,
                                            std::size_t max) const {
  state_->check_mapping();
  const std::uint64_t capacity = layout_.capacities.scalars;
  const auto* records = reinterpret_cast<const ScalarRecord*>(section_.data() + layout_.scalars_offset);
  // SYNC POINT READ (ring head): records below it were complete when it was stored.
  const std::uint64_t head = header().scalars_written.load(std::memory_order_acquire);
  // A head is believed only if the record just below it was written at or after it: the writer
  // stores record h-1 (sequence 2h) before it publishes head h, and a later lap only raises that
  // sequence. A head that fails this, or that moved back, is corrupt: nothing is taken and the
  // cursor stays where it is, so counts only move forward and nothing is read twice.
  if (head == 0 || (cursor.started && head <= cursor.next)) return 0;
  if (records[(head - 1) & (capacity - 1)].seq.load(std::memory_order_acquire) / 2 < head) return 0;
  if (!cursor.started) {
    cursor.next = head > capacity ? head - capacity : 0;
    cursor.started = true;
  }
  std::uint64_t lost = 0;
  if (head - cursor.next > capacity) {
    lost += head - capacity - cursor.next;
    cursor.next = head - capacity;
  }
  std::size_t taken = 0;
  while (cursor.next < head && taken < max) {
    const std::uint64_t n = cursor.next++;
    const ScalarRecord& slot = records[n & (capacity - 1)];
    const std::uint64_t expected = 2 * n + 2;
    // SYNC POINT READ (scalar record)
    const std::uint64_t s1 = slot.seq.load(std::memory_order_acquire);
    std::uint64_t words[4];
    load_words(words, &slot.step, sizeof words);
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t s2 = slot.seq.load(std::memory_order_relaxed);
    if (s1 != expected || s2 != expected) {
      // Overwritten by a later lap while we read: everything up to the writer's position less
      // one ring is gone too, so skip ahead instead of reading more stale slots.
      ++lost;
      const std::uint64_t now_head = header().scalars_written.load(std::memory_order_acquire);
      // cursor.next is already past the failed record; skipping only ever moves it forward.
      if (now_head > capacity) {
        const std::uint64_t resume = std::min(head, now_head - capacity);
        if (resume > cursor.next) {
          lost += resume - cursor.next;
          cursor.next = resume;
        }
      }
      continue;
    }
    ScalarSample sample;
    std::memcpy(&sample.step, &words[0], 8);
    sample.wall_unix_ns = words[1];
    std::memcpy(&sample.value, &words[2], 8);
    sample.tag = static_cast<std::uint32_t>(words[3]);
    out.push_back(sample);
    ++taken;
  }
  cursor.lost += lost;
  return lost;
}

std::vector<WorkerRowRead> TelemetryReader::workers() const {
  state_->check_mapping();
  // SYNC POINT READ (worker rows): rows below the count were initialised before it was stored.
  const std::uint32_t count =
      checked_count(name_, header().worker_count.load(std::memory_order_acquire), layout_.capacities.workers, "worker");
  const auto* rows = reinterpret_cast<const WorkerRow*>(section_.data() + layout_.workers_offset);
  std::vector<WorkerRowRead> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    WorkerRow local;
    if (!read_row(rows[i], local, state_->writer_gone())) continue;
    if (!terminated(local.host)) corrupt(name_, "worker row " + std::to_string(i) + " host is not NUL-terminated");
    WorkerRowRead r;
    r.worker_id = local.worker_id;
    r.pid = local.pid;
    r.start_ticks = local.start_ticks;
    r.host = text_of(local.host);
    r.state = static_cast<WorkerState>(local.state);
    r.chunk_size = local.chunk_size;
    r.steps = local.steps;
    r.steps_per_s = local.steps_per_s;
    r.exec_s = local.exec_s;
    r.ipc_s = local.ipc_s;
    r.heartbeat_ns = local.heartbeat_ns;
    r.restarts = local.restarts;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<JobRowRead> TelemetryReader::jobs() const {
  state_->check_mapping();
  // SYNC POINT READ (job rows)
  const std::uint32_t count =
      checked_count(name_, header().job_count.load(std::memory_order_acquire), layout_.capacities.jobs, "job");
  const auto* rows = reinterpret_cast<const JobRow*>(section_.data() + layout_.jobs_offset);
  std::vector<JobRowRead> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    JobRow local;
    if (!read_row(rows[i], local, state_->writer_gone())) continue;
    if (!terminated(local.object_code)) corrupt(name_, "job row " + std::to_string(i) + " object code is not NUL-terminated");
    JobRowRead r;
    r.object_code = text_of(local.object_code);
    r.target_count = local.target_count;
    r.collected_count = local.collected_count;
    r.rounds_done = local.rounds_done;
    r.rounds_failed = local.rounds_failed;
    r.rounds_retried = local.rounds_retried;
    r.gpu = local.gpu;
    r.last_seed = local.last_seed;
    r.state = static_cast<JobState>(local.state);
    r.updated_ns = local.updated_ns;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace fleetscope::ipc
