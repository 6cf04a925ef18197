/* fleetscope C ABI: publish robot poses into a fleetscope shared-memory segment.
 *
 * Opaque handles, status codes, no exceptions: every function returns FS_OK or an error code,
 * and fs_last_error() gives a message for the last error on the calling thread. Safe to call
 * from any language with a C FFI. A writer handle is used by one thread at a time.
 * Pose layout: 7 numbers per link, x y z qx qy qz qw.
 */
#ifndef FLEETSCOPE_FLEETSCOPE_H
#define FLEETSCOPE_FLEETSCOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FS_API __attribute__((visibility("default")))
#else
#define FS_API
#endif

typedef enum fs_status {
  FS_OK = 0,
  FS_ERR_INVALID_ARGUMENT = 1,
  FS_ERR_ALREADY_EXISTS = 2,
  FS_ERR_NOT_FOUND = 3,
  FS_ERR_CAPACITY = 4,
  FS_ERR_SYSTEM = 5,
  FS_ERR_VERSION_MISMATCH = 6,
  FS_ERR_CORRUPT = 7,
  FS_ERR_PERMISSION = 8,
  FS_ERR_NOT_READY = 9,
  FS_ERR_CLOSED = 10,
  FS_ERR_INTERNAL = 99
} fs_status;

typedef enum fs_shape {
  FS_SHAPE_BOX = 0,      /* dims: size x, y, z */
  FS_SHAPE_SPHERE = 1,   /* dims[0]: radius */
  FS_SHAPE_CYLINDER = 2, /* dims[0]: radius, dims[1]: length along local z */
  FS_SHAPE_CAPSULE = 3,  /* dims[0]: radius, dims[1]: length of the straight part */
  FS_SHAPE_MESH = 4,     /* mesh_path (STL, OBJ, PLY), scale */
  FS_SHAPE_PLANE = 5,    /* dims[0], dims[1]: full size x, y; normal +z (fs_writer_add_model_visuals) */
  FS_SHAPE_ELLIPSOID = 6,   /* dims: radii x, y, z (fs_writer_add_model_visuals) */
  FS_SHAPE_INLINE_MESH = 7  /* mesh: an id from fs_writer_add_mesh, scale (fs_writer_add_model_visuals) */
} fs_shape;

typedef struct fs_writer fs_writer;

typedef struct fs_writer_options {
  const char* name;       /* [A-Za-z0-9_.-]{1,47} */
  uint32_t max_robots;    /* 0 = 128 */
  uint32_t max_links;     /* per robot; 0 = 32 */
  uint32_t max_models;    /* 0 = 16 */
  uint32_t max_visuals;   /* 0 = 1024 */
  int detect_changes;     /* nonzero: publish only links that moved by more than epsilon */
  float epsilon;          /* change threshold per component; negative = default 1e-5 */
  int replace_stale;      /* nonzero: replace a same-named segment whose writer is dead */
} fs_writer_options;

typedef struct fs_link_visual {
  const char* name;
  int32_t shape; /* fs_shape */
  float dims[3];
  float scale[3];
  float offset_position[3];
  float offset_orientation[4]; /* qx qy qz qw; all zero means identity */
  uint8_t rgba[4];
  const char* mesh_path; /* NULL unless FS_SHAPE_MESH */
} fs_link_visual;

typedef struct fs_publish_stats {
  uint64_t frame;
  uint64_t dirty_links;
  uint32_t changed_robots;
} fs_publish_stats;

FS_API uint32_t fs_abi_version(void); /* (major << 16) | minor of the segment format */
FS_API const char* fs_status_name(fs_status status);
/* Message of the last failed call on this thread; "" if none. Valid until the next call. */
FS_API const char* fs_last_error(void);

FS_API void fs_writer_options_init(fs_writer_options* options);
FS_API fs_status fs_writer_create(const fs_writer_options* options, fs_writer** out);
/* Closes (if still open), removes the segment and frees the handle. NULL is allowed. */
FS_API void fs_writer_destroy(fs_writer* writer);
FS_API fs_status fs_writer_close(fs_writer* writer);

/* Models and robots share their verbs: add/spawn, has, remove, count, link count. `*out_has` is
 * set to 1 or 0; an unknown id elsewhere is FS_ERR_INVALID_ARGUMENT. */

/* Models: described once, referred to by id (0, 1, ... in the order added). There is no
 * fs_writer_remove_model: the segment format only appends models (robots and readers refer to a
 * model by its index into a packed visual table); to drop models, create a new segment. */
FS_API fs_status fs_writer_add_model(fs_writer* writer, const char* name, const fs_link_visual* links,
                                     size_t link_count, uint32_t* out_model);
FS_API fs_status fs_writer_has_model(fs_writer* writer, uint32_t model, int* out_has);
FS_API fs_status fs_writer_model_count(fs_writer* writer, uint32_t* out_models);
FS_API fs_status fs_writer_model_link_count(fs_writer* writer, uint32_t model, uint32_t* out_links);

/* Robots: spawned from a model; a robot id is unique for the writer, never reused after removal. */
FS_API fs_status fs_writer_spawn_robot(fs_writer* writer, const char* name, uint32_t model,
                                       uint32_t* out_robot);
FS_API fs_status fs_writer_has_robot(fs_writer* writer, uint32_t robot, int* out_has);
FS_API fs_status fs_writer_remove_robot(fs_writer* writer, uint32_t robot);
FS_API fs_status fs_writer_robot_count(fs_writer* writer, uint32_t* out_robots);
FS_API fs_status fs_writer_robot_link_count(fs_writer* writer, uint32_t robot, uint32_t* out_links);
/* Links of all robots: the link_count fs_writer_set_all_poses_* expects. */
FS_API fs_status fs_writer_total_links(fs_writer* writer, uint64_t* out_links);

/* `values` holds link_count * 7 numbers (link_count must equal the robot's). */
FS_API fs_status fs_writer_set_robot_poses_f64(fs_writer* writer, uint32_t robot,
                                               const double* values, size_t link_count);
FS_API fs_status fs_writer_set_robot_poses_f32(fs_writer* writer, uint32_t robot,
                                               const float* values, size_t link_count);
/* All robots in spawn order; link_count must equal fs_writer_total_links. */
FS_API fs_status fs_writer_set_all_poses_f64(fs_writer* writer, const double* values,
                                             size_t link_count);
FS_API fs_status fs_writer_set_all_poses_f32(fs_writer* writer, const float* values,
                                             size_t link_count);

FS_API fs_status fs_writer_publish(fs_writer* writer, double sim_time, fs_publish_stats* out_stats);
FS_API fs_status fs_writer_heartbeat(fs_writer* writer);

/* --- Telemetry (segment format 1.1) ---------------------------------------------------------
 * Scalar series, worker status rows and job rows beside the poses (or alone). Bounded and
 * lock-free: a record is written whether or not anyone reads; a slow reader loses the oldest
 * scalars and counts them. */

typedef struct fs_telemetry_options {
  uint32_t scalar_capacity; /* records in the ring, a power of two; 0 = 16384 */
  uint32_t max_tags;        /* 0 = 256 */
  uint32_t max_workers;     /* 0 = 256 */
  uint32_t max_jobs;        /* 0 = 1024 */
} fs_telemetry_options;

typedef enum fs_worker_state {
  FS_WORKER_STARTING = 0,
  FS_WORKER_RUNNING = 1,
  FS_WORKER_STALLED = 2,
  FS_WORKER_DEAD = 3,
  FS_WORKER_RESTARTING = 4,
  FS_WORKER_STOPPED = 5
} fs_worker_state;

typedef enum fs_job_state {
  FS_JOB_QUEUED = 0,
  FS_JOB_RUNNING = 1,
  FS_JOB_DONE = 2,
  FS_JOB_FAILED = 3
} fs_job_state;

typedef struct fs_worker_status {
  uint32_t worker_id;  /* the row's key */
  int32_t pid;         /* the worker's process (0: none); a reader shows it dead once gone */
  const char* host;    /* host or GPU, at most 31 bytes; NULL = "" */
  int32_t state;       /* fs_worker_state */
  uint32_t chunk_size; /* actions per chunk */
  uint64_t steps;
  double steps_per_s;
  double exec_s;       /* execution time of the last chunk */
  double ipc_s;        /* communication time of the last chunk */
  uint32_t restarts;
} fs_worker_status;

typedef struct fs_job_status {
  const char* object_code; /* the row's key, at most 47 bytes */
  uint64_t target_count;
  uint64_t collected_count;
  uint32_t rounds_done;
  uint32_t rounds_failed;
  uint32_t rounds_retried;
  int32_t gpu;             /* -1: none */
  uint64_t last_seed;
  int32_t state;           /* fs_job_state */
} fs_job_status;

/* Like fs_writer_create, with a telemetry section. With telemetry, options->max_robots may be
 * FS_TELEMETRY_ONLY: the segment then carries telemetry and no robots. */
#define FS_TELEMETRY_ONLY 0xFFFFFFFFu
FS_API fs_status fs_writer_create_with_telemetry(const fs_writer_options* options,
                                                 const fs_telemetry_options* telemetry,
                                                 fs_writer** out);
/* The id of a scalar tag (added on first use), for fs_writer_scalar_id and fs_writer_scalars. */
FS_API fs_status fs_writer_tag(fs_writer* writer, const char* tag, uint32_t* out_tag);
FS_API fs_status fs_writer_scalar(fs_writer* writer, const char* tag, int64_t step, double value);
FS_API fs_status fs_writer_scalar_id(fs_writer* writer, uint32_t tag, int64_t step, double value);
/* Like fs_writer_scalar_id, stamped with the caller's wall time (nanoseconds since the Unix epoch,
 * e.g. a TensorBoard walltime or a replayed log's) instead of now; 0 means now. */
FS_API fs_status fs_writer_scalar_id_wall(fs_writer* writer, uint32_t tag, int64_t step, double value,
                                          uint64_t wall_unix_ns);
/* `count` records of one tag. */
FS_API fs_status fs_writer_scalars(fs_writer* writer, uint32_t tag, const int64_t* steps,
                                   const double* values, size_t count);
FS_API fs_status fs_writer_worker(fs_writer* writer, const fs_worker_status* status);
FS_API fs_status fs_writer_job(fs_writer* writer, const fs_job_status* status);

/* --- Geometry (segment format 1.3) ---------------------------------------------------------
 * Any number of visuals per link, planes, ellipsoids and meshes stored in the segment. The
 * segment reserves room for them at creation: fs_geometry_options (0 = defaults). */
typedef struct fs_geometry_options {
  uint32_t max_visuals; /* visuals over all models; 0 = max_visuals of fs_writer_options */
  uint32_t max_meshes;  /* distinct stored meshes; 0 = 64 */
  uint64_t mesh_bytes;  /* bytes for stored mesh data (compressed); 0 = none */
  int compress;         /* nonzero: zstd-compress meshes when that is smaller */
} fs_geometry_options;

/* Like fs_writer_create_with_telemetry (telemetry may be NULL) with room for geometry. */
FS_API fs_status fs_writer_create_with_geometry(const fs_writer_options* options,
                                                const fs_telemetry_options* telemetry,
                                                const fs_geometry_options* geometry, fs_writer** out);

/* One visual of a model: the link it belongs to (index into link_names), shape and the rest as in
 * fs_link_visual. */
typedef struct fs_visual {
  uint32_t link;
  int32_t shape; /* fs_shape */
  float dims[3];
  float scale[3];              /* 0 components mean 1 */
  float offset_position[3];
  float offset_orientation[4]; /* qx qy qz qw; all zero means identity */
  uint8_t rgba[4];             /* alpha < 255: translucent */
  const char* mesh_path;       /* FS_SHAPE_MESH */
  uint32_t mesh;               /* FS_SHAPE_INLINE_MESH */
} fs_visual;

/* Stores a triangle mesh in the segment: vertex_count x 3 floats, triangle_count x 3 indices,
 * normals NULL or vertex_count x 3 floats. An identical mesh stored before gives the same id. */
FS_API fs_status fs_writer_add_mesh(fs_writer* writer, const float* vertices, size_t vertex_count,
                                    const uint32_t* triangles, size_t triangle_count,
                                    const float* normals, uint32_t* out_mesh);
/* A model of link_count links (names) with visual_count visuals over them (a link may have none). */
FS_API fs_status fs_writer_add_model_visuals(fs_writer* writer, const char* name,
                                             const char* const* link_names, size_t link_count,
                                             const fs_visual* visuals, size_t visual_count,
                                             uint32_t* out_model);
/* World geometry: spawned and published once at `poses` (link_count x 7), never dirty again. */
FS_API fs_status fs_writer_spawn_static(fs_writer* writer, const char* name, uint32_t model,
                                        const double* poses, size_t link_count, uint32_t* out_robot);
/* The robot drawn in rgba instead of its model's colours; rgba NULL: its model's colours again.
 * Takes effect with the next publish. */
FS_API fs_status fs_writer_set_robot_color(fs_writer* writer, uint32_t robot, const uint8_t* rgba);
/* Who produced the robot (worker id, environment index; negative: unset) and a scalar to colour
 * it by (NaN: unset). Takes effect with the next publish. */
FS_API fs_status fs_writer_set_robot_attributes(fs_writer* writer, uint32_t robot, int64_t worker,
                                                int64_t environment, double scalar);
/* The robot's current episode: steps into it and episodes finished; negative steps: unset.
 * Keeps the worker, environment and scalar given before. Takes effect with the next publish. */
FS_API fs_status fs_writer_set_robot_episode(fs_writer* writer, uint32_t robot, int64_t episode_steps,
                                             int64_t episodes);

#ifdef __cplusplus
}
#endif

#endif /* FLEETSCOPE_FLEETSCOPE_H */
