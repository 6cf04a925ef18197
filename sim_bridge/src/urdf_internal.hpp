// What the URDF sources share: the immutable model data with its kinematic tables, path
// resolution and mesh reading. Not installed; Eigen, urdfdom and assimp stay behind it.
#pragma once

#include <Eigen/Geometry>
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fleetscope/sim_bridge/urdf_model.hpp"

namespace fleetscope::urdf::detail {

// How one link moves against its parent: pose = parent * origin * motion(position), with
// position = multiplier * q[source] + offset.
struct FkStep {
  enum class Kind : std::uint8_t { kFixed, kRevolute, kPrismatic };
  Eigen::Quaterniond origin_rotation = Eigen::Quaterniond::Identity();
  Eigen::Vector3d origin_translation = Eigen::Vector3d::Zero();
  // Revolute: origin_rotation * (axis, 0), so origin_rotation * rotation(axis, a) is
  // cos(a/2) * origin_rotation + sin(a/2) * axis_rotation (no quaternion product per call).
  Eigen::Quaterniond axis_rotation = Eigen::Quaterniond(0, 0, 0, 0);
  // Prismatic: the axis in the parent frame (origin_rotation * axis).
  Eigen::Vector3d axis_translation = Eigen::Vector3d::Zero();
  double multiplier = 1.0;
  double offset = 0.0;
  std::uint32_t parent = 0;  // link index, below this step's link
  std::uint32_t source = 0;  // joint position index (revolute, prismatic)
  Kind kind = Kind::kFixed;
};

// Where package:// and relative paths are looked for (UrdfOptions, ROS_PACKAGE_PATH, the URDF's
// directory), with the packages found so far.
class ResourceResolver {
 public:
  ResourceResolver(const std::filesystem::path& base_directory, const UrdfOptions& options);
  // The existing file `uri` names; throws UrdfError (kNotFound: what was looked for where;
  // kInvalidArgument: a malformed URI) naming `urdf_file` and `link`.
  std::filesystem::path resolve(const std::string& uri, const std::string& urdf_file,
                                const std::string& link);

 private:
  std::optional<std::filesystem::path> find_package(const std::string& package);
  std::filesystem::path base_;
  std::vector<std::filesystem::path> roots_;  // searched below (a few levels)
  std::map<std::string, std::optional<std::filesystem::path>> packages_;
};

// One colour's worth of a mesh file, in the file's frame after its node transforms (metres for
// COLLADA, whose unit is applied; the file's units otherwise).
struct MeshPart {
  MeshData mesh;
  std::optional<std::array<std::uint8_t, 4>> rgba;  // the file's own colour; nullopt: none
};

inline constexpr std::uint64_t kMaxMeshFileBytes = 256ull << 20;  // as the viewer's mesh files

// Reads a mesh file with assimp. Throws std::runtime_error with the reason (unsupported
// extension, not a regular file, too large, assimp's error, no triangles); the caller adds the
// URDF file, the link and the mesh.
std::vector<MeshPart> read_mesh_file(const std::filesystem::path& path);
// ".dae .stl ..." for messages, and whether `path` has one of them (case-insensitive).
const char* supported_mesh_extensions() noexcept;
bool has_supported_mesh_extension(const std::filesystem::path& path);

}  // namespace fleetscope::urdf::detail

namespace fleetscope::urdf {

struct UrdfModel::Data {
  std::string name;
  std::filesystem::path file;
  std::vector<std::string> link_names;
  std::vector<std::string> joint_names;  // actuated
  std::vector<JointInfo> joints;         // link order
  std::vector<double> lower, upper;      // actuated
  RobotModelDesc description;
  std::vector<MeshData> meshes;
  ModelFootprint footprint;
  std::vector<detail::FkStep> steps;  // steps[i] moves link i + 1
  std::vector<std::uint32_t> moving_steps;  // indices of the revolute and prismatic steps, in order
};

}  // namespace fleetscope::urdf
