// One recorded segment of an MCAP recording (ipc/recording/FORMAT.md) as an ipc::Source of kind
// "recording": the 3D scene and the dashboards read it as they read a live segment. Where it is
// in the recording is its position (a log time): seek(t) puts every robot where it was at t (the
// layout and keyframe before t, then the dirty links up to t), advance_to(t) plays forward from
// the position. ingest() then reports what changed since the previous ingest(), as for a segment.
// Telemetry (tags, scalars, worker and job rows) is what the recording holds up to the position.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/ipc/source.hpp"
#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/messages.hpp"

namespace fleetscope::recording {

// An open recording shared by the sources of its segments.
class Recording {
 public:
  // Opens the file and checks its fleetscope version. Throws McapError (not MCAP, newer version,
  // not a fleetscope recording). A file cut short opens up to its last good chunk: warnings().
  static std::shared_ptr<Recording> open(const std::filesystem::path& path);
  // Names of the recorded segments, in the order their layout channels appear.
  std::vector<std::string> segments() const;
  const std::vector<std::string>& warnings() const noexcept { return reader_.warnings(); }
  std::uint64_t start_time() const noexcept { return reader_.statistics().message_start_time; }
  std::uint64_t end_time() const noexcept { return reader_.statistics().message_end_time; }
  McapReader& reader() noexcept { return reader_; }
  // The file's fleetscope format major version (1 or 2).
  std::uint32_t major() const noexcept { return major_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  explicit Recording(McapReader reader, std::filesystem::path path, std::uint32_t major)
      : reader_(std::move(reader)), path_(std::move(path)), major_(major) {}
  McapReader reader_;
  std::filesystem::path path_;
  std::uint32_t major_ = kRecordingMajor;
};

class RecordingSource final : public ipc::Source {
 public:
  // The recorded segment `segment` of `recording`, positioned at the recording's start. Throws
  // McapError when the recording has no such segment or its layout messages are corrupt.
  RecordingSource(std::shared_ptr<Recording> recording, std::string segment);
  ~RecordingSource() override;

  // --- playback ------------------------------------------------------------------------------------
  std::uint64_t start_time() const noexcept { return start_; }
  std::uint64_t end_time() const noexcept { return end_; }
  std::uint64_t position() const noexcept { return position_; }
  // Log times of the keyframes (ascending).
  std::vector<std::uint64_t> keyframe_times() const;
  // The log time of the first recorded frame after `t`, and of the last one before `t` (stepping
  // frame by frame); nullopt when there is none.
  std::optional<std::uint64_t> frame_after(std::uint64_t t) const;
  std::optional<std::uint64_t> frame_before(std::uint64_t t) const;
  // The state at `t` (clamped to the recording): every link counts as changed at the next ingest().
  // A corrupt message sets error() and leaves the robots as far as they got.
  void seek(std::uint64_t t);
  // Plays forward to `t` (a `t` before the position seeks instead).
  void advance_to(std::uint64_t t);

  // --- ipc::Source ---------------------------------------------------------------------------------
  const std::string& name() const noexcept override { return name_; }
  std::string_view kind() const noexcept override { return "recording"; }
  std::uint64_t generation() const noexcept override { return generation_; }
  pid_t writer_pid() const noexcept override { return writer_pid_; }
  // Live while playing forward (advance_to moved the position and the end is not reached), paused
  // otherwise; never dead or closed, so registries that drop gone sources keep it.
  ipc::WriterState state() const noexcept override { return state_; }
  const std::string& error() const noexcept override { return error_; }
  bool has_poses() const noexcept override { return has_poses_; }

  ipc::IngestStats ingest() override;
  const ipc::LayoutSnapshot& layout() const noexcept override { return layout_; }
  std::span<const ipc::PoseRecord> poses(std::uint32_t slot) const noexcept override;
  std::span<const ipc::LinkChange> changes() const noexcept override { return changes_; }
  ipc::RobotAttributeWords attributes(std::uint32_t slot) const noexcept override;
  std::span<const std::uint32_t> attribute_changes() const noexcept override { return attribute_changes_; }
  // A stored mesh of the current writer as recorded (validated when the recording was opened);
  // throws SegmentError(kNotFound) for one the recording does not hold.
  std::shared_ptr<const ipc::MeshData> mesh(std::uint32_t index) override;
  ipc::FrameInfo frame() const override { return frame_; }

  bool has_telemetry() const noexcept override { return has_telemetry_; }
  std::uint32_t tag_count() const override;
  std::vector<std::string> tags_from(std::uint32_t first) const override;
  std::uint64_t read_scalars(ipc::ScalarCursor& cursor, std::vector<ipc::ScalarSample>& out,
                             std::size_t max = SIZE_MAX) const override;
  std::vector<ipc::WorkerRowRead> workers() const override;
  std::vector<ipc::JobRowRead> jobs() const override;
  std::optional<ipc::TagHistory> history(std::uint32_t) const override { return std::nullopt; }

  void refresh_state(std::uint64_t) override {}
  bool follow_restart() override { return false; }

 private:
  struct Robot {
    std::vector<ipc::PoseRecord> poses;
    std::vector<std::uint8_t> dirty;
    bool any_dirty = false;
    ipc::RobotAttributeWords attributes;
    bool attributes_dirty = false;
  };
  void apply_layout(const LayoutMessage& m);
  void apply_frame(const PoseFrameMessage& m, bool keyframe);
  void apply_attributes(const AttributesMessage& m);
  // Applies the pose, attribute and layout messages with log time in (from, to].
  void play(std::uint64_t from, std::uint64_t to);

  std::shared_ptr<Recording> recording_;
  std::string name_;
  std::uint64_t start_ = 0, end_ = 0, position_ = 0;
  std::uint16_t layout_channel_ = 0, poses_channel_ = 0, keyframe_channel_ = 0, attributes_channel_ = 0;
  std::vector<std::pair<std::uint64_t, LayoutMessage>> layouts_;  // by log time
  std::vector<McapMessageRef> keyframes_;
  PoseDecoder pose_decoder_;  // the pose stream's prediction (reset with every layout)
  std::vector<McapMessageRef> frames_;
  std::vector<McapMessageRef> attribute_refs_;
  // Telemetry, loaded whole at open (small next to poses).
  std::vector<std::pair<std::uint64_t, std::string>> tags_;          // log time, name; index = tag id
  std::vector<std::pair<std::uint64_t, ipc::ScalarSample>> scalars_; // log time, sample
  std::vector<std::pair<std::uint64_t, std::vector<ipc::WorkerRowRead>>> workers_;
  std::vector<std::pair<std::uint64_t, std::vector<ipc::JobRowRead>>> jobs_;
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::shared_ptr<const ipc::MeshData>> meshes_;  // generation, index

  std::uint64_t generation_ = 0;           // what consumers see: bumps on restarts and backward seeks
  std::uint64_t recorded_generation_ = UINT64_MAX;  // of the layout applied last
  pid_t writer_pid_ = 0;
  bool has_poses_ = false, has_telemetry_ = false;
  std::string error_;
  ipc::WriterState state_ = ipc::WriterState::kPaused;
  ipc::LayoutSnapshot layout_;
  std::size_t layout_index_ = SIZE_MAX;  // into layouts_
  bool layout_changed_ = true;
  std::vector<Robot> robots_;  // by slot
  ipc::FrameInfo frame_;
  std::vector<ipc::LinkChange> changes_;
  std::vector<std::uint32_t> attribute_changes_;
};

}  // namespace fleetscope::recording
