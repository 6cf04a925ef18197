// The optional Foxglove channels of a recording (`fleetscope-shm record --foxglove`,
// ipc/recording/FORMAT.md "Foxglove channels"): per recorded segment, JSON messages that Foxglove
// Studio shows without knowing fleetscope, against the published schemas (npm @foxglove/schemas):
//   NAME/foxglove/scene           foxglove.SceneUpdate: the robots' visuals, one entity per link
//                                 that has visuals, locked to that link's frame
//   NAME/foxglove/transforms      foxglove.FrameTransforms: "world" -> link frames, every frame
//   NAME/foxglove/scalars/TAG     fleetscope.Scalar {step, value, wall_time}, one per record
// Written next to the fleetscope channels, never instead of them. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/source.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/messages.hpp"

namespace fleetscope::recording {

// Channel kinds (metadata "kind"); the topics are "NAME/" + kind (+ "/" + TAG for scalars).
inline constexpr std::string_view kFoxgloveSceneKind = "foxglove/scene";
inline constexpr std::string_view kFoxgloveTransformsKind = "foxglove/transforms";
inline constexpr std::string_view kFoxgloveScalarsKind = "foxglove/scalars";
inline constexpr const char* kFoxgloveMessageEncoding = "json";
inline constexpr const char* kFoxgloveSchemaEncoding = "jsonschema";
inline constexpr const char* kFoxgloveWorldFrame = "world";
inline constexpr const char* kFoxgloveScalarSchemaName = "fleetscope.Scalar";

// The JSON schemas stored with the channels: foxglove.SceneUpdate and foxglove.FrameTransforms as
// @foxglove/schemas publishes them (the version is foxglove_schemas_version()), and our scalar.
std::string_view foxglove_schema(std::string_view name);  // "foxglove.SceneUpdate", ...; empty if unknown
std::string_view foxglove_schemas_version();

// Frame ids of a layout's links, and the matching entity ids: "SEGMENT/ROBOT/LINK" and
// "ROBOT/LINK". ROBOT is the robot's name, with "#SLOT" appended when empty or shared with another
// robot of the layout; LINK is the link's name, or "link<INDEX>" when empty or shared within its
// model.
struct FoxgloveFrames {
  std::map<std::uint32_t, std::vector<std::string>> frame_ids;   // by slot, one per link
  std::map<std::uint32_t, std::vector<std::string>> entity_ids;  // by slot, one per link
  std::map<std::uint32_t, std::vector<std::string>> frame_ids_json;  // frame_ids as JSON strings
};
FoxgloveFrames foxglove_frames(const std::string& segment, const ipc::LayoutSnapshot& layout);

// A stored mesh by index (Source::mesh); nullptr when it cannot be read (the visual is left out).
using FoxgloveMeshLookup = std::function<std::shared_ptr<const ipc::MeshData>(std::uint32_t)>;

// Encoders: JSON text of one message. `stamp_ns` is CLOCK_REALTIME nanoseconds.
// A SceneUpdate that deletes every entity of the topic, then adds one per link with visuals.
std::string foxglove_scene_update(const std::string& segment, const ipc::LayoutSnapshot& layout,
                                  const FoxgloveFrames& frames, const FoxgloveMeshLookup& meshes,
                                  std::uint64_t stamp_ns);
// FrameTransforms "world" -> the frame of each (slot, link, pose) of `robots` (links without a
// frame id, or with a pose that is not finite, are left out).
std::string foxglove_frame_transforms(const std::vector<RobotPoses>& robots, const FoxgloveFrames& frames,
                                      std::uint64_t stamp_ns);
// {"step": S, "value": V or null when not finite, "wall_time": unix seconds}
std::string foxglove_scalar(const ipc::ScalarSample& sample);

// Writes the Foxglove channels of every recorded segment into `writer` (the Recorder's).
class FoxgloveChannels {
 public:
  explicit FoxgloveChannels(McapWriter& writer);
  ~FoxgloveChannels();
  FoxgloveChannels(const FoxgloveChannels&) = delete;
  FoxgloveChannels& operator=(const FoxgloveChannels&) = delete;

  // The SceneUpdate of the segment's current layout (with every keyframe, so also after every
  // layout change).
  void scene(const std::string& segment, ipc::Source& source, std::uint64_t log_time, std::uint64_t stamp_ns);
  // The FrameTransforms of one recorded frame: the links of `frame` (dirty links), or every link
  // of every robot of the current layout with `full` (a keyframe follows in the same pass) or when
  // the last scene() came without a frame of its own (a keyframe of a pass without a new frame).
  void transforms(const std::string& segment, ipc::Source& source, const PoseFrameMessage& frame, bool full,
                  std::uint64_t log_time, std::uint64_t publish_time);
  // Tags `first..` (as in a tags message; first = 0 after a writer restart), then records.
  void tags(const std::string& segment, std::uint32_t first, const std::vector<std::string>& names);
  void scalars(const std::string& segment, const std::vector<ipc::ScalarSample>& samples, std::uint64_t log_time);

 private:
  struct Segment;
  Segment& segment(const std::string& name);
  const FoxgloveFrames& frames(Segment& seg, ipc::Source& source);
  std::uint16_t channel(Segment& seg, const std::string& schema, const std::string& kind, const std::string& tag = {});

  McapWriter& writer_;
  std::map<std::string, std::uint16_t> schemas_;  // by name
  std::map<std::string, std::unique_ptr<Segment>> segments_;
};

}  // namespace fleetscope::recording
