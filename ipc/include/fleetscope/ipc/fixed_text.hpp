// Copying a string into a fixed-size, NUL-terminated char field of the segment format, with the
// error a caller can act on when it does not fit.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::ipc {

// Throws SegmentError(kInvalidArgument) naming `what` when `value` is too long or holds a NUL.
template <std::size_t N>
void copy_fixed_text(char (&field)[N], std::string_view value, const char* what) {
  if (value.size() >= N) {
    throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + " '" + std::string(value) +
                                                        "' is longer than " + std::to_string(N - 1) +
                                                        " bytes");
  }
  if (value.find('\0') != std::string_view::npos) {
    throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + " contains a NUL byte");
  }
  std::memset(field, 0, N);
  std::memcpy(field, value.data(), value.size());
}

}  // namespace fleetscope::ipc
