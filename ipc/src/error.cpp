#include "fleetscope/ipc/error.hpp"

namespace fleetscope::ipc {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kCapacity: return "capacity exceeded";
    case ErrorCode::kSystem: return "system error";
    case ErrorCode::kVersionMismatch: return "version mismatch";
    case ErrorCode::kCorrupt: return "corrupt segment";
    case ErrorCode::kPermission: return "permission denied";
    case ErrorCode::kNotReady: return "not ready";
    case ErrorCode::kClosed: return "closed";
  }
  return "unknown error";
}

}  // namespace fleetscope::ipc
