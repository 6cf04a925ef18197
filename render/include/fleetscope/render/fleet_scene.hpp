// The 3D scene of every attached pose segment, drawn with VTK instancing: one vtkGlyph3DMapper
// per unique link geometry (unit box, sphere and cylinder scaled per instance; one capsule shape
// per radius and length; one per mesh file), shared by all robots and segments. Updates touch
// only links that changed. No Qt here: the scene renders into any vtkRenderer, on screen or off.
//
// Not thread-safe: use from the thread that owns the render window. Errors from segments
// (missing, corrupt, version mismatch) throw fleetscope::ipc::SegmentError from attach().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"

class vtkRenderer;

namespace fleetscope::ipc {
class SourceRegistry;
}

namespace fleetscope::render {

enum class BatchMode {
  kInstanced,     // one vtkGlyph3DMapper per geometry
  kActorPerLink,  // the seeds' design, one vtkActor per link; only the benchmark baseline
};

struct SceneSettings {
  BatchMode mode = BatchMode::kInstanced;
  // vtkGlyph3DMapper GPU culling and distance LOD.
  // Off by default: in VTK 9.1 the culling shader fails inside a Qt-hosted window on Mesa
  // ("attempt to add attribute when not ready for attribute InstanceMatrix"); it works offscreen.
  bool culling_and_lod = false;
  float lod_distance = 60.0f;    // metres from the camera where the first LOD starts
  float lod_reduction = 0.85f;   // share of triangles removed at that LOD
  // fleetscope's own level of detail: a link whose projected radius is below this many pixels
  // is drawn as a point instead of its mesh. 0 turns it off (meshes always).
  double point_radius_px = 4.0;
  std::uint64_t stale_after_ns = 1'000'000'000ULL;  // writer counts as paused after this
  // A robot not updated for this long fades (static world geometry never does); 0: never.
  std::uint64_t robot_fade_after_ns = 3'000'000'000ULL;
};

// What the viewer knows of the worker that produced a robot (format 1.3 robot attributes), from
// the telemetry's worker rows: stalled robots turn amber, a dead worker's grey.
enum class WorkerHealth { kUnknown, kLive, kStalled, kDead };

// How robots are coloured: their model's (or their own) colours, or by the per-robot scalar the
// writer publishes (e.g. the episode return) on a blue-to-yellow scale.
enum class ColorMode { kModel, kScalar };

// The scalar scale of ColorMode::kScalar: the range of the robots' scalars (or fixed), low to
// high mapped through scalar_color().
struct ScalarLegend {
  bool any = false;  // some robot publishes a scalar
  double low = 0.0, high = 0.0;
};
std::array<std::uint8_t, 4> scalar_color(double t);  // t in [0, 1] (clamped)

struct SourceInfo {
  std::string name;
  ipc::WriterState state = ipc::WriterState::kLive;
  pid_t writer_pid = 0;
  std::uint32_t robots = 0;
  std::uint64_t links = 0;
  std::uint64_t frame = 0;
  std::string error;  // last error while reading, if any
};

struct RobotInfo {
  std::string segment;
  std::uint32_t slot = 0;
  std::string name;
  std::string model;
  std::vector<std::string> links;
  bool visible = true;
  // Format 1.3 robot attributes, when the writer gives them.
  std::optional<std::uint32_t> worker;
  std::optional<std::uint32_t> environment;
  std::optional<double> scalar;
  std::uint32_t episode_steps = 0;  // steps into the current episode
  std::uint32_t episodes = 0;       // episodes finished
  bool is_static = false;
  bool faded = false;  // not updated for longer than SceneSettings::robot_fade_after_ns
};

struct UpdateResult {
  bool changed = false;        // something visible changed: a frame is owed
  double ingest_us = 0.0;
  std::uint64_t dirty_links = 0;  // link changes taken in this update (a link may recur next update)
  bool layout_changed = false;  // robots or sources appeared, disappeared or changed state
  std::uint64_t newest_publish_ns = 0;  // writer's publish time of the newest frame taken
};

// A link's pose in the world: metres, and a unit quaternion (qx, qy, qz, qw).
struct LinkPose {
  std::array<float, 3> position{};
  std::array<float, 4> orientation{0, 0, 0, 1};
};

struct PickResult {
  std::string segment;
  std::uint32_t slot = 0;
  std::string robot;
  std::uint32_t link = 0;
  std::string link_name;
  LinkPose pose;  // the link frame's pose as last published
};

class FleetScene {
 public:
  // Draws the sources of `registry` (borrowed: it must outlive the scene); the scene never opens
  // a source itself. The dashboards and the Sources dock share the same registry.
  FleetScene(vtkRenderer* renderer, ipc::SourceRegistry& registry, const SceneSettings& settings = {});
  // A scene with a registry of its own (tests, benchmarks, a scene alone).
  explicit FleetScene(vtkRenderer* renderer, const SceneSettings& settings = {});
  ~FleetScene();
  FleetScene(const FleetScene&) = delete;
  FleetScene& operator=(const FleetScene&) = delete;

  // Attaches a segment through the registry (throws SegmentError); one already attached is a
  // no-op. Its robots are drawn at once.
  void attach(const std::string& segment);
  void detach(const std::string& segment);
  bool attached(const std::string& segment) const;
  // Drops segments whose writer is dead or closed, or greys their robots when `keep` (default).
  void set_keep_dead_robots(bool keep);
  ipc::SourceRegistry& registry();

  // Refreshes the registry (liveness, restarts), follows its sources (attached or detached by
  // anyone) and takes new poses and layouts into the instance arrays.
  UpdateResult update();

  std::vector<SourceInfo> sources() const;
  std::vector<RobotInfo> robots() const;
  void set_robot_visible(const std::string& segment, std::uint32_t slot, bool visible);
  std::optional<RobotInfo> robot(const std::string& segment, std::uint32_t slot) const;

  // Robots whose producer is `worker` (robot attributes), in every source.
  std::vector<std::pair<std::string, std::uint32_t>> robots_of_worker(std::uint32_t worker) const;
  // Highlights these robots as a group (e.g. a worker's, selected in the env-pool panel); empty: none.
  void highlight(const std::vector<std::pair<std::string, std::uint32_t>>& robots);
  // World bounds of a set of robots; nullopt when none is drawn.
  std::optional<std::array<double, 6>> bounds_of(const std::vector<std::pair<std::string, std::uint32_t>>& robots) const;
  // The health of each worker (by id) as the dashboards judge it; robots of stalled workers turn
  // amber, of dead ones grey. Workers not listed are unknown (drawn normally).
  void set_worker_health(const std::map<std::uint32_t, WorkerHealth>& health);
  void set_color_mode(ColorMode mode);
  ColorMode color_mode() const;
  // The current range of robot scalars (what ColorMode::kScalar maps).
  ScalarLegend scalar_legend() const;

  // Link under display pixel (x, y) (VTK display coordinates, origin bottom-left).
  std::optional<PickResult> pick(int x, int y) const;
  void select(const std::optional<PickResult>& pick);
  std::optional<PickResult> selection() const;
  // World-space bounds {xmin,xmax,ymin,ymax,zmin,zmax} of a robot, or of everything.
  std::optional<std::array<double, 6>> robot_bounds(const std::string& segment, std::uint32_t slot) const;
  std::optional<std::array<double, 6>> scene_bounds() const;

  // Whether a source draws its own ground: a plane visual facing up (its normal within about
  // 11 degrees of vertical). The viewer then hides its own ground grid.
  bool has_ground_plane() const;

  // Distinct links whose pose changed since the last call (a frame's "dirty links").
  std::uint64_t take_changed_links();
  std::uint64_t instance_count() const;  // visuals drawn (visible)
  std::uint64_t point_count() const;     // of those, drawn as points by the level of detail
  std::size_t actor_count() const;
  std::size_t mapper_count() const;

 private:
  FleetScene(vtkRenderer* renderer, ipc::SourceRegistry* registry, const SceneSettings& settings);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetscope::render
