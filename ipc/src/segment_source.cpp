#include "fleetscope/ipc/segment_source.hpp"

#include <new>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::ipc {

SegmentSource::SegmentSource(std::string name, const ReaderOptions& options)
    : name_(std::move(name)), options_(options) {
  open();
}

SegmentSource::~SegmentSource() = default;

void SegmentSource::open() {
  auto reader = std::make_unique<SegmentReader>(SegmentReader::open(name_, options_));
  if (reader_ && reader->info().created_unix_ns == reader_->info().created_unix_ns) return;
  auto ingestor = std::make_unique<PoseIngestor>(*reader);
  ingestor->ingest();  // a layout that cannot be read fails the open, not a later poll
  // Replace all three together: the ingestor points at its reader.
  telemetry_ = TelemetryReader::of(*reader);
  ingestor_ = std::move(ingestor);
  reader_ = std::move(reader);
  meshes_.clear();
  state_ = WriterState::kLive;
  error_.clear();
}

pid_t SegmentSource::writer_pid() const noexcept { return reader_->info().writer_pid; }

bool SegmentSource::has_poses() const noexcept { return !reader_->info().telemetry_only; }

IngestStats SegmentSource::ingest() {
  try {
    IngestStats stats = ingestor_->ingest();
    error_.clear();
    return stats;
  } catch (const SegmentError& e) {
    error_ = e.what();
    return {};
  } catch (const std::bad_alloc&) {
    error_ = "segment '" + name_ + "': out of memory while reading its layout";
    return {};
  }
}

const LayoutSnapshot& SegmentSource::layout() const noexcept { return ingestor_->layout(); }

std::span<const PoseRecord> SegmentSource::poses(std::uint32_t slot) const noexcept { return ingestor_->poses(slot); }

std::span<const LinkChange> SegmentSource::changes() const noexcept { return ingestor_->changes(); }

FrameInfo SegmentSource::frame() const { return reader_->frame(); }

std::shared_ptr<const MeshData> SegmentSource::mesh(std::uint32_t index) {
  auto& cached = meshes_[index];
  if (!cached) {
    try {
      cached = std::make_shared<const MeshData>(reader_->read_mesh(index));
    } catch (...) {
      meshes_.erase(index);
      throw;
    }
  }
  return cached;
}

std::uint32_t SegmentSource::tag_count() const { return telemetry_ ? telemetry_->tag_count() : 0; }

std::vector<std::string> SegmentSource::tags_from(std::uint32_t first) const {
  return telemetry_ ? telemetry_->tags_from(first) : std::vector<std::string>{};
}

std::uint64_t SegmentSource::read_scalars(ScalarCursor& cursor, std::vector<ScalarSample>& out, std::size_t max) const {
  return telemetry_ ? telemetry_->read_scalars(cursor, out, max) : 0;
}

std::vector<WorkerRowRead> SegmentSource::workers() const {
  return telemetry_ ? telemetry_->workers() : std::vector<WorkerRowRead>{};
}

std::vector<JobRowRead> SegmentSource::jobs() const {
  return telemetry_ ? telemetry_->jobs() : std::vector<JobRowRead>{};
}

std::optional<TagHistory> SegmentSource::history(std::uint32_t tag) const {
  return telemetry_ ? telemetry_->history(tag) : std::nullopt;
}

void SegmentSource::refresh_state(std::uint64_t stale_after_ns) {
  try {
    state_ = reader_->writer_status(stale_after_ns).state;
  } catch (const SegmentError& e) {
    // Truncated under us: nothing more will come from this segment.
    error_ = e.what();
    state_ = WriterState::kDead;
  }
}

bool SegmentSource::follow_restart() {
  const std::uint64_t created = reader_->info().created_unix_ns;
  try {
    open();  // keeps everything as it is unless a new, readable segment holds the name
  } catch (const SegmentError&) {
    return false;  // not there (yet), or not readable yet: keep what we have, try again later
  }
  if (reader_->info().created_unix_ns == created) return false;
  ++generation_;
  return true;
}

}  // namespace fleetscope::ipc
