// Robots from URDF files: a UrdfModel reads a URDF (urdfdom) with every visual of every link,
// their meshes (assimp: COLLADA, STL, OBJ, glTF, PLY) and the kinematic tree; it registers itself
// in a SimWriter as a model whose meshes are stored in the segment (format 1.3), and computes
// link poses from joint positions for many robots at once (forward kinematics).
//
//   fleetscope::urdf::UrdfModel arm = fleetscope::urdf::UrdfModel::load("fs_arm6.urdf");
//   fleetscope::WriterConfig config;
//   config.name = "arms";
//   arm.reserve_capacity(config, 100);          // links, visuals, meshes, mesh bytes for 100 arms
//   fleetscope::SimWriter writer(config);
//   fleetscope::urdf::UrdfFleet fleet(writer, arm);
//   for (int i = 0; i < 100; ++i) fleet.spawn("arm" + std::to_string(i), base_pose_of(i));
//   fleet.set_joint_positions(q);               // 100 x arm.dof() joint positions, one FK pass
//   writer.publish(t);
//
// Orders. Links: depth first from the root link, a link's children in the order their joints
// appear in the file; so link 0 is the root and a parent always precedes its children (for a
// chain this is the file's order). Joint positions: one per actuated joint (revolute,
// continuous, prismatic; not fixed, not mimic), in the same depth-first order of their child
// links; joint_names() lists them. Radians and metres.
//
// Joints: revolute, continuous and prismatic move about/along their axis; a mimic joint takes
// multiplier * position + offset of the joint it mimics (chains of mimics are followed); fixed
// joints do not move. Floating and planar joints are treated as fixed at their origin (they have
// no single position; give the robot a base pose instead). Limits are reported, not enforced.
//
// Visuals: box, cylinder, sphere and mesh (with its scale), each at its origin in the link frame,
// coloured by its material (named materials defined at the robot's top level included; urdfdom
// resolves them). A mesh file's parts that carry their own colour (a COLLADA, OBJ or glTF
// material) keep it, as RViz shows them; the other parts take the visual's material, or grey
// (also for a material that is named but given no colour anywhere in the file).
// Meshes are read once per file, their node transforms applied; a COLLADA file's <unit> is
// applied and its <up_axis> is not, as RViz does (ROS meshes are authored Z-up). Normals are
// left to the viewer. Textures are not read.
//
// Paths: package://NAME/REST is looked up in the search path, then ROS_PACKAGE_PATH, then the
// URDF's own directory and its parents: a directory is package NAME when its package.xml names
// it, or when it is itself called NAME, or it may hold NAME (up to three levels down). file://
// and absolute paths are taken as they are; relative paths are relative to the URDF's directory,
// then to each search path entry.
//
// Errors throw UrdfError: code kNotFound for a URDF or mesh file that does not exist, else
// kInvalidArgument; the message names the file, the link and the reason.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace fleetscope::urdf {

class UrdfError : public ipc::SegmentError {
 public:
  // what(): "URDF 'FILE': link 'LINK': REASON" (without the link part when `link` is empty).
  UrdfError(ipc::ErrorCode code, std::string file, std::string link, std::string reason);
  const std::string& file() const noexcept { return file_; }
  const std::string& link() const noexcept { return link_; }  // empty: no one link is to blame
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::string link_;
  std::string reason_;
};

struct UrdfOptions {
  // Directories searched for packages (package://) and relative mesh paths, in this order.
  std::vector<std::filesystem::path> search_path;
  bool use_ros_package_path = true;  // then the directories of $ROS_PACKAGE_PATH, if set
  std::string model_name;            // the model's name in the segment; empty: the URDF's robot name
};

enum class JointType : std::uint8_t { kFixed, kRevolute, kContinuous, kPrismatic, kFloating, kPlanar };

// A joint of the URDF, in link order (the joint above link i + 1 is joints()[i]).
struct JointInfo {
  std::string name;
  JointType type = JointType::kFixed;
  std::uint32_t parent_link = 0;
  std::uint32_t child_link = 0;
  // Index into the joint positions: set for actuated joints, and for a mimic joint the index of
  // the actuated joint it follows (position = multiplier * q[actuated] + offset).
  std::optional<std::uint32_t> actuated;
  bool mimic = false;
  double multiplier = 1.0;
  double offset = 0.0;
  // From <limit>; a continuous joint reports -pi..pi, a joint without limits 0..0.
  double lower = 0.0;
  double upper = 0.0;
};

// What a segment must hold for a model: WriterConfig capacities (see reserve_capacity).
struct ModelFootprint {
  std::uint32_t links = 0;
  std::uint32_t visuals = 0;     // over all links
  std::uint32_t meshes = 0;      // distinct meshes
  std::uint64_t mesh_bytes = 0;  // their raw payload (12 per vertex + 12 per triangle), each rounded up to 64
};

class UrdfModel {
 public:
  static UrdfModel load(const std::filesystem::path& file, const UrdfOptions& options = {});
  // From URDF text (e.g. a robot_description); relative paths are relative to `base_directory`,
  // and `source` names the text in messages.
  static UrdfModel parse(std::string_view xml, const std::filesystem::path& base_directory,
                         const UrdfOptions& options = {}, std::string source = "<string>");

  // Cheap to copy: copies share the immutable model.
  const std::string& name() const noexcept;
  const std::filesystem::path& file() const noexcept;
  std::size_t link_count() const noexcept;
  std::size_t dof() const noexcept;  // actuated joints: joint positions per robot
  const std::vector<std::string>& link_names() const noexcept;
  const std::vector<std::string>& joint_names() const noexcept;  // actuated joints, in order
  const std::vector<JointInfo>& joints() const noexcept;          // all joints, in link order
  // The actuated joints' limits (JointInfo::lower/upper), dof() entries each.
  std::span<const double> lower_limits() const noexcept;
  std::span<const double> upper_limits() const noexcept;

  // The model as SimWriter takes it: stored meshes have shape kInlineMesh and `mesh` indexing
  // meshes() (add_to maps them to the writer's mesh ids).
  const RobotModelDesc& description() const noexcept;
  const std::vector<MeshData>& meshes() const noexcept;
  ModelFootprint footprint() const noexcept;

  // Raises `config`'s capacities so that the writer can hold this model (once) and `robots`
  // robots of it, on top of what the config already asks for.
  void reserve_capacity(WriterConfig& config, std::uint32_t robots) const;
  // Stores the meshes and adds the model; returns the model id. Names longer than the segment
  // holds (31 bytes for links, 47 for the model) are cut at a UTF-8 character boundary.
  std::uint32_t add_to(SimWriter& writer) const;

  // Forward kinematics for `robots` robots: `joint_positions` holds robots x dof() values
  // (row-major), `base_poses` robots x 7 (x y z qx qy qz qw; empty: every base at the origin),
  // `out` receives robots x link_count() x 7 floats, link poses in the world frame (base pose x
  // the link's pose in the root frame). Throws kInvalidArgument on wrong sizes, a value that is
  // not finite or a zero base quaternion (checked before anything is written).
  void forward_kinematics(std::span<const double> joint_positions, std::span<const double> base_poses,
                          std::span<float> out, std::size_t robots) const;
  // The same, each robot's poses staged into `writer` (SimWriter::set_robot_poses) for the robot
  // ids in `robots`, which must be robots of this model. Nothing is staged when an argument is
  // refused.
  void write_poses(SimWriter& writer, std::span<const std::uint32_t> robots,
                   std::span<const double> joint_positions, std::span<const double> base_poses) const;

  struct Data;

 private:
  explicit UrdfModel(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

// Robots of one URDF model in one writer, with a base pose each; the writer must outlive it.
class UrdfFleet {
 public:
  // Adds the model (meshes included) to the writer.
  UrdfFleet(SimWriter& writer, UrdfModel model);
  // For a model added before (UrdfModel::add_to returned `model_id`).
  UrdfFleet(SimWriter& writer, UrdfModel model, std::uint32_t model_id);

  const UrdfModel& model() const noexcept { return model_; }
  std::uint32_t model_id() const noexcept { return model_id_; }
  std::size_t size() const noexcept { return robots_.size(); }
  // Writer robot ids, in spawn order: the rows of set_joint_positions.
  std::span<const std::uint32_t> robot_ids() const noexcept { return robots_; }

  // Spawns a robot at `base_pose` (7 values; empty: the origin); returns its row.
  std::size_t spawn(std::string_view name, std::span<const double> base_pose = {});
  void set_base_pose(std::size_t row, std::span<const double> pose);
  // size() x dof() joint positions, rows in spawn order: stages every robot's link poses.
  void set_joint_positions(std::span<const double> joint_positions);

 private:
  SimWriter* writer_;
  UrdfModel model_;
  std::uint32_t model_id_;
  std::vector<std::uint32_t> robots_;
  std::vector<double> bases_;  // 7 per robot
};

}  // namespace fleetscope::urdf
