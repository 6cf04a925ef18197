#include "fleetscope/ipc/telemetry_writer.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <utility>
#include <new>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/fixed_text.hpp"
#include "fleetscope/ipc/history_format.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/shared_access.hpp"

namespace fleetscope::ipc {
namespace {

// Copies everything of a seqlocked record after its 8-byte sequence word.
template <typename Row>
void store_after_seq(Row& shared, const Row& local) noexcept {
  constexpr std::size_t kSkip = sizeof(std::uint64_t);
  store_words(reinterpret_cast<std::byte*>(&shared) + kSkip,
              reinterpret_cast<const std::byte*>(&local) + kSkip, sizeof(Row) - kSkip);
}

}  // namespace

TelemetryWriter::TelemetryWriter(std::span<std::byte> section, const TelemetryLayout& layout,
                                 std::atomic<std::uint64_t>& heartbeat, std::span<std::byte> history,
                                 const std::optional<HistoryLayout>& history_layout)
    : section_(section), layout_(layout), heartbeat_(&heartbeat), history_(history), history_layout_(history_layout) {
  if (history_layout_) {
    auto* hh = new (history_.data()) HistoryHeader();
    hh->magic = kHistoryMagic;
    hh->tag_capacity = history_layout_->capacities.tags;
    hh->bucket_count = history_layout_->capacities.buckets;
    hh->blocks_offset = history_layout_->blocks_offset;
    hh->block_stride = history_layout_->block_stride;
    hh->size = history_layout_->size;
    history_state_.resize(history_layout_->capacities.tags);
  }
  auto* h = new (section_.data()) TelemetryHeader();
  h->magic = kTelemetryMagic;
  h->scalar_capacity = layout_.capacities.scalars;
  h->tag_capacity = layout_.capacities.tags;
  h->worker_capacity = layout_.capacities.workers;
  h->job_capacity = layout_.capacities.jobs;
  h->tags_offset = layout_.tags_offset;
  h->scalars_offset = layout_.scalars_offset;
  h->workers_offset = layout_.workers_offset;
  h->jobs_offset = layout_.jobs_offset;
  h->size = layout_.size;
  auto* records = reinterpret_cast<ScalarRecord*>(section_.data() + layout_.scalars_offset);
  for (std::uint32_t i = 0; i < layout_.capacities.scalars; ++i) new (records + i) ScalarRecord();
  auto* workers = reinterpret_cast<WorkerRow*>(section_.data() + layout_.workers_offset);
  for (std::uint32_t i = 0; i < layout_.capacities.workers; ++i) new (workers + i) WorkerRow();
  auto* jobs = reinterpret_cast<JobRow*>(section_.data() + layout_.jobs_offset);
  for (std::uint32_t i = 0; i < layout_.capacities.jobs; ++i) new (jobs + i) JobRow();
}

TelemetryHeader& TelemetryWriter::header() const noexcept {
  return *std::launder(reinterpret_cast<TelemetryHeader*>(section_.data()));
}

std::uint32_t TelemetryWriter::tag(std::string_view name) {
  if (const auto it = tags_.find(name); it != tags_.end()) return it->second;
  if (name.empty()) throw SegmentError(ErrorCode::kInvalidArgument, "a scalar tag must not be empty");
  if (tag_count_ >= layout_.capacities.tags) {
    throw SegmentError(ErrorCode::kCapacity, "the telemetry tag table is full (" +
                                                 std::to_string(layout_.capacities.tags) +
                                                 " tags); cannot add '" + std::string(name) + "'");
  }
  auto* record = reinterpret_cast<TagRecord*>(section_.data() + layout_.tags_offset) + tag_count_;
  // Written once, before tag_count makes it visible; never changed after.
  copy_fixed_text(record->name, name, "scalar tag");
  const std::uint32_t id = tag_count_++;
  // SYNC POINT WRITE (tags): the name is complete before a reader can count it.
  header().tag_count.store(tag_count_, std::memory_order_release);
  tags_.emplace(std::string(name), id);
  return id;
}

void TelemetryWriter::put_scalar(std::uint32_t tag, std::int64_t step, double value,
                                 std::uint64_t wall_ns) noexcept {
  const std::uint64_t n = written_;
  auto& slot = reinterpret_cast<ScalarRecord*>(section_.data() + layout_.scalars_offset)
      [n & (layout_.capacities.scalars - 1)];
  slot.seq.store(2 * n + 1, std::memory_order_relaxed);
  // SYNC POINT WRITE (scalar record): the odd value is ordered before the data stores.
  std::atomic_thread_fence(std::memory_order_release);
  std::uint64_t words[4];
  std::memcpy(&words[0], &step, 8);
  words[1] = wall_ns;
  std::memcpy(&words[2], &value, 8);
  words[3] = tag;
  store_words(&slot.step, words, sizeof words);
  // SYNC POINT WRITE: the record is complete for a reader that loads 2n+2 with acquire.
  slot.seq.store(2 * n + 2, std::memory_order_release);
  written_ = n + 1;
  fold_history(tag, step, value, wall_ns);
}

void TelemetryWriter::fold_history(std::uint32_t tag, std::int64_t step, double value, std::uint64_t wall_ns) noexcept {
  if (!history_layout_ || tag >= history_layout_->capacities.tags || !std::isfinite(value)) return;
  TagHistoryState& st = history_state_[tag];
  const std::uint64_t buckets = history_layout_->capacities.buckets;
  std::byte* block = history_.data() + history_layout_->blocks_offset + std::uint64_t{tag} * history_layout_->block_stride;
  auto& head = *std::launder(reinterpret_cast<HistoryBlockHeader*>(block));
  auto* bucket = std::launder(reinterpret_cast<HistoryBucket*>(block + sizeof(HistoryBlockHeader)));
  if (st.width != 0 && step < st.origin) return;  // before the first step it kept: only the ring has it
  const SeqlockWrite change(head.seq);
  if (st.width == 0) {
    st.origin = step;
    st.width = 1;
  }
  // step >= origin here, so the unsigned difference is exact.
  auto index = [&] { return (static_cast<std::uint64_t>(step) - static_cast<std::uint64_t>(st.origin)) / st.width; };
  while (index() >= buckets) {
    // Full: every two neighbouring buckets become one, twice as wide (the writer reads back only
    // what it wrote itself).
    for (std::uint64_t i = 0; i < buckets / 2; ++i) {
      HistoryBucket& a = bucket[2 * i];
      HistoryBucket& b = bucket[2 * i + 1];
      const std::uint64_t ca = a.count.load(std::memory_order_relaxed), cb = b.count.load(std::memory_order_relaxed);
      HistoryBucket& out = bucket[i];
      if (cb == 0) {
        if (&out != &a) {
          for (auto [dst, src] : {std::pair{&out.last_step, &a.last_step}, {&out.last_wall_ns, &a.last_wall_ns},
                                  {&out.min_bits, &a.min_bits}, {&out.max_bits, &a.max_bits},
                                  {&out.sum_bits, &a.sum_bits}, {&out.count, &a.count}}) {
            dst->store(src->load(std::memory_order_relaxed), std::memory_order_relaxed);
          }
        }
        continue;
      }
      const auto f = [](const std::atomic<std::uint64_t>& w) { return std::bit_cast<double>(w.load(std::memory_order_relaxed)); };
      const double mn = ca == 0 ? f(b.min_bits) : std::min(f(a.min_bits), f(b.min_bits));
      const double mx = ca == 0 ? f(b.max_bits) : std::max(f(a.max_bits), f(b.max_bits));
      const double sum = (ca == 0 ? 0.0 : f(a.sum_bits)) + f(b.sum_bits);
      out.last_step.store(b.last_step.load(std::memory_order_relaxed), std::memory_order_relaxed);
      out.last_wall_ns.store(b.last_wall_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
      out.min_bits.store(std::bit_cast<std::uint64_t>(mn), std::memory_order_relaxed);
      out.max_bits.store(std::bit_cast<std::uint64_t>(mx), std::memory_order_relaxed);
      out.sum_bits.store(std::bit_cast<std::uint64_t>(sum), std::memory_order_relaxed);
      out.count.store(ca + cb, std::memory_order_relaxed);
    }
    for (std::uint64_t i = buckets / 2; i < buckets; ++i) {
      for (auto* w : {&bucket[i].last_step, &bucket[i].last_wall_ns, &bucket[i].min_bits, &bucket[i].max_bits,
                      &bucket[i].sum_bits, &bucket[i].count}) {
        w->store(0, std::memory_order_relaxed);
      }
    }
    st.width *= 2;
    st.used = (st.used + 1) / 2;
  }
  const std::uint64_t i = index();
  HistoryBucket& b = bucket[i];
  const std::uint64_t count = b.count.load(std::memory_order_relaxed);
  const double mn = count == 0 ? value : std::min(std::bit_cast<double>(b.min_bits.load(std::memory_order_relaxed)), value);
  const double mx = count == 0 ? value : std::max(std::bit_cast<double>(b.max_bits.load(std::memory_order_relaxed)), value);
  const double sum = (count == 0 ? 0.0 : std::bit_cast<double>(b.sum_bits.load(std::memory_order_relaxed))) + value;
  const auto last = static_cast<std::int64_t>(b.last_step.load(std::memory_order_relaxed));
  if (count == 0 || step >= last) {
    b.last_step.store(static_cast<std::uint64_t>(step), std::memory_order_relaxed);
    b.last_wall_ns.store(wall_ns, std::memory_order_relaxed);
  }
  b.min_bits.store(std::bit_cast<std::uint64_t>(mn), std::memory_order_relaxed);
  b.max_bits.store(std::bit_cast<std::uint64_t>(mx), std::memory_order_relaxed);
  b.sum_bits.store(std::bit_cast<std::uint64_t>(sum), std::memory_order_relaxed);
  b.count.store(count + 1, std::memory_order_relaxed);
  st.used = std::max(st.used, i + 1);
  ++st.records;
  head.origin.store(static_cast<std::uint64_t>(st.origin), std::memory_order_relaxed);
  head.width.store(st.width, std::memory_order_relaxed);
  head.used.store(st.used, std::memory_order_relaxed);
  head.records.store(st.records, std::memory_order_relaxed);
}

void TelemetryWriter::scalar(std::uint32_t tag, std::int64_t step, double value,
                             std::uint64_t wall_unix_ns) {
  if (tag >= tag_count_) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown scalar tag id " + std::to_string(tag));
  }
  put_scalar(tag, step, value, wall_unix_ns != 0 ? wall_unix_ns : unix_time_ns());
  // SYNC POINT WRITE (ring head): records below the head are complete.
  header().scalars_written.store(written_, std::memory_order_release);
  heartbeat_->store(monotonic_ns(), std::memory_order_relaxed);
}

void TelemetryWriter::scalars(std::uint32_t tag, std::span<const std::int64_t> steps,
                              std::span<const double> values) {
  if (tag >= tag_count_) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown scalar tag id " + std::to_string(tag));
  }
  if (steps.size() != values.size()) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "scalar batch has " + std::to_string(steps.size()) + " steps but " +
                           std::to_string(values.size()) + " values");
  }
  const std::uint64_t now = unix_time_ns();
  for (std::size_t i = 0; i < steps.size(); ++i) put_scalar(tag, steps[i], values[i], now);
  header().scalars_written.store(written_, std::memory_order_release);
  heartbeat_->store(monotonic_ns(), std::memory_order_relaxed);
}

void TelemetryWriter::worker(const WorkerReport& report) {
  auto it = worker_rows_.find(report.worker_id);
  const bool is_new = it == worker_rows_.end();
  if (is_new && worker_count_ >= layout_.capacities.workers) {
    throw SegmentError(ErrorCode::kCapacity, "the telemetry worker table is full (" +
                                                 std::to_string(layout_.capacities.workers) +
                                                 " workers)");
  }
  if (static_cast<std::uint32_t>(report.state) >= kWorkerStateCount) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown worker state");
  }
  WorkerRow local{};
  copy_fixed_text(local.host, report.host, "worker host");
  const std::uint32_t row = is_new ? worker_count_ : it->second;
  // The start time pins the pid against reuse; look it up once per pid, not per report.
  auto& start = worker_start_[row];
  if (start.first != report.pid) start = {report.pid, report.pid > 0 ? process_start_ticks(report.pid).value_or(0) : 0};
  local.worker_id = report.worker_id;
  local.pid = report.pid;
  local.start_ticks = start.second;
  local.state = static_cast<std::uint32_t>(report.state);
  local.chunk_size = report.chunk_size;
  local.steps = report.steps;
  local.steps_per_s = report.steps_per_s;
  local.exec_s = report.exec_s;
  local.ipc_s = report.ipc_s;
  local.heartbeat_ns = monotonic_ns();
  heartbeat_->store(local.heartbeat_ns, std::memory_order_relaxed);
  local.restarts = report.restarts;
  auto& shared = reinterpret_cast<WorkerRow*>(section_.data() + layout_.workers_offset)[row];
  {
    SeqlockWrite lock(shared.seq);
    store_after_seq(shared, local);
  }
  if (is_new) {
    worker_rows_.emplace(report.worker_id, row);
    ++worker_count_;
    // SYNC POINT WRITE (worker rows): the row is complete before a reader counts it.
    header().worker_count.store(worker_count_, std::memory_order_release);
  }
}

void TelemetryWriter::job(const JobReport& report) {
  auto it = job_rows_.find(report.object_code);
  const bool is_new = it == job_rows_.end();
  if (is_new && job_count_ >= layout_.capacities.jobs) {
    throw SegmentError(ErrorCode::kCapacity, "the telemetry job table is full (" +
                                                 std::to_string(layout_.capacities.jobs) + " jobs)");
  }
  if (static_cast<std::uint32_t>(report.state) >= kJobStateCount) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown job state");
  }
  if (report.object_code.empty()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "a job's object code must not be empty");
  }
  JobRow local{};
  copy_fixed_text(local.object_code, report.object_code, "job object code");
  local.target_count = report.target_count;
  local.collected_count = report.collected_count;
  local.rounds_done = report.rounds_done;
  local.rounds_failed = report.rounds_failed;
  local.rounds_retried = report.rounds_retried;
  local.gpu = report.gpu;
  local.last_seed = report.last_seed;
  local.state = static_cast<std::uint32_t>(report.state);
  local.updated_ns = monotonic_ns();
  heartbeat_->store(local.updated_ns, std::memory_order_relaxed);
  const std::uint32_t row = is_new ? job_count_ : it->second;
  auto& shared = reinterpret_cast<JobRow*>(section_.data() + layout_.jobs_offset)[row];
  {
    SeqlockWrite lock(shared.seq);
    store_after_seq(shared, local);
  }
  if (is_new) {
    job_rows_.emplace(report.object_code, row);
    ++job_count_;
    // SYNC POINT WRITE (job rows)
    header().job_count.store(job_count_, std::memory_order_release);
  }
}

}  // namespace fleetscope::ipc
