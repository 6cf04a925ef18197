/* fleetscope for MuJoCo, C ABI (library libfleetscope_mujoco.so): publishes a MuJoCo simulation
 * into a fleetscope segment. Needs no MuJoCo header: models and data are passed as `const void*`
 * (an mjModel* and an mjData*). The library is linked against the MuJoCo it was built with and
 * refuses (FS_ERR_VERSION_MISMATCH) a MuJoCo library of another version at run time.
 *
 *   fs_mujoco* p = NULL;
 *   if (fs_mujoco_create(model, NULL, &p) != FS_OK) fprintf(stderr, "%s\n", fs_mujoco_last_error());
 *   while (running) { mj_step(model, data); fs_mujoco_publish(p, data, NULL); }
 *   fs_mujoco_destroy(p);
 *
 * Every body whose parent is the world body roots a robot (its bodies are the links, its geoms
 * their visuals); identical subtrees share a model; the world body's geoms and subtrees welded to
 * the world are static world geometry. Geoms of groups 0-2 with alpha > 0 are published (what
 * MuJoCo's viewer draws by default). See sim_bridge/include/fleetscope/sim_bridge/mujoco_publisher.hpp.
 *
 * Errors: every function returns an fs_status (fleetscope.h); fs_mujoco_last_error() gives the
 * message of the last failed fs_mujoco_* call on the calling thread. A handle is used by one
 * thread at a time.
 */
#ifndef FLEETSCOPE_MUJOCO_H
#define FLEETSCOPE_MUJOCO_H

#include "fleetscope/fleetscope.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_mujoco fs_mujoco;

typedef struct fs_mujoco_options {
  const char* name;          /* segment name, [A-Za-z0-9_.-]{1,47}; NULL = "mujoco" */
  uint32_t visible_groups;   /* bit g publishes geom group g; 0 = 0x7 (groups 0-2) */
  float infinite_plane_size; /* full side (m) of a plane of size 0 (infinite); <= 0 = 100 */
  int detect_changes;        /* nonzero: publish only links that moved by more than epsilon */
  float epsilon;             /* change threshold per component; negative = 1e-5 */
  int replace_stale;         /* nonzero: replace a same-named segment whose writer is dead */
} fs_mujoco_options;

/* Defaults: name "mujoco", groups 0-2, planes 100 m, detect_changes 1, epsilon 1e-5, replace_stale 1. */
FS_API void fs_mujoco_options_init(fs_mujoco_options* options);
/* Reads `model` (an mjModel*; not kept) and creates the segment with its models and robots.
 * options NULL: the defaults. */
FS_API fs_status fs_mujoco_create(const void* model, const fs_mujoco_options* options, fs_mujoco** out);
/* Writes the link poses of `data` (an mjData* of the same model, after mj_step or mj_forward) and
 * publishes at data->time. out_stats may be NULL. */
FS_API fs_status fs_mujoco_publish(fs_mujoco* publisher, const void* data, fs_publish_stats* out_stats);
/* Robots published (static ones included), and how many of them are static world geometry. */
FS_API fs_status fs_mujoco_robot_count(fs_mujoco* publisher, uint32_t* out_robots, uint32_t* out_static);
/* Closes and removes the segment and frees the handle. NULL is allowed. */
FS_API void fs_mujoco_destroy(fs_mujoco* publisher);
/* Message of the last failed fs_mujoco_* call on this thread; "" if none. Valid until the next call. */
FS_API const char* fs_mujoco_last_error(void);
/* The MuJoCo version this library was built for (mjVERSION_HEADER, e.g. 222 for 2.2.2). */
FS_API int fs_mujoco_version(void);

#ifdef __cplusplus
}
#endif

#endif /* FLEETSCOPE_MUJOCO_H */
