// A segment on another host, read through a relay, as an ipc::Source (kind "relay"): the 3D
// scene, the dashboards and the Sources dock use it as they use a local segment. Named
// HOST:SEGMENT (HOST:PORT:SEGMENT off the default port). Shares its RelayClient with the other
// segments of the same relay; polls it on ingest() and refresh_state(). Its state is
// "unreachable" while the relay is. Stored meshes come with the layout; scalar histories are not
// carried (history() is empty).
#pragma once

#include <memory>
#include <string>

#include "fleetscope/ipc/source.hpp"
#include "fleetscope/relay/relay_client.hpp"

namespace fleetscope::relay {

class RemoteSource final : public ipc::Source {
 public:
  RemoteSource(std::shared_ptr<RelayClient> client, std::string segment);

  const std::string& name() const noexcept override { return name_; }
  std::string_view kind() const noexcept override { return "relay"; }
  std::uint64_t generation() const noexcept override { return generation_; }
  pid_t writer_pid() const noexcept override { return pid_; }
  ipc::WriterState state() const noexcept override { return state_; }
  const std::string& error() const noexcept override { return error_; }
  bool has_poses() const noexcept override { return has_poses_; }

  ipc::IngestStats ingest() override;
  const ipc::LayoutSnapshot& layout() const noexcept override { return layout_; }
  std::span<const ipc::PoseRecord> poses(std::uint32_t slot) const noexcept override;
  std::span<const ipc::LinkChange> changes() const noexcept override { return changes_; }
  ipc::RobotAttributeWords attributes(std::uint32_t slot) const noexcept override;
  std::span<const std::uint32_t> attribute_changes() const noexcept override { return attribute_changes_; }
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

  void refresh_state(std::uint64_t stale_after_ns) override;
  bool follow_restart() override;

  const std::string& segment() const noexcept { return segment_; }
  RelayClient& client() noexcept { return *client_; }

 private:
  // Polls the client and takes the stream's description (state, producer); resets on a new one.
  const RemoteStream* update();

  std::shared_ptr<RelayClient> client_;
  std::string segment_;
  std::string name_;
  std::uint64_t stream_generation_ = 0;  // RemoteStream::generation last seen
  std::uint64_t generation_ = 0;
  std::uint64_t reported_generation_ = 0;  // for follow_restart()
  std::uint64_t layout_serial_ = 0;
  pid_t pid_ = 0;
  ipc::WriterState state_ = ipc::WriterState::kUnreachable;
  std::string error_;
  bool has_poses_ = false;
  bool has_telemetry_ = false;
  ipc::LayoutSnapshot layout_;
  std::vector<std::vector<ipc::PoseRecord>> poses_;
  std::vector<ipc::RobotAttributeWords> attributes_;
  std::vector<ipc::LinkChange> changes_;
  std::vector<std::uint32_t> attribute_changes_;
  ipc::FrameInfo frame_;
};

}  // namespace fleetscope::relay
