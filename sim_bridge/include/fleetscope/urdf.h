/* fleetscope C ABI for URDF robots: load a URDF (its meshes stored in the segment, format 1.3),
 * register it in a writer, and write the link poses of many robots from their joint positions in
 * one call (forward kinematics).
 *
 * Same conventions as fleetscope.h: every function returns FS_OK or an fs_status, and
 * fs_last_error() says why (for a URDF: the file, the link and the reason). A model handle is
 * immutable once loaded and may be used from several threads at once; a writer keeps nothing of
 * it (its meshes are copied into the segment), so either may be destroyed first.
 *
 * Orders (see urdf_model.hpp): links depth first from the root link (link 0), children in the
 * file's order of their joints; joint positions one per actuated joint (revolute, continuous,
 * prismatic; not fixed or mimic) in the order of fs_urdf_joint_name. Radians and metres. Mimic
 * joints follow the joint they mimic; floating and planar joints are treated as fixed. Poses: 7
 * numbers, x y z qx qy qz qw.
 *
 *   fs_urdf_model* arm; fs_urdf_load("fs_arm6.urdf", NULL, &arm);
 *   fs_writer_options o; fs_writer_options_init(&o); o.name = "arms"; o.max_robots = 0;
 *   fs_geometry_options g = {0};
 *   fs_urdf_reserve(arm, 100, &o, &g);
 *   fs_writer* w; fs_writer_create_with_geometry(&o, NULL, &g, &w);
 *   uint32_t model, robots[100]; fs_urdf_add_to_writer(arm, w, &model);
 *   for (...) fs_writer_spawn_robot(w, name, model, &robots[i]);
 *   fs_urdf_write_poses(arm, w, robots, 100, q, NULL);   (q: 100 x dof doubles)
 *   fs_writer_publish(w, t, NULL);
 */
#ifndef FLEETSCOPE_URDF_H
#define FLEETSCOPE_URDF_H

#include "fleetscope/fleetscope.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_urdf_model fs_urdf_model;

typedef struct fs_urdf_options {
  const char* const* search_path; /* directories for package:// and relative mesh paths; may be NULL */
  size_t search_path_count;
  int use_ros_package_path;       /* nonzero: then $ROS_PACKAGE_PATH too (the default) */
  const char* model_name;         /* the model's name in the segment; NULL or "": the robot's name */
} fs_urdf_options;

/* What a segment needs for one model: links, visuals over all links, distinct stored meshes and
 * their bytes (12 per vertex + 12 per triangle, each mesh rounded up to 64 as the arena aligns). */
typedef struct fs_urdf_footprint {
  uint32_t links;
  uint32_t visuals;
  uint32_t meshes;
  uint64_t mesh_bytes;
} fs_urdf_footprint;

FS_API void fs_urdf_options_init(fs_urdf_options* options);
/* options NULL: the defaults. A missing URDF or mesh file is FS_ERR_NOT_FOUND; a malformed URDF,
 * an unsupported or unreadable mesh FS_ERR_INVALID_ARGUMENT. */
FS_API fs_status fs_urdf_load(const char* path, const fs_urdf_options* options, fs_urdf_model** out);
/* NULL is allowed. */
FS_API void fs_urdf_destroy(fs_urdf_model* model);

/* Strings stay valid as long as the model. */
FS_API fs_status fs_urdf_name(const fs_urdf_model* model, const char** out_name);
FS_API fs_status fs_urdf_link_count(const fs_urdf_model* model, uint32_t* out_links);
FS_API fs_status fs_urdf_dof(const fs_urdf_model* model, uint32_t* out_dof);
FS_API fs_status fs_urdf_link_name(const fs_urdf_model* model, uint32_t link, const char** out_name);
FS_API fs_status fs_urdf_joint_name(const fs_urdf_model* model, uint32_t joint, const char** out_name);
/* dof values each (either may be NULL); a continuous joint reports -pi..pi. */
FS_API fs_status fs_urdf_joint_limits(const fs_urdf_model* model, double* out_lower, double* out_upper);
FS_API fs_status fs_urdf_footprint_of(const fs_urdf_model* model, fs_urdf_footprint* out);

/* Adds to the capacities in `options` and `geometry` what one more such model and `robots` robots
 * of it need (max_robots, max_models, max_visuals, geometry max_meshes and mesh_bytes; max_links
 * raised to the model's link count). Fields are added to as they are: a 0 counts as 0. */
FS_API fs_status fs_urdf_reserve(const fs_urdf_model* model, uint32_t robots, fs_writer_options* options,
                                 fs_geometry_options* geometry);
/* Stores the model's meshes in the writer and adds the model; *out_model is its model id. The
 * writer needs room for them (fs_urdf_reserve, fs_writer_create_with_geometry). */
FS_API fs_status fs_urdf_add_to_writer(const fs_urdf_model* model, fs_writer* writer, uint32_t* out_model);

/* Forward kinematics without a writer: joint_positions robots x dof, base_poses robots x 7 or
 * NULL (every base at the origin), out_poses robots x link_count x 7 floats (world frame). */
FS_API fs_status fs_urdf_forward_kinematics(const fs_urdf_model* model, const double* joint_positions,
                                            size_t robots, const double* base_poses, float* out_poses);
/* Forward kinematics staged straight into the writer for the robot ids in `robots` (spawned from
 * this model's id): joint_positions robot_count x dof, base_poses robot_count x 7 or NULL.
 * Nothing is staged when the call fails (wrong robot, a value not finite). Publish as usual. */
FS_API fs_status fs_urdf_write_poses(const fs_urdf_model* model, fs_writer* writer, const uint32_t* robots,
                                     size_t robot_count, const double* joint_positions, const double* base_poses);

#ifdef __cplusplus
}
#endif

#endif /* FLEETSCOPE_URDF_H */
