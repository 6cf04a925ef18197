// Small POSIX file helpers for everything that opens files a hostile local user may have put
// there (segments in /dev/shm, mesh files, manifests): an owning descriptor and the words for a
// file that is not a regular one.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace fleetscope::ipc {

// Closes its descriptor on scope exit unless released. -1 holds nothing.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// "a FIFO", "a directory", ... for messages that refuse anything but a regular file.
inline const char* file_kind(mode_t mode) noexcept {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

}  // namespace fleetscope::ipc
