// RAII ownership of one mapped POSIX shared memory object (Boost.Interprocess underneath).
// Not thread-safe; each instance is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace fleetscope::ipc {

// "fleetscope.<name>": the object name every segment uses, so discovery can find them all.
inline constexpr std::string_view kObjectPrefix = "fleetscope.";

// Throws SegmentError(kInvalidArgument) unless `name` is [A-Za-z0-9_.-]{1,47}.
void validate_segment_name(std::string_view name);
std::string object_name_for(std::string_view segment_name);

class SharedMemoryMapping {
 public:
  // Creates the object exclusively with mode 0600 and maps it read-write, zero-filled.
  // Throws kAlreadyExists when an object of that name exists.
  static SharedMemoryMapping create_exclusive(std::string_view segment_name, std::uint64_t size);
  // Maps an existing object read-only. Throws kNotFound, kPermission or kSystem.
  static SharedMemoryMapping open_read_only(std::string_view segment_name);
  // Unlinks the object; mappings stay valid until unmapped. Returns false if it did not exist.
  static bool remove(std::string_view segment_name) noexcept;

  SharedMemoryMapping(SharedMemoryMapping&&) noexcept;
  SharedMemoryMapping& operator=(SharedMemoryMapping&&) noexcept;
  ~SharedMemoryMapping();

  std::span<std::byte> bytes() const noexcept;
  uid_t owner_uid() const noexcept { return owner_uid_; }
  unsigned mode() const noexcept { return mode_; }

 private:
  struct Impl;
  explicit SharedMemoryMapping(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uid_t owner_uid_ = 0;
  unsigned mode_ = 0;
};

}  // namespace fleetscope::ipc
