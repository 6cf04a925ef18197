// What the sources of the C ABI share (c_api.cpp, c_api_urdf.cpp): the writer handle and the
// error machinery, so that fs_last_error() reports the last failure of any fs_* call.
#pragma once

#include <exception>
#include <new>
#include <optional>
#include <string>

#include "fleetscope/fleetscope.h"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

struct fs_writer {
  std::optional<fleetscope::SimWriter> writer;
};

namespace fleetscope::c_api {

// fs_last_error()'s message: one per thread, for every source of the ABI.
inline thread_local std::string last_error;

inline fs_status status_for(ipc::ErrorCode code) {
  using ipc::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument: return FS_ERR_INVALID_ARGUMENT;
    case ErrorCode::kAlreadyExists: return FS_ERR_ALREADY_EXISTS;
    case ErrorCode::kNotFound: return FS_ERR_NOT_FOUND;
    case ErrorCode::kCapacity: return FS_ERR_CAPACITY;
    case ErrorCode::kSystem: return FS_ERR_SYSTEM;
    case ErrorCode::kVersionMismatch: return FS_ERR_VERSION_MISMATCH;
    case ErrorCode::kCorrupt: return FS_ERR_CORRUPT;
    case ErrorCode::kPermission: return FS_ERR_PERMISSION;
    case ErrorCode::kNotReady: return FS_ERR_NOT_READY;
    case ErrorCode::kClosed: return FS_ERR_CLOSED;
  }
  return FS_ERR_INTERNAL;
}

inline fs_status fail(fs_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

// Runs `body`; an exception becomes its status code and message: none crosses the C ABI.
template <typename Body>
fs_status guarded(Body&& body) noexcept {
  try {
    last_error.clear();
    body();
    return FS_OK;
  } catch (const ipc::SegmentError& e) {
    return fail(status_for(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(FS_ERR_SYSTEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(FS_ERR_INTERNAL, e.what());
  } catch (...) {
    return fail(FS_ERR_INTERNAL, "unknown error");
  }
}

inline fs_status require(bool condition, const char* message) {
  return condition ? FS_OK : fail(FS_ERR_INVALID_ARGUMENT, message);
}

}  // namespace fleetscope::c_api

#define FS_REQUIRE(cond, msg)                                                  \
  do {                                                                         \
    if (fs_status s_ = fleetscope::c_api::require((cond), (msg)); s_) return s_; \
  } while (0)

#define FS_REQUIRE_WRITER(w) FS_REQUIRE((w) != nullptr && (w)->writer, "writer handle is NULL or closed")
