// The MuJoCo C ABI over MujocoPublisher. Every entry point catches everything: no exception
// crosses it.
#include <mujoco/mujoco.h>

#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/mujoco.h"
#include "fleetscope/sim_bridge/mujoco_publisher.hpp"
// status_for: the one mapping of error codes to fs_status (this library keeps its own last error).
#include "c_api_internal.hpp"

struct fs_mujoco {
  std::optional<fleetscope::MujocoPublisher> publisher;
};

namespace {

thread_local std::string last_error;

fs_status fail(fs_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

template <typename Body>
fs_status guarded(Body&& body) noexcept {
  try {
    last_error.clear();
    return body();
  } catch (const fleetscope::ipc::SegmentError& e) {
    return fail(fleetscope::c_api::status_for(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(FS_ERR_SYSTEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(FS_ERR_INTERNAL, e.what());
  } catch (...) {
    return fail(FS_ERR_INTERNAL, "unknown error");
  }
}

}  // namespace

extern "C" {

void fs_mujoco_options_init(fs_mujoco_options* o) {
  if (o == nullptr) return;
  *o = fs_mujoco_options{};
  o->visible_groups = 0x7;
  o->infinite_plane_size = 100.0f;
  o->detect_changes = 1;
  o->epsilon = 1e-5f;
  o->replace_stale = 1;
}

fs_status fs_mujoco_create(const void* model, const fs_mujoco_options* o, fs_mujoco** out) {
  return guarded([&] {
    if (out == nullptr) return fail(FS_ERR_INVALID_ARGUMENT, "out must not be NULL");
    *out = nullptr;
    if (model == nullptr) return fail(FS_ERR_INVALID_ARGUMENT, "the MuJoCo model is NULL");
    fs_mujoco_options defaults;
    fs_mujoco_options_init(&defaults);
    if (o == nullptr) o = &defaults;
    fleetscope::MujocoPublisherOptions options;
    if (o->name != nullptr) options.name = o->name;
    if (o->visible_groups != 0) options.visible_groups = o->visible_groups;
    if (o->infinite_plane_size > 0.0f) options.infinite_plane_size = o->infinite_plane_size;
    options.detect_changes = o->detect_changes != 0;
    if (o->epsilon >= 0.0f) options.epsilon = o->epsilon;
    options.replace_stale = o->replace_stale != 0;
    auto handle = std::make_unique<fs_mujoco>();
    handle->publisher.emplace(static_cast<const mjModel*>(model), options);
    *out = handle.release();
    return FS_OK;
  });
}

fs_status fs_mujoco_publish(fs_mujoco* p, const void* data, fs_publish_stats* out_stats) {
  return guarded([&] {
    if (p == nullptr || !p->publisher) return fail(FS_ERR_INVALID_ARGUMENT, "publisher handle is NULL");
    if (data == nullptr) return fail(FS_ERR_INVALID_ARGUMENT, "the MuJoCo data is NULL");
    const fleetscope::PublishStats stats = p->publisher->publish(static_cast<const mjData*>(data));
    if (out_stats != nullptr) *out_stats = fs_publish_stats{stats.frame, stats.dirty_links, stats.changed_robots};
    return FS_OK;
  });
}

fs_status fs_mujoco_robot_count(fs_mujoco* p, uint32_t* out_robots, uint32_t* out_static) {
  return guarded([&] {
    if (p == nullptr || !p->publisher) return fail(FS_ERR_INVALID_ARGUMENT, "publisher handle is NULL");
    const auto& summary = p->publisher->summary();
    if (out_robots != nullptr) *out_robots = static_cast<uint32_t>(summary.dynamic_robots + summary.static_robots);
    if (out_static != nullptr) *out_static = static_cast<uint32_t>(summary.static_robots);
    return FS_OK;
  });
}

void fs_mujoco_destroy(fs_mujoco* p) { delete p; }

const char* fs_mujoco_last_error(void) { return last_error.c_str(); }

int fs_mujoco_version(void) { return mjVERSION_HEADER; }

}  // extern "C"
