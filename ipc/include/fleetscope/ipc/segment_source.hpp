// A live shared-memory segment as a Source: one SegmentReader (one mapping) with its pose
// ingestor and telemetry reader, for every consumer.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "fleetscope/ipc/source.hpp"

namespace fleetscope::ipc {

class SegmentSource final : public Source {
 public:
  // Opens and validates the segment and reads its layout once, so a segment that cannot be read
  // fails here. Throws SegmentError.
  SegmentSource(std::string name, const ReaderOptions& options);
  ~SegmentSource() override;

  const std::string& name() const noexcept override { return name_; }
  std::string_view kind() const noexcept override { return "segment"; }
  std::uint64_t generation() const noexcept override { return generation_; }
  pid_t writer_pid() const noexcept override;
  WriterState state() const noexcept override { return state_; }
  const std::string& error() const noexcept override { return error_; }
  bool has_poses() const noexcept override;

  IngestStats ingest() override;
  const LayoutSnapshot& layout() const noexcept override;
  std::span<const PoseRecord> poses(std::uint32_t slot) const noexcept override;
  std::span<const LinkChange> changes() const noexcept override;
  RobotAttributeWords attributes(std::uint32_t slot) const noexcept override { return ingestor_->attributes(slot); }
  std::span<const std::uint32_t> attribute_changes() const noexcept override { return ingestor_->attribute_changes(); }
  std::shared_ptr<const MeshData> mesh(std::uint32_t index) override;
  FrameInfo frame() const override;

  bool has_telemetry() const noexcept override { return telemetry_.has_value(); }
  std::uint32_t tag_count() const override;
  std::vector<std::string> tags_from(std::uint32_t first) const override;
  std::uint64_t read_scalars(ScalarCursor& cursor, std::vector<ScalarSample>& out, std::size_t max) const override;
  std::vector<WorkerRowRead> workers() const override;
  std::vector<JobRowRead> jobs() const override;
  std::optional<TagHistory> history(std::uint32_t tag) const override;

  void refresh_state(std::uint64_t stale_after_ns) override;
  bool follow_restart() override;

  const SegmentReader& reader() const noexcept { return *reader_; }

 private:
  void open();

  std::string name_;
  ReaderOptions options_;
  std::unique_ptr<SegmentReader> reader_;  // heap: the ingestor and telemetry reader point at it
  std::unique_ptr<PoseIngestor> ingestor_;
  std::optional<TelemetryReader> telemetry_;
  std::map<std::uint32_t, std::shared_ptr<const MeshData>> meshes_;  // of this generation
  std::uint64_t generation_ = 0;
  WriterState state_ = WriterState::kLive;
  std::string error_;
};

}  // namespace fleetscope::ipc
