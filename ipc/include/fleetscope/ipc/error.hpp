// The one exception type of ipc and sim_bridge: a code a program can branch on and a message a
// person can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace fleetscope::ipc {

enum class ErrorCode {
  kInvalidArgument = 1,
  kAlreadyExists,
  kNotFound,
  kCapacity,
  kSystem,
  kVersionMismatch,
  kCorrupt,
  kPermission,
  kNotReady,
  kClosed,
};

const char* error_code_name(ErrorCode code);

class SegmentError : public std::runtime_error {
 public:
  SegmentError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace fleetscope::ipc
