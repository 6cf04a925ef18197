// The C ABI over UrdfModel (urdf.h). Every entry point catches everything: no exception crosses it.
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "c_api_internal.hpp"
#include "fleetscope/sim_bridge/urdf_model.hpp"
#include "fleetscope/urdf.h"

struct fs_urdf_model {
  fleetscope::urdf::UrdfModel model;
};

namespace {

using fleetscope::c_api::guarded;
using fleetscope::c_api::fail;

#define FS_REQUIRE_MODEL(m) FS_REQUIRE((m) != nullptr, "model handle is NULL")

}  // namespace

extern "C" {

void fs_urdf_options_init(fs_urdf_options* o) {
  if (o == nullptr) return;
  *o = fs_urdf_options{};
  o->use_ros_package_path = 1;
}

fs_status fs_urdf_load(const char* path, const fs_urdf_options* o, fs_urdf_model** out) {
  FS_REQUIRE(path != nullptr && out != nullptr, "path and out must not be NULL");
  FS_REQUIRE(o == nullptr || o->search_path != nullptr || o->search_path_count == 0, "options.search_path is NULL");
  *out = nullptr;
  return guarded([&] {
    fleetscope::urdf::UrdfOptions options;
    if (o != nullptr) {
      for (size_t i = 0; i < o->search_path_count; ++i) {
        if (o->search_path[i] == nullptr) {
          throw fleetscope::ipc::SegmentError(fleetscope::ipc::ErrorCode::kInvalidArgument,
                                              "options.search_path[" + std::to_string(i) + "] is NULL");
        }
        options.search_path.emplace_back(o->search_path[i]);
      }
      options.use_ros_package_path = o->use_ros_package_path != 0;
      if (o->model_name != nullptr) options.model_name = o->model_name;
    }
    *out = new fs_urdf_model{fleetscope::urdf::UrdfModel::load(path, options)};
  });
}

void fs_urdf_destroy(fs_urdf_model* model) { delete model; }

fs_status fs_urdf_name(const fs_urdf_model* m, const char** out_name) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out_name != nullptr, "out_name must not be NULL");
  *out_name = m->model.name().c_str();
  return FS_OK;
}

fs_status fs_urdf_link_count(const fs_urdf_model* m, uint32_t* out_links) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out_links != nullptr, "out_links must not be NULL");
  *out_links = static_cast<uint32_t>(m->model.link_count());  // at most kMaxLinksPerRobot
  return FS_OK;
}

fs_status fs_urdf_dof(const fs_urdf_model* m, uint32_t* out_dof) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out_dof != nullptr, "out_dof must not be NULL");
  *out_dof = static_cast<uint32_t>(m->model.dof());
  return FS_OK;
}

fs_status fs_urdf_link_name(const fs_urdf_model* m, uint32_t link, const char** out_name) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out_name != nullptr, "out_name must not be NULL");
  if (link >= m->model.link_count()) {
    return fail(FS_ERR_INVALID_ARGUMENT, "link " + std::to_string(link) + " of a model of " +
                                             std::to_string(m->model.link_count()) + " links");
  }
  *out_name = m->model.link_names()[link].c_str();
  return FS_OK;
}

fs_status fs_urdf_joint_name(const fs_urdf_model* m, uint32_t joint, const char** out_name) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out_name != nullptr, "out_name must not be NULL");
  if (joint >= m->model.dof()) {
    return fail(FS_ERR_INVALID_ARGUMENT, "joint " + std::to_string(joint) + " of a model of " +
                                             std::to_string(m->model.dof()) + " actuated joints");
  }
  *out_name = m->model.joint_names()[joint].c_str();
  return FS_OK;
}

fs_status fs_urdf_joint_limits(const fs_urdf_model* m, double* out_lower, double* out_upper) {
  FS_REQUIRE_MODEL(m);
  const auto lower = m->model.lower_limits();
  const auto upper = m->model.upper_limits();
  if (out_lower != nullptr) std::copy(lower.begin(), lower.end(), out_lower);
  if (out_upper != nullptr) std::copy(upper.begin(), upper.end(), out_upper);
  return FS_OK;
}

fs_status fs_urdf_footprint_of(const fs_urdf_model* m, fs_urdf_footprint* out) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(out != nullptr, "out must not be NULL");
  const fleetscope::urdf::ModelFootprint f = m->model.footprint();
  *out = fs_urdf_footprint{f.links, f.visuals, f.meshes, f.mesh_bytes};
  return FS_OK;
}

fs_status fs_urdf_reserve(const fs_urdf_model* m, uint32_t robots, fs_writer_options* o, fs_geometry_options* g) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE(o != nullptr && g != nullptr, "options and geometry must not be NULL");
  return guarded([&] {
    fleetscope::WriterConfig c;
    c.max_robots = o->max_robots;
    c.max_links = o->max_links;
    c.max_models = o->max_models;
    c.max_visuals = o->max_visuals;
    c.max_geometry_visuals = g->max_visuals;
    c.max_meshes = g->max_meshes;
    c.mesh_bytes = g->mesh_bytes;
    m->model.reserve_capacity(c, robots);
    o->max_robots = c.max_robots;
    o->max_links = c.max_links;
    o->max_models = c.max_models;
    o->max_visuals = c.max_visuals;
    g->max_visuals = c.max_geometry_visuals;
    g->max_meshes = c.max_meshes;
    g->mesh_bytes = c.mesh_bytes;
  });
}

fs_status fs_urdf_add_to_writer(const fs_urdf_model* m, fs_writer* w, uint32_t* out_model) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_model != nullptr, "out_model must not be NULL");
  return guarded([&] { *out_model = m->model.add_to(*w->writer); });
}

fs_status fs_urdf_forward_kinematics(const fs_urdf_model* m, const double* q, size_t robots, const double* bases,
                                     float* out) {
  FS_REQUIRE_MODEL(m);
  const size_t dof = m->model.dof();
  FS_REQUIRE((q != nullptr || robots * dof == 0) && (out != nullptr || robots == 0),
             "joint_positions and out_poses must not be NULL");
  return guarded([&] {
    m->model.forward_kinematics(std::span<const double>(q, robots * dof),
                                bases ? std::span<const double>(bases, robots * fleetscope::kPoseValues)
                                      : std::span<const double>(),
                                std::span<float>(out, robots * m->model.link_count() * fleetscope::kPoseValues),
                                robots);
  });
}

fs_status fs_urdf_write_poses(const fs_urdf_model* m, fs_writer* w, const uint32_t* robots, size_t robot_count,
                              const double* q, const double* bases) {
  FS_REQUIRE_MODEL(m);
  FS_REQUIRE_WRITER(w);
  const size_t dof = m->model.dof();
  FS_REQUIRE((robots != nullptr || robot_count == 0) && (q != nullptr || robot_count * dof == 0),
             "robots and joint_positions must not be NULL");
  return guarded([&] {
    m->model.write_poses(*w->writer, std::span<const uint32_t>(robots, robot_count),
                         std::span<const double>(q, robot_count * dof),
                         bases ? std::span<const double>(bases, robot_count * fleetscope::kPoseValues)
                               : std::span<const double>());
  });
}

}  // extern "C"
