// The C ABI over SimWriter. Every entry point catches everything: no exception crosses it.
#include <array>
#include <cmath>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "fleetscope/fleetscope.h"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

// The writer handle and the error machinery (fs_last_error's message, statuses for exceptions,
// FS_REQUIRE) are shared with c_api_urdf.cpp.
#include "c_api_internal.hpp"

namespace {

using fleetscope::c_api::guarded;
using fleetscope::c_api::last_error;

}  // namespace

namespace {

// The fields fs_link_visual and fs_visual share, as a LinkVisualDesc (shape checked by the
// caller): a scale component of 0 means 1, an all-zero quaternion the identity.
template <typename CVisual>
fleetscope::LinkVisualDesc visual_desc(const CVisual& in) {
  fleetscope::LinkVisualDesc d;
  d.shape = static_cast<fleetscope::ipc::Shape>(in.shape);
  for (int k = 0; k < 3; ++k) {
    d.dims[k] = in.dims[k];
    d.scale[k] = in.scale[k] == 0.0f ? 1.0f : in.scale[k];
    d.offset_position[k] = in.offset_position[k];
  }
  const bool zero_q = in.offset_orientation[0] == 0 && in.offset_orientation[1] == 0 &&
                      in.offset_orientation[2] == 0 && in.offset_orientation[3] == 0;
  for (int k = 0; k < 4; ++k) {
    d.offset_orientation[k] = zero_q ? (k == 3 ? 1.0f : 0.0f) : in.offset_orientation[k];
    d.rgba[k] = in.rgba[k];
  }
  return d;
}

}  // namespace

extern "C" {

uint32_t fs_abi_version(void) {
  return (uint32_t{fleetscope::ipc::kAbiMajor} << 16) | fleetscope::ipc::kAbiMinor;
}

const char* fs_status_name(fs_status status) {
  switch (status) {
    case FS_OK: return "ok";
    case FS_ERR_INVALID_ARGUMENT: return "invalid argument";
    case FS_ERR_ALREADY_EXISTS: return "already exists";
    case FS_ERR_NOT_FOUND: return "not found";
    case FS_ERR_CAPACITY: return "capacity exceeded";
    case FS_ERR_SYSTEM: return "system error";
    case FS_ERR_VERSION_MISMATCH: return "version mismatch";
    case FS_ERR_CORRUPT: return "corrupt segment";
    case FS_ERR_PERMISSION: return "permission denied";
    case FS_ERR_NOT_READY: return "not ready";
    case FS_ERR_CLOSED: return "closed";
    case FS_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* fs_last_error(void) { return last_error.c_str(); }

void fs_writer_options_init(fs_writer_options* o) {
  if (o == nullptr) return;
  *o = fs_writer_options{};
  o->max_robots = 128;
  o->max_links = 32;
  o->max_models = 16;
  o->max_visuals = 1024;
  o->epsilon = 1e-5f;
  o->replace_stale = 1;
}

fs_status fs_writer_create(const fs_writer_options* o, fs_writer** out) {
  return fs_writer_create_with_telemetry(o, nullptr, out);
}

fs_status fs_writer_create_with_telemetry(const fs_writer_options* o, const fs_telemetry_options* t,
                                          fs_writer** out) {
  return fs_writer_create_with_geometry(o, t, nullptr, out);
}

fs_status fs_writer_create_with_geometry(const fs_writer_options* o, const fs_telemetry_options* t,
                                         const fs_geometry_options* g, fs_writer** out) {
  FS_REQUIRE(o != nullptr && out != nullptr, "options and out must not be NULL");
  FS_REQUIRE(o->name != nullptr, "options.name must not be NULL");
  FS_REQUIRE(t != nullptr || o->max_robots != FS_TELEMETRY_ONLY,
             "a telemetry-only writer needs telemetry options");
  *out = nullptr;
  return guarded([&] {
    fleetscope::WriterConfig c;
    c.name = o->name;
    if (t != nullptr) {
      fleetscope::ipc::TelemetryCapacities caps;
      if (t->scalar_capacity) caps.scalars = t->scalar_capacity;
      if (t->max_tags) caps.tags = t->max_tags;
      if (t->max_workers) caps.workers = t->max_workers;
      if (t->max_jobs) caps.jobs = t->max_jobs;
      c.telemetry = caps;
    }
    if (o->max_robots == FS_TELEMETRY_ONLY) {
      c.max_robots = 0;
    } else if (o->max_robots) {
      c.max_robots = o->max_robots;
    }
    if (o->max_links) c.max_links = o->max_links;
    if (o->max_models) c.max_models = o->max_models;
    if (o->max_visuals) c.max_visuals = o->max_visuals;
    if (o->epsilon >= 0.0f) c.epsilon = o->epsilon;
    c.detect_changes = o->detect_changes != 0;
    c.replace_stale = o->replace_stale != 0;
    if (g != nullptr) {
      c.max_geometry_visuals = g->max_visuals;
      if (g->max_meshes) c.max_meshes = g->max_meshes;
      c.mesh_bytes = g->mesh_bytes;
      c.compress_meshes = g->compress != 0;
    }
    auto handle = std::make_unique<fs_writer>();
    handle->writer.emplace(c);
    *out = handle.release();
  });
}

void fs_writer_destroy(fs_writer* w) {
  // The destructor closes and unlinks; it is noexcept all the way down.
  delete w;
}

fs_status fs_writer_close(fs_writer* w) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] { w->writer.reset(); });
}

fs_status fs_writer_add_model(fs_writer* w, const char* name, const fs_link_visual* links,
                              size_t link_count, uint32_t* out_model) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(name != nullptr && out_model != nullptr, "name and out_model must not be NULL");
  FS_REQUIRE(links != nullptr || link_count == 0, "links is NULL");
  return guarded([&] {
    fleetscope::ModelDesc model;
    model.name = name;
    for (size_t i = 0; i < link_count; ++i) {
      const fs_link_visual& in = links[i];
      if (in.shape < FS_SHAPE_BOX || in.shape > FS_SHAPE_MESH) {
        throw fleetscope::ipc::SegmentError(fleetscope::ipc::ErrorCode::kInvalidArgument,
                                            "link " + std::to_string(i) + " has unknown shape " +
                                                std::to_string(in.shape));
      }
      fleetscope::LinkVisualDesc d = visual_desc(in);
      d.name = in.name ? in.name : "";
      d.mesh_path = in.mesh_path ? in.mesh_path : "";
      model.links.push_back(std::move(d));
    }
    *out_model = w->writer->add_model(model);
  });
}

fs_status fs_writer_has_model(fs_writer* w, uint32_t model, int* out_has) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_has != nullptr, "out_has must not be NULL");
  return guarded([&] { *out_has = w->writer->has_model(model) ? 1 : 0; });
}

fs_status fs_writer_model_count(fs_writer* w, uint32_t* out_models) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_models != nullptr, "out_models must not be NULL");
  return guarded([&] { *out_models = w->writer->model_count(); });
}

fs_status fs_writer_model_link_count(fs_writer* w, uint32_t model, uint32_t* out_links) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_links != nullptr, "out_links must not be NULL");
  return guarded([&] { *out_links = w->writer->model_link_count(model); });
}

fs_status fs_writer_spawn_robot(fs_writer* w, const char* name, uint32_t model, uint32_t* out_robot) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(name != nullptr && out_robot != nullptr, "name and out_robot must not be NULL");
  return guarded([&] { *out_robot = w->writer->spawn_robot(name, model); });
}

fs_status fs_writer_has_robot(fs_writer* w, uint32_t robot, int* out_has) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_has != nullptr, "out_has must not be NULL");
  return guarded([&] { *out_has = w->writer->has_robot(robot) ? 1 : 0; });
}

fs_status fs_writer_remove_robot(fs_writer* w, uint32_t robot) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] { w->writer->remove_robot(robot); });
}

fs_status fs_writer_robot_count(fs_writer* w, uint32_t* out_robots) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_robots != nullptr, "out_robots must not be NULL");
  // At most the segment's robot capacity, which the format bounds far below 2^32.
  return guarded([&] { *out_robots = static_cast<uint32_t>(w->writer->robot_count()); });
}

fs_status fs_writer_robot_link_count(fs_writer* w, uint32_t robot, uint32_t* out_links) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_links != nullptr, "out_links must not be NULL");
  return guarded([&] { *out_links = w->writer->robot_link_count(robot); });
}

fs_status fs_writer_total_links(fs_writer* w, uint64_t* out_links) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(out_links != nullptr, "out_links must not be NULL");
  return guarded([&] { *out_links = w->writer->total_links(); });
}

fs_status fs_writer_set_robot_poses_f64(fs_writer* w, uint32_t robot, const double* values,
                                        size_t link_count) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(values != nullptr, "values must not be NULL");
  return guarded([&] {
    w->writer->set_robot_poses(robot, std::span<const double>(values, link_count * 7));
  });
}

fs_status fs_writer_set_robot_poses_f32(fs_writer* w, uint32_t robot, const float* values,
                                        size_t link_count) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(values != nullptr, "values must not be NULL");
  return guarded([&] {
    w->writer->set_robot_poses(robot, std::span<const float>(values, link_count * 7));
  });
}

fs_status fs_writer_set_all_poses_f64(fs_writer* w, const double* values, size_t link_count) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(values != nullptr || link_count == 0, "values must not be NULL");
  return guarded([&] { w->writer->set_all_poses(std::span<const double>(values, link_count * 7)); });
}

fs_status fs_writer_set_all_poses_f32(fs_writer* w, const float* values, size_t link_count) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(values != nullptr || link_count == 0, "values must not be NULL");
  return guarded([&] { w->writer->set_all_poses(std::span<const float>(values, link_count * 7)); });
}

fs_status fs_writer_publish(fs_writer* w, double sim_time, fs_publish_stats* out_stats) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] {
    const fleetscope::PublishStats s = w->writer->publish(sim_time);
    if (out_stats != nullptr) *out_stats = fs_publish_stats{s.frame, s.dirty_links, s.changed_robots};
  });
}

fs_status fs_writer_heartbeat(fs_writer* w) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] { w->writer->heartbeat(); });
}

fs_status fs_writer_tag(fs_writer* w, const char* tag, uint32_t* out_tag) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(tag != nullptr && out_tag != nullptr, "tag and out_tag must not be NULL");
  return guarded([&] { *out_tag = w->writer->telemetry().tag(tag); });
}

fs_status fs_writer_scalar(fs_writer* w, const char* tag, int64_t step, double value) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(tag != nullptr, "tag must not be NULL");
  return guarded([&] { w->writer->telemetry().scalar(std::string_view(tag), step, value); });
}

fs_status fs_writer_scalar_id(fs_writer* w, uint32_t tag, int64_t step, double value) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] { w->writer->telemetry().scalar(tag, step, value); });
}

fs_status fs_writer_scalar_id_wall(fs_writer* w, uint32_t tag, int64_t step, double value, uint64_t wall_unix_ns) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] { w->writer->telemetry().scalar(tag, step, value, wall_unix_ns); });
}

fs_status fs_writer_scalars(fs_writer* w, uint32_t tag, const int64_t* steps, const double* values,
                            size_t count) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE((steps != nullptr && values != nullptr) || count == 0, "steps and values must not be NULL");
  return guarded([&] {
    w->writer->telemetry().scalars(tag, std::span<const int64_t>(steps, count),
                                   std::span<const double>(values, count));
  });
}

fs_status fs_writer_worker(fs_writer* w, const fs_worker_status* in) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(in != nullptr, "status must not be NULL");
  FS_REQUIRE(in->state >= FS_WORKER_STARTING && in->state <= FS_WORKER_STOPPED, "unknown worker state");
  return guarded([&] {
    fleetscope::ipc::WorkerReport r;
    r.worker_id = in->worker_id;
    r.pid = in->pid;
    r.host = in->host ? in->host : "";
    r.state = static_cast<fleetscope::ipc::WorkerState>(in->state);
    r.chunk_size = in->chunk_size;
    r.steps = in->steps;
    r.steps_per_s = in->steps_per_s;
    r.exec_s = in->exec_s;
    r.ipc_s = in->ipc_s;
    r.restarts = in->restarts;
    w->writer->telemetry().worker(r);
  });
}

fs_status fs_writer_job(fs_writer* w, const fs_job_status* in) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(in != nullptr && in->object_code != nullptr, "status and its object_code must not be NULL");
  FS_REQUIRE(in->state >= FS_JOB_QUEUED && in->state <= FS_JOB_FAILED, "unknown job state");
  return guarded([&] {
    fleetscope::ipc::JobReport r;
    r.object_code = in->object_code;
    r.target_count = in->target_count;
    r.collected_count = in->collected_count;
    r.rounds_done = in->rounds_done;
    r.rounds_failed = in->rounds_failed;
    r.rounds_retried = in->rounds_retried;
    r.gpu = in->gpu;
    r.last_seed = in->last_seed;
    r.state = static_cast<fleetscope::ipc::JobState>(in->state);
    w->writer->telemetry().job(r);
  });
}

fs_status fs_writer_add_mesh(fs_writer* w, const float* vertices, size_t vertex_count, const uint32_t* triangles,
                             size_t triangle_count, const float* normals, uint32_t* out_mesh) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(vertices != nullptr && triangles != nullptr && out_mesh != nullptr,
             "vertices, triangles and out_mesh must not be NULL");
  FS_REQUIRE(vertex_count <= fleetscope::ipc::kMaxMeshVertices && triangle_count <= fleetscope::ipc::kMaxMeshTriangles,
             "vertex or triangle count above the format's limits");
  return guarded([&] {
    fleetscope::MeshData mesh;
    mesh.vertices.assign(vertices, vertices + vertex_count * 3);
    mesh.triangles.assign(triangles, triangles + triangle_count * 3);
    if (normals != nullptr) mesh.normals.assign(normals, normals + vertex_count * 3);
    *out_mesh = w->writer->add_mesh(mesh);
  });
}

fs_status fs_writer_add_model_visuals(fs_writer* w, const char* name, const char* const* link_names, size_t link_count,
                                      const fs_visual* visuals, size_t visual_count, uint32_t* out_model) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(name != nullptr && out_model != nullptr, "name and out_model must not be NULL");
  FS_REQUIRE(link_names != nullptr || link_count == 0, "link_names is NULL");
  FS_REQUIRE(visuals != nullptr || visual_count == 0, "visuals is NULL");
  return guarded([&] {
    using fleetscope::ipc::ErrorCode;
    using fleetscope::ipc::SegmentError;
    fleetscope::RobotModelDesc model;
    model.name = name;
    model.links.resize(link_count);
    for (size_t l = 0; l < link_count; ++l) model.links[l].name = link_names[l] ? link_names[l] : "";
    for (size_t i = 0; i < visual_count; ++i) {
      const fs_visual& in = visuals[i];
      if (in.link >= link_count) {
        throw SegmentError(ErrorCode::kInvalidArgument, "visual " + std::to_string(i) + " refers to link " +
                                                            std::to_string(in.link) + " of " + std::to_string(link_count));
      }
      if (in.shape < FS_SHAPE_BOX || in.shape > FS_SHAPE_INLINE_MESH) {
        throw SegmentError(ErrorCode::kInvalidArgument, "visual " + std::to_string(i) + " has unknown shape " +
                                                            std::to_string(in.shape));
      }
      fleetscope::LinkVisualDesc d = visual_desc(in);
      if (in.shape == FS_SHAPE_MESH) d.mesh_path = in.mesh_path ? in.mesh_path : "";
      if (in.shape == FS_SHAPE_INLINE_MESH) d.mesh = in.mesh;
      model.links[in.link].visuals.push_back(std::move(d));
    }
    *out_model = w->writer->add_model(model);
  });
}

fs_status fs_writer_spawn_static(fs_writer* w, const char* name, uint32_t model, const double* poses, size_t link_count,
                                 uint32_t* out_robot) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(name != nullptr && poses != nullptr && out_robot != nullptr, "name, poses and out_robot must not be NULL");
  return guarded([&] {
    *out_robot = w->writer->spawn_static(name, model, std::span<const double>(poses, link_count * 7));
  });
}

fs_status fs_writer_set_robot_color(fs_writer* w, uint32_t robot, const uint8_t* rgba) {
  FS_REQUIRE_WRITER(w);
  return guarded([&] {
    if (rgba == nullptr) {
      w->writer->set_robot_color(robot, std::nullopt);
    } else {
      w->writer->set_robot_color(robot, std::array<std::uint8_t, 4>{rgba[0], rgba[1], rgba[2], rgba[3]});
    }
  });
}

fs_status fs_writer_set_robot_attributes(fs_writer* w, uint32_t robot, int64_t worker, int64_t environment,
                                         double scalar) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(worker < (int64_t{1} << 32) - 1 && environment < (int64_t{1} << 32) - 1,
             "worker and environment must be below 2^32 - 1");
  return guarded([&] {
    // The episode progress stays as fs_writer_set_robot_episode left it.
    fleetscope::RobotAttributes a = w->writer->robot_attributes(robot);
    a.worker.reset();
    a.environment.reset();
    a.scalar.reset();
    if (worker >= 0) a.worker = static_cast<std::uint32_t>(worker);
    if (environment >= 0) a.environment = static_cast<std::uint32_t>(environment);
    if (!std::isnan(scalar)) a.scalar = scalar;
    w->writer->set_robot_attributes(robot, a);
  });
}

fs_status fs_writer_set_robot_episode(fs_writer* w, uint32_t robot, int64_t episode_steps, int64_t episodes) {
  FS_REQUIRE_WRITER(w);
  FS_REQUIRE(episode_steps < (int64_t{1} << 32) && episodes >= 0 && episodes < (int64_t{1} << 32),
             "episode steps and episodes must be below 2^32 (episodes not negative)");
  return guarded([&] {
    w->writer->set_robot_episode(robot, episode_steps < 0 ? std::nullopt
                                                          : std::optional(std::pair{static_cast<std::uint32_t>(episode_steps),
                                                                                    static_cast<std::uint32_t>(episodes)}));
  });
}

}  // extern "C"
