// Helpers for tests that need a segment's bytes: copy a live segment into an aligned buffer
// (to corrupt it and validate in memory) or write bytes as a shared memory object by hand.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/shared_memory.hpp"

namespace fleetscope::testing {

struct AlignedImage {
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data;
  std::size_t size = 0;

  explicit AlignedImage(std::size_t n)
      : data(static_cast<std::byte*>(std::aligned_alloc(64, (n + 63) / 64 * 64))), size(n) {
    std::memset(data.get(), 0, (n + 63) / 64 * 64);
  }
  std::span<const std::byte> bytes() const { return {data.get(), size}; }
  ipc::SegmentHeader& header() { return *reinterpret_cast<ipc::SegmentHeader*>(data.get()); }
  template <typename T>
  T& at(std::uint64_t offset) { return *reinterpret_cast<T*>(data.get() + offset); }
};

inline AlignedImage copy_segment(const std::string& name) {
  const auto mapping = ipc::SharedMemoryMapping::open_read_only(name);
  AlignedImage image(mapping.bytes().size());
  std::memcpy(image.data.get(), mapping.bytes().data(), image.size);
  return image;
}

// Creates /dev/shm/fleetscope.<name> with `bytes` (mode 0600), replacing any old one.
inline void write_object(const std::string& name, std::span<const std::byte> bytes) {
  const std::string path = "/fleetscope." + name;
  ::shm_unlink(path.c_str());
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) throw std::runtime_error("shm_open failed");
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    throw std::runtime_error("write failed");
  }
  ::close(fd);
}

}  // namespace fleetscope::testing
