#include "fleetscope/ipc/shared_memory.hpp"

#include <sys/stat.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/format.hpp"

namespace bip = boost::interprocess;

namespace fleetscope::ipc {

struct SharedMemoryMapping::Impl {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

void validate_segment_name(std::string_view name) {
  const bool length_ok = !name.empty() && name.size() < kNameBytes;
  bool chars_ok = true;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    chars_ok = chars_ok && ok;
  }
  if (!length_ok || !chars_ok) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "invalid segment name '" + std::string(name) +
                           "': use 1 to 47 characters from A-Z a-z 0-9 _ . -");
  }
}

std::string object_name_for(std::string_view segment_name) {
  validate_segment_name(segment_name);
  return std::string(kObjectPrefix) + std::string(segment_name);
}

namespace {

ErrorCode code_for(const bip::interprocess_exception& e) {
  switch (e.get_error_code()) {
    case bip::already_exists_error: return ErrorCode::kAlreadyExists;
    case bip::not_found_error: return ErrorCode::kNotFound;
    case bip::security_error: return ErrorCode::kPermission;
    default: return ErrorCode::kSystem;
  }
}

struct stat stat_of(const bip::shared_memory_object& object) {
  struct stat st {};
  if (::fstat(object.get_mapping_handle().handle, &st) != 0) {
    throw SegmentError(ErrorCode::kSystem, std::string("fstat failed: ") + std::strerror(errno));
  }
  return st;
}

}  // namespace

SharedMemoryMapping::SharedMemoryMapping(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  const struct stat st = stat_of(impl_->object);
  owner_uid_ = st.st_uid;
  mode_ = st.st_mode & 07777;
}

SharedMemoryMapping::SharedMemoryMapping(SharedMemoryMapping&&) noexcept = default;
SharedMemoryMapping& SharedMemoryMapping::operator=(SharedMemoryMapping&&) noexcept = default;
SharedMemoryMapping::~SharedMemoryMapping() = default;

SharedMemoryMapping SharedMemoryMapping::create_exclusive(std::string_view segment_name,
                                                          std::uint64_t size) {
  const std::string object_name = object_name_for(segment_name);
  auto impl = std::make_unique<Impl>();
  try {
    bip::permissions perms;
    perms.set_permissions(0600);
    impl->object = bip::shared_memory_object(bip::create_only, object_name.c_str(),
                                             bip::read_write, perms);
  } catch (const bip::interprocess_exception& e) {
    throw SegmentError(code_for(e), "cannot create segment '" + std::string(segment_name) +
                                        "': " + e.what());
  }
  try {
    impl->object.truncate(static_cast<bip::offset_t>(size));
    impl->region = bip::mapped_region(impl->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(object_name.c_str());
    throw SegmentError(ErrorCode::kSystem, "cannot size or map segment '" +
                                               std::string(segment_name) + "': " + e.what());
  }
  return SharedMemoryMapping(std::move(impl));
}

SharedMemoryMapping SharedMemoryMapping::open_read_only(std::string_view segment_name) {
  const std::string object_name = object_name_for(segment_name);
  auto impl = std::make_unique<Impl>();
  try {
    impl->object =
        bip::shared_memory_object(bip::open_only, object_name.c_str(), bip::read_only);
  } catch (const bip::interprocess_exception& e) {
    const ErrorCode code = code_for(e);
    const std::string why = code == ErrorCode::kNotFound
                                ? "no such segment (looked for /dev/shm/" + object_name + ")"
                                : std::string(e.what());
    throw SegmentError(code, "cannot open segment '" + std::string(segment_name) + "': " + why);
  }
  bip::offset_t size = 0;
  if (!impl->object.get_size(size) || size <= 0) {
    throw SegmentError(ErrorCode::kCorrupt, "segment '" + std::string(segment_name) +
                                                "' is empty (truncated or still being created)");
  }
  try {
    impl->region = bip::mapped_region(impl->object, bip::read_only);
  } catch (const bip::interprocess_exception& e) {
    throw SegmentError(ErrorCode::kSystem,
                       "cannot map segment '" + std::string(segment_name) + "': " + e.what());
  }
  return SharedMemoryMapping(std::move(impl));
}

bool SharedMemoryMapping::remove(std::string_view segment_name) noexcept {
  try {
    return bip::shared_memory_object::remove(object_name_for(segment_name).c_str());
  } catch (...) {
    return false;
  }
}

std::span<std::byte> SharedMemoryMapping::bytes() const noexcept {
  if (!impl_) return {};
  return {static_cast<std::byte*>(impl_->region.get_address()), impl_->region.get_size()};
}

}  // namespace fleetscope::ipc
