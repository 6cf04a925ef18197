// Publishing a MuJoCo simulation into a fleetscope segment (format 1.3), for programs that embed
// MuJoCo: construct once from the compiled mjModel, call publish(data) after each mj_step.
//
//   fleetscope::MujocoPublisher publisher(model, {.name = "mysim"});
//   while (running) { mj_step(model, data); publisher.publish(data); }
//
// What becomes what:
// - Every body whose parent is the world body roots a robot; the bodies of its subtree are the
//   robot's links (link frame = body frame, in body id order), and a body's geoms are that link's
//   visuals, placed by geom_pos/geom_quat. Subtrees with the same structure and the same visual
//   geoms (type, size, offset, colour, mesh) share one model.
// - The world body's own geoms, and subtrees that MuJoCo treats as static (every body welded to
//   the world and none a mocap body), are world geometry: spawned once with spawn_static.
// - A geom is published when MuJoCo's viewer would draw it by default: its group is enabled in
//   `visible_groups` (groups 0..2) and its colour's alpha is above zero. Its colour is geom_rgba,
//   or its material's mat_rgba when it has a material and geom_rgba is MuJoCo's default
//   (0.5, 0.5, 0.5, 1) (MuJoCo's own rule).
// - Shapes: plane -> kPlane (full sizes 2*size; a size of 0, infinite in MuJoCo, becomes
//   `infinite_plane_size`), sphere, capsule and cylinder (radius, full length 2*half-length),
//   ellipsoid (radii), box (full sizes 2*half-sizes), mesh -> kInlineMesh of the compiled mesh
//   (mesh_vert/mesh_face: MuJoCo has already centred and aligned it, and geom_pos/geom_quat carry
//   that), hfield -> kInlineMesh: the elevation grid as a closed solid (top surface from z = 0
//   to size[2], sides and bottom at -size[3]). Meshes are stored once however many geoms use them.
// - A subtree without any published geom is not published.
//
// Not thread-safe: one thread calls publish(). Errors throw fleetscope::ipc::SegmentError.
#pragma once

#include <mujoco/mjdata.h>
#include <mujoco/mjmodel.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace fleetscope {

namespace detail {
struct MujocoPlan;  // what the constructor reads from the model before it creates the segment
}

struct MujocoPublisherOptions {
  std::string name = "mujoco";  // segment name, [A-Za-z0-9_.-]{1,47}
  // Bit g publishes geoms of group g (0..5). MuJoCo's viewer shows groups 0, 1 and 2 by default.
  std::uint32_t visible_groups = 0b000111;
  // Full side length in metres of a plane whose MuJoCo size is 0 (infinite) in x or y.
  float infinite_plane_size = 100.0f;
  // Publish only links that moved by more than epsilon (see WriterConfig).
  bool detect_changes = true;
  float epsilon = 1e-5f;
  bool replace_stale = true;
  bool compress_meshes = true;
};

// One published robot: a subtree of the world body, or the world body's own geoms.
struct MujocoRobot {
  std::string name;           // the root body's name ("world" for the world body's geoms)
  std::uint32_t robot = 0;    // SimWriter robot id
  std::uint32_t model = 0;    // SimWriter model id
  int root_body = 0;          // MuJoCo body id of the subtree's root (0: the world body)
  std::vector<int> bodies;    // MuJoCo body id of each link, in link order
  bool is_static = false;     // spawned with spawn_static: never written again
};

struct MujocoSceneSummary {
  std::size_t models = 0;
  std::size_t dynamic_robots = 0;
  std::size_t static_robots = 0;
  std::size_t links = 0;            // of all robots
  std::size_t visuals = 0;          // geoms published (over all robots)
  std::size_t hidden_geoms = 0;     // geoms left out: group not visible, or alpha 0
  std::size_t meshes = 0;           // distinct meshes stored (mesh and hfield geoms)
  std::uint64_t mesh_bytes = 0;     // reserved for them
};

class MujocoPublisher {
 public:
  // Reads the model (geoms, meshes, height fields, body tree) and creates the segment with every
  // model and robot. The model is not kept: publish() needs only mjData of the same model.
  // Throws SegmentError: kInvalidArgument (NULL model, a mesh over fleetscope's limits),
  // kVersionMismatch (a MuJoCo library of another version than the headers this was built
  // with: mjModel's layout differs), or what SimWriter throws (kCapacity, kAlreadyExists, ...).
  explicit MujocoPublisher(const mjModel* model, const MujocoPublisherOptions& options = {});

  // Writes every dynamic robot's link poses from data->xpos/xquat (valid after mj_step,
  // mj_forward or mj_kinematics) and publishes at sim time data->time. `data` must belong to the
  // model given at construction.
  PublishStats publish(const mjData* data);

  std::span<const MujocoRobot> robots() const noexcept { return robots_; }
  const MujocoSceneSummary& summary() const noexcept { return summary_; }
  SimWriter& writer() noexcept { return writer_; }
  // Marks the segment closed and removes it. Also done by the destructor.
  void close() noexcept { writer_.close(); }

 private:
  explicit MujocoPublisher(detail::MujocoPlan&& plan);

  SimWriter writer_;
  std::vector<MujocoRobot> robots_;  // dynamic robots first, in spawn order, then static ones
  std::size_t dynamic_count_ = 0;
  std::vector<double> poses_;        // scratch: 7 per link of the largest robot
  MujocoSceneSummary summary_;
};

}  // namespace fleetscope
