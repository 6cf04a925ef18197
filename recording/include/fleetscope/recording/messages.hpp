// The messages of a fleetscope recording (recording/FORMAT.md): what each channel of a segment
// carries, as C++ values, with their encoders and checked decoders. Decoders throw McapError for
// a message that is short, too long or out of range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "fleetscope/recording/mcap.hpp"

namespace fleetscope::recording {

// Version of the fleetscope channel encodings (FORMAT.md), stored in the "fleetscope.recording"
// metadata record. A reader refuses a major it does not know, naming both.
inline constexpr std::uint32_t kRecordingMajor = 1;
inline constexpr std::uint32_t kRecordingMinor = 0;
inline constexpr const char* kProfile = "fleetscope";
inline constexpr const char* kMessageEncoding = "fleetscope";
inline constexpr const char* kSchemaEncoding = "fleetscope";
inline constexpr const char* kMetadataName = "fleetscope.recording";
inline constexpr const char* kEndMetadataName = "fleetscope.recording.end";

// Channel kinds; a segment NAME's channel for kind K has topic "NAME/K".
inline constexpr std::string_view kLayoutKind = "layout";
inline constexpr std::string_view kPosesKind = "poses";
inline constexpr std::string_view kKeyframeKind = "keyframe";
inline constexpr std::string_view kTagsKind = "tags";
inline constexpr std::string_view kScalarsKind = "scalars";
inline constexpr std::string_view kWorkersKind = "workers";
inline constexpr std::string_view kJobsKind = "jobs";
inline constexpr std::string_view kAttributesKind = "attributes";
inline constexpr std::string_view kMeshesKind = "meshes";

struct LayoutMessage {
  std::string segment;
  std::uint64_t generation = 0;  // bumps when a writer was restarted under the same name
  std::int32_t writer_pid = 0;
  bool has_poses = false;
  bool has_telemetry = false;
  std::uint64_t epoch = 0;
  std::vector<ipc::ModelSnapshot> models;  // name, per-link visuals (link names), all visuals
  std::vector<ipc::RobotSnapshot> robots;
};

struct RobotPoses {
  std::uint32_t slot = 0;
  std::vector<std::uint16_t> links;       // link indices, ascending
  std::vector<ipc::PoseRecord> poses;     // one per entry of links (pad zero)
};

// A poses message (dirty links of one frame) or a keyframe (every link of every robot).
struct PoseFrameMessage {
  std::uint64_t frame = 0;
  double sim_time = 0.0;
  std::uint64_t publish_ns = 0;  // the writer's CLOCK_MONOTONIC publish time
  std::uint64_t generation = 0;
  std::uint64_t epoch = 0;       // the layout epoch the slots refer to
  std::uint64_t frames_lost = 0; // frames the recorder missed before this one (in total)
  std::vector<RobotPoses> robots;
};

struct TagsMessage {
  std::uint32_t first = 0;
  std::vector<std::string> names;  // tags first, first+1, ...
};

struct ScalarsMessage {
  std::uint64_t lost = 0;  // records the recorder lost (ring overwritten), in total
  std::vector<ipc::ScalarSample> samples;
};

struct AttributesMessage {
  std::vector<std::pair<std::uint32_t, ipc::RobotAttributeWords>> robots;  // slot, words
};

// A mesh stored in the segment (format 1.3 geometry section), recorded once per writer.
struct MeshMessage {
  std::uint64_t generation = 0;
  std::uint32_t index = 0;  // as visuals of shape 7 name it
  ipc::MeshData mesh;
};

std::vector<std::byte> encode(const LayoutMessage& m);
std::vector<std::byte> encode(const PoseFrameMessage& m);
std::vector<std::byte> encode(const TagsMessage& m);
std::vector<std::byte> encode(const ScalarsMessage& m);
std::vector<std::byte> encode(const AttributesMessage& m);
std::vector<std::byte> encode(const MeshMessage& m);
std::vector<std::byte> encode_workers(const std::vector<ipc::WorkerRowRead>& rows);
std::vector<std::byte> encode_jobs(const std::vector<ipc::JobRowRead>& rows);

LayoutMessage decode_layout(std::span<const std::byte> data);
PoseFrameMessage decode_pose_frame(std::span<const std::byte> data);
TagsMessage decode_tags(std::span<const std::byte> data);
ScalarsMessage decode_scalars(std::span<const std::byte> data);
AttributesMessage decode_attributes(std::span<const std::byte> data);
// Also validates the mesh as a segment reader does (ipc::validate_mesh).
MeshMessage decode_mesh_message(std::span<const std::byte> data);
std::vector<ipc::WorkerRowRead> decode_workers(std::span<const std::byte> data);
std::vector<ipc::JobRowRead> decode_jobs(std::span<const std::byte> data);

// The schema text stored with each channel kind (a pointer to FORMAT.md's section).
std::string schema_text(std::string_view kind);

// Checks the "fleetscope.recording" metadata of an open file: refuses a file without it (not a
// fleetscope recording) or of a newer major version, naming both versions. Throws McapError.
void check_recording_version(const McapReader& reader);

}  // namespace fleetscope::recording
