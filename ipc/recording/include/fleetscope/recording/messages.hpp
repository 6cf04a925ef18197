// The messages of a fleetscope recording (ipc/recording/FORMAT.md): what each channel of a segment
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
// Format 2.0 added the compact (quantised, predicted) pose encoding; 1.x files are still read.
inline constexpr std::uint32_t kRecordingMajor = 2;
inline constexpr std::uint32_t kRecordingMinor = 0;
inline constexpr std::uint32_t kOldestRecordingMajor = 1;
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

// How a pose message stores its poses (format 2.0: a byte after frames_lost; 1.x: always exact).
enum class PoseEncoding : std::uint8_t {
  kExact = 0,      // f32 byte planes, bit-exact
  kQuantised = 1,  // positions on a grid, unit quaternions quantised, predicted from the same link's
                   // previous values in the stream, residuals as byte planes (FORMAT.md)
};

struct PoseQuantisation {
  // Positions are multiples of 2^-shift metres (14: 61 um, so within 30.5 um of the original).
  std::uint8_t position_shift = 14;
  // Unit quaternion components (w >= 0) are multiples of 1 / (2^bits - 1) (14: rotations within
  // 1.2e-4 rad of the original).
  std::uint8_t orientation_bits = 14;
};

// Half a grid step plus float rounding (FORMAT.md "Error bound"): the most a decoded position
// component differs from the original, and the most a decoded orientation's rotation differs
// (radians) from the original's (normalised).
double position_error_bound(const PoseQuantisation& q, double value);
double orientation_error_bound(const PoseQuantisation& q);
// The angle (radians) of the rotation between two orientations (quaternions normalised first; q
// and -q are the same rotation), accurate for small angles.
double rotation_between(const float a[4], const float b[4]);

// The state a segment's pose stream is coded with: each link's previous (up to three) quantised
// values. Both ends apply the same resets: at every layout message (reset()), at a message that
// says so (keyframes), and at an exact message.
class PosePredictor {
 public:
  struct Link {
    std::int32_t h[3][7];  // h[0] the last value
    std::uint8_t n = 0;    // how many of h are valid
  };
  void reset() noexcept;
  Link& at(std::uint32_t slot, std::uint16_t link);

 private:
  std::vector<std::vector<Link>> slots_;
};

// Encodes a segment's pose messages in order (poses and keyframes as written).
class PoseEncoder {
 public:
  explicit PoseEncoder(PoseEncoding encoding = PoseEncoding::kQuantised, PoseQuantisation q = {})
      : encoding_(encoding), q_(q) {}
  // `keyframe`: the message resets the prediction (every link of every robot).
  std::vector<std::byte> encode(const PoseFrameMessage& m, bool keyframe);
  void reset() noexcept { predictor_.reset(); }
  PoseEncoding encoding() const noexcept { return encoding_; }

 private:
  PoseEncoding encoding_;
  PoseQuantisation q_;
  PosePredictor predictor_;
  std::vector<std::int32_t> values_, residuals_;
};

// Decodes a segment's pose messages (poses and keyframe channels merged in write order) of a file
// of format `major`. A quantised message is only right after every message since the last reset.
class PoseDecoder {
 public:
  explicit PoseDecoder(std::uint32_t major = kRecordingMajor) : major_(major) {}
  PoseFrameMessage decode(std::span<const std::byte> data);
  void reset() noexcept { predictor_.reset(); }

 private:
  std::uint32_t major_;
  PosePredictor predictor_;
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
// An exact (f32) pose message of the current format; needs no state.
std::vector<std::byte> encode(const PoseFrameMessage& m);
std::vector<std::byte> encode(const TagsMessage& m);
std::vector<std::byte> encode(const ScalarsMessage& m);
std::vector<std::byte> encode(const AttributesMessage& m);
std::vector<std::byte> encode(const MeshMessage& m);
std::vector<std::byte> encode_workers(const std::vector<ipc::WorkerRowRead>& rows);
std::vector<std::byte> encode_jobs(const std::vector<ipc::JobRowRead>& rows);

LayoutMessage decode_layout(std::span<const std::byte> data);
// A pose message on its own: an exact one, or a quantised one that resets the prediction (a
// keyframe); other quantised messages need a PoseDecoder (McapError here).
PoseFrameMessage decode_pose_frame(std::span<const std::byte> data, std::uint32_t major = kRecordingMajor);
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
// Returns the file's major version.
std::uint32_t check_recording_version(const McapReader& reader);

}  // namespace fleetscope::recording
