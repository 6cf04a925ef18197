// What a C++ simulation links: create a pose segment, describe models once, spawn robots, write
// link poses and publish. With change detection on, the caller may write every link every step:
// the writer finds the links that actually moved (beyond an epsilon, against what it last
// published) and publishes only those.
//
// Not thread-safe: one SimWriter per segment, called from one thread. Errors throw
// fleetscope::ipc::SegmentError. Pose layout everywhere: 7 numbers per link,
// x, y, z, qx, qy, qz, qw (metres; unit quaternion, normalised if it is not).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/segment_writer.hpp"

namespace fleetscope {

inline constexpr std::size_t kPoseValues = 7;
inline constexpr std::uint32_t kNoMesh = ~0u;

using ipc::MeshData;

// One visual: a shape at an offset in its link's frame, with a colour.
struct LinkVisualDesc {
  std::string name;  // the link's name (ignored inside a LinkDesc, which names the link)
  ipc::Shape shape = ipc::Shape::kBox;
  // box: size x, y, z; sphere: radius; cylinder and capsule: radius, length (along local z);
  // plane: size x, y (normal +z); ellipsoid: radii x, y, z; meshes: unused
  std::array<float, 3> dims{0.1f, 0.1f, 0.1f};
  std::array<float, 3> scale{1.0f, 1.0f, 1.0f};  // meshes
  std::array<float, 3> offset_position{0.0f, 0.0f, 0.0f};
  std::array<float, 4> offset_orientation{0.0f, 0.0f, 0.0f, 1.0f};  // qx, qy, qz, qw
  std::array<std::uint8_t, 4> rgba{200, 200, 200, 255};  // alpha < 255: translucent
  std::string mesh_path;  // STL, OBJ or PLY when shape is kMesh
  std::uint32_t mesh = kNoMesh;  // kInlineMesh: an id from SimWriter::add_mesh
};

// A model with one visual per link (the link takes the visual's name).
struct ModelDesc {
  std::string name;
  std::vector<LinkVisualDesc> links;
};

// A link with any number of visuals (zero: the link is drawn as nothing but still has a pose).
struct LinkDesc {
  std::string name;
  std::vector<LinkVisualDesc> visuals;
};

// A model whose links carry any number of visuals of any shape (format 1.3).
struct RobotModelDesc {
  std::string name;
  std::vector<LinkDesc> links;
};

// Who produced a robot and the value it is coloured by (format 1.3), for the viewer's panels.
struct RobotAttributes {
  std::optional<std::uint32_t> worker;       // worker id, as in the telemetry's worker rows
  std::optional<std::uint32_t> environment;  // environment index within that worker
  std::optional<double> scalar;              // e.g. the current episode return
  // The current episode's progress: steps into it, and episodes finished so far (both or neither).
  std::optional<std::pair<std::uint32_t, std::uint32_t>> episode;
};

struct WriterConfig {
  std::string name;
  std::uint32_t max_robots = 128;
  std::uint32_t max_links = 32;  // per robot
  std::uint32_t max_models = 16;
  std::uint32_t max_visuals = 1024;
  // Change detection: when on, a link is published only if some component moved by more than
  // `epsilon` (metres, quaternion units) since it was last published, so a caller can write
  // every link every step. When off, every link written is published.
  bool detect_changes = false;
  float epsilon = 1e-5f;
  bool replace_stale = true;
  // Telemetry (scalar series, worker and job rows) beside the poses. A telemetry-only writer sets
  // max_robots to 0: its segment then holds no robots.
  std::optional<ipc::TelemetryCapacities> telemetry;
  // With telemetry: a downsampled history of the first `history_tags` tags (format 1.3; 0 for
  // none), `history_buckets` buckets each (49 KB a tag at 1,024), so a viewer attached late
  // still draws each series from its first step.
  std::uint32_t history_tags = 32;
  std::uint32_t history_buckets = 1024;
  // The geometry section (format 1.3): visuals over all models (0: max_visuals), distinct
  // stored meshes, and bytes for their (compressed) data. Reserved at creation. Each mesh takes
  // at most its raw payload (12 bytes a vertex, 12 a triangle, 12 a normal) rounded up to 64.
  std::uint32_t max_geometry_visuals = 0;
  std::uint32_t max_meshes = 64;
  std::uint64_t mesh_bytes = 0;
  bool compress_meshes = true;  // zstd, when that is smaller
};

struct PublishStats {
  std::uint64_t frame = 0;
  std::uint64_t dirty_links = 0;
  std::uint32_t changed_robots = 0;
};

class SimWriter {
 public:
  explicit SimWriter(const WriterConfig& config);

  // Models and robots share their verbs: add/spawn, has, remove, count, link count. An unknown
  // model or robot id throws kInvalidArgument.

  // Models: described once, then referred to by id (0, 1, ... in the order added). There is no
  // remove_model: the segment format only appends models (robot slots and readers refer to a
  // model by its index, and its visuals are packed into one table), so the model set of a
  // segment only grows; to drop models, create a new segment.
  std::uint32_t add_model(const ModelDesc& model);
  // A model whose links have any number of visuals of any shape (plane, ellipsoid, stored meshes).
  std::uint32_t add_model(const RobotModelDesc& model);
  // Stores a mesh in the segment and returns its id for LinkVisualDesc::mesh (shape kInlineMesh).
  // A mesh equal to one stored before returns that one's id: it is stored once however many
  // visuals use it. Throws kInvalidArgument (bad mesh) or kCapacity (mesh_bytes, max_meshes).
  std::uint32_t add_mesh(const MeshData& mesh);
  std::uint32_t mesh_count() const noexcept { return segment_.mesh_count(); }
  bool has_model(std::uint32_t model) const noexcept { return model < model_count_; }
  std::uint32_t model_count() const noexcept { return model_count_; }
  std::uint32_t model_link_count(std::uint32_t model) const;

  // Robots: spawned from a model. Returns a robot id, unique for this writer (never reused after
  // remove_robot).
  std::uint32_t spawn_robot(std::string_view name, std::uint32_t model);
  bool has_robot(std::uint32_t robot) const noexcept { return index_of_.count(robot) != 0; }
  void remove_robot(std::uint32_t robot);
  // World geometry (floor, terrain, tables): spawned, published once at `poses` (7 per link) and
  // marked static; its poses never change (set_*_poses on it throws).
  // Static robots are not among the robots set_all_poses() and total_links() count.
  std::uint32_t spawn_static(std::string_view name, std::uint32_t model, std::span<const double> poses);
  // The robot's colour instead of its model's (every visual), or the model's again (nullopt).
  // Takes effect with the next publish().
  void set_robot_color(std::uint32_t robot, std::optional<std::array<std::uint8_t, 4>> rgba);
  // Takes effect with the next publish().
  void set_robot_attributes(std::uint32_t robot, const RobotAttributes& attributes);
  // What set_robot_attributes (and set_robot_episode) last gave the robot.
  RobotAttributes robot_attributes(std::uint32_t robot);
  // Only the episode's progress (steps into it, episodes finished), keeping the other attributes.
  void set_robot_episode(std::uint32_t robot, std::optional<std::pair<std::uint32_t, std::uint32_t>> episode);
  std::size_t robot_count() const noexcept { return robots_.size(); }
  std::uint32_t robot_link_count(std::uint32_t robot) const;
  // The former name of robot_link_count, kept for existing callers.
  std::uint32_t link_count(std::uint32_t robot) const { return robot_link_count(robot); }
  // Links of all robots, in spawn order: the row count set_all_poses expects.
  std::size_t total_links() const { return total_links_; }

  // `values` holds robot_link_count(robot) * 7 numbers.
  void set_robot_poses(std::uint32_t robot, std::span<const double> values);
  void set_robot_poses(std::uint32_t robot, std::span<const float> values);
  // `values` holds total_links() * 7 numbers, robots in spawn order.
  void set_all_poses(std::span<const double> values);
  void set_all_poses(std::span<const float> values);

  PublishStats publish(double sim_time);
  void heartbeat() noexcept { segment_.heartbeat(); }
  // Marks the segment closed and removes its name. Also done by the destructor.
  void close() noexcept { segment_.close(true); }

  const ipc::SegmentWriter& segment() const noexcept { return segment_; }
  // Scalars, worker and job rows. Throws kInvalidArgument unless config.telemetry was set.
  ipc::TelemetryWriter& telemetry() { return segment_.telemetry(); }

 private:
  struct Robot {
    std::uint32_t id;
    std::uint32_t slot;
    std::uint32_t links;
    std::vector<float> staged;     // 7 per link: what the next publish writes
    std::vector<float> published;  // 7 per link: what readers have
    std::vector<std::uint64_t> dirty;
    bool any_dirty = false;
    bool is_static = false;
    bool attributes_dirty = false;
    ipc::RobotAttributeWords attributes;
  };
  Robot& robot(std::uint32_t id);
  std::uint32_t spawn(std::string_view name, std::uint32_t model, const ipc::RobotAttributeWords& attributes);
  template <typename T>
  void stage(Robot& robot, const T* values);
  template <typename T>
  void set_robot(std::uint32_t id, std::span<const T> values);
  template <typename T>
  void set_all(std::span<const T> values);

  ipc::SegmentWriter segment_;
  float epsilon_;
  bool detect_changes_;
  bool robots_allowed_;
  std::vector<Robot> robots_;  // spawn order
  std::unordered_map<std::uint32_t, std::size_t> index_of_;
  std::size_t total_links_ = 0;
  std::uint32_t model_count_ = 0;
  std::map<std::tuple<std::uint64_t, std::uint32_t, std::size_t, std::size_t>, std::uint32_t> mesh_ids_;  // content -> id
  bool compress_meshes_ = true;
  std::vector<ipc::MeshRecord> mesh_records_;  // by id: bounds for the per-link records
  std::vector<float> converted_;     // scratch for stage()
  std::vector<std::uint8_t> moved_;  // scratch for stage()
  std::uint32_t next_id_ = 1;
  double last_sim_time_ = 0.0;
};

}  // namespace fleetscope
