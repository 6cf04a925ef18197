// A source of robots and telemetry for the viewer: a live shared-memory segment today; a
// recording or a remote relay later, behind this same interface, so the 3D scene, the dashboards
// and the Sources dock never know where the data comes from. Sources are owned by a
// SourceRegistry (one per source, shared by every consumer) and used from one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace fleetscope::ipc {

class Source {
 public:
  virtual ~Source() = default;

  virtual const std::string& name() const noexcept = 0;
  virtual std::string_view kind() const noexcept = 0;  // "segment"; later "recording", "relay"

  // --- the producer -----------------------------------------------------------------------------
  // Changes when the producer was replaced (a writer restarted under the same name): consumers
  // drop what they derived from the old one (robots, cursors) and start again.
  virtual std::uint64_t generation() const noexcept = 0;
  virtual pid_t writer_pid() const noexcept = 0;
  // Live, paused, dead or closed, as of the registry's last refresh.
  virtual WriterState state() const noexcept = 0;
  // The last error while reading (empty when fine); reading goes on, the next read may succeed.
  virtual const std::string& error() const noexcept = 0;
  // False for a telemetry-only producer.
  virtual bool has_poses() const noexcept = 0;

  // --- poses (one consumer: the 3D scene) --------------------------------------------------------
  // Takes what changed since the last call (dirty links only). Records an error instead of
  // throwing; see error().
  virtual IngestStats ingest() = 0;
  virtual const LayoutSnapshot& layout() const noexcept = 0;
  virtual std::span<const PoseRecord> poses(std::uint32_t slot) const noexcept = 0;
  virtual std::span<const LinkChange> changes() const noexcept = 0;
  // Per-robot colour, flags, producer and scalar (format 1.3), and the slots whose attributes
  // changed in the last ingest().
  virtual RobotAttributeWords attributes(std::uint32_t slot) const noexcept = 0;
  virtual std::span<const std::uint32_t> attribute_changes() const noexcept = 0;
  // A mesh stored in the source (ModelVisual::mesh), validated and kept once read: the same
  // object for every later call. Throws SegmentError when it is corrupt or missing.
  virtual std::shared_ptr<const MeshData> mesh(std::uint32_t index) = 0;
  virtual FrameInfo frame() const = 0;

  // --- telemetry (its consumer keeps its own cursor) ---------------------------------------------
  virtual bool has_telemetry() const noexcept = 0;
  // As TelemetryReader: throw SegmentError on corruption; empty without telemetry.
  virtual std::uint32_t tag_count() const = 0;
  virtual std::vector<std::string> tags_from(std::uint32_t first) const = 0;
  virtual std::uint64_t read_scalars(ScalarCursor& cursor, std::vector<ScalarSample>& out,
                                     std::size_t max = SIZE_MAX) const = 0;
  virtual std::vector<WorkerRowRead> workers() const = 0;
  virtual std::vector<JobRowRead> jobs() const = 0;
  // A tag's downsampled history (the whole run, for a consumer that attached late); nullopt when
  // the producer keeps none for it.
  virtual std::optional<TagHistory> history(std::uint32_t tag) const = 0;

  // --- for the registry ----------------------------------------------------------------------------
  // Re-reads liveness (may touch /proc: the registry spreads these calls over its polls).
  virtual void refresh_state(std::uint64_t stale_after_ns) = 0;
  // After the producer is gone: is there a new one under the same name? If so, switch to it,
  // bump generation() and return true. Throttled by the registry.
  virtual bool follow_restart() = 0;
};

}  // namespace fleetscope::ipc
