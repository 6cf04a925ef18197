// POSIX calls directly rather than Boost.Interprocess: Boost's shared_memory_object opens with
// blocking semantics (a FIFO named like a segment hangs it), follows no fstat check before mapping
// and exposes no lock; each of those is a way for another local user to hang or crash a reader.
#include "fleetscope/ipc/shared_memory.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/posix_file.hpp"

namespace fleetscope::ipc {

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
                       "invalid segment name '" + printable(name) +
                           "': use 1 to 47 characters from A-Z a-z 0-9 _ . -");
  }
}

std::string object_name_for(std::string_view segment_name) {
  validate_segment_name(segment_name);
  return std::string(kObjectPrefix) + std::string(segment_name);
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", byte);
      out += buf;
    }
  }
  return out;
}

namespace {

// --- SIGBUS guard ---------------------------------------------------------------------------------
// A segment's owner can shrink its file while readers have it mapped; a read past the new end
// raises SIGBUS. Readers check `intact()` once per poll, which leaves the microseconds between a
// check and the reads. For those, a process-wide handler replaces the faulting page of a
// registered read-only mapping with a zero page and lets the read go on: the reader copies zeros,
// its next check sees the shrunken file and reports the segment as truncated. Faults anywhere
// else go to the previous handler (or the default action).
constexpr std::size_t kGuardSlots = 16384;
struct GuardSlot {
  std::atomic<std::uintptr_t> start{0};
  std::atomic<std::size_t> size{0};
};
std::array<GuardSlot, kGuardSlots> guard_slots;
struct sigaction previous_sigbus {};
std::once_flag guard_installed;

void on_sigbus(int signo, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (GuardSlot& slot : guard_slots) {
    const std::uintptr_t start = slot.start.load(std::memory_order_acquire);
    if (start == 0 || address < start || address >= start + slot.size.load(std::memory_order_relaxed)) continue;
    const std::uintptr_t page = address & ~(static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)) - 1);
    if (::mmap(reinterpret_cast<void*>(page), static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), PROT_READ,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      return;  // the faulting load runs again and reads zeros
    }
    break;
  }
  if (previous_sigbus.sa_flags & SA_SIGINFO) {
    if (previous_sigbus.sa_sigaction) return previous_sigbus.sa_sigaction(signo, info, context);
  } else if (previous_sigbus.sa_handler != SIG_DFL && previous_sigbus.sa_handler != SIG_IGN) {
    return previous_sigbus.sa_handler(signo);
  }
  // Default action: restore it; returning re-executes the load, which now ends the process.
  ::signal(SIGBUS, SIG_DFL);
}

void guard(std::byte* address, std::size_t size) noexcept {
  std::call_once(guard_installed, [] {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &previous_sigbus);
  });
  for (GuardSlot& slot : guard_slots) {
    std::uintptr_t expected = 0;
    slot.size.store(size, std::memory_order_relaxed);
    if (slot.start.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(address),
                                           std::memory_order_release)) {
      return;
    }
  }
  // More mappings than slots: these stay protected by the per-poll size check only.
}

void unguard(std::byte* address) noexcept {
  for (GuardSlot& slot : guard_slots) {
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(address);
    if (slot.start.compare_exchange_strong(expected, 0, std::memory_order_release)) return;
  }
}

// --- opening --------------------------------------------------------------------------------------

std::string shm_path(std::string_view segment_name) {
  return std::string(kShmDirectory) + "/" + object_name_for(segment_name);
}

std::string errno_text() { return std::strerror(errno); }

// O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: a symlink in /dev/shm is
// refused (ELOOP), never followed. The file type is checked with fstat by the caller.
int open_segment_file(std::string_view segment_name, int flags, mode_t mode = 0) {
  const std::string path = shm_path(segment_name);
  return ::open(path.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, mode);
}

[[noreturn]] void throw_open_error(std::string_view segment_name) {
  const int error = errno;
  const std::string what = "cannot open segment '" + std::string(segment_name) + "': ";
  switch (error) {
    case ENOENT:
      throw SegmentError(ErrorCode::kNotFound, what + "no such segment (looked for " + shm_path(segment_name) + ")");
    case EACCES:
    case EPERM: throw SegmentError(ErrorCode::kPermission, what + std::strerror(error));
    case ELOOP: throw SegmentError(ErrorCode::kCorrupt, what + shm_path(segment_name) + " is a symbolic link");
    default: throw SegmentError(ErrorCode::kSystem, what + std::strerror(error));
  }
}

struct stat stat_regular(int fd, std::string_view segment_name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw SegmentError(ErrorCode::kSystem, "cannot stat segment '" + std::string(segment_name) + "': " + errno_text());
  }
  if (!S_ISREG(st.st_mode)) {
    throw SegmentError(ErrorCode::kCorrupt, "segment '" + std::string(segment_name) + "': " +
                                                shm_path(segment_name) + " is " + file_kind(st.st_mode) +
                                                ", not a segment");
  }
  return st;
}

}  // namespace

std::string owner_text(uid_t uid) {
  std::string text = "uid " + std::to_string(uid);
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    text += " (" + printable(found->pw_name) + ")";
  }
  return text;
}

SegmentFileInfo stat_segment_file(std::string_view segment_name) {
  // lstat, not open: it needs no read permission (another user's 0600 segment still says who owns
  // it) and cannot block or follow a link.
  struct stat st {};
  if (::lstat(shm_path(segment_name).c_str(), &st) != 0) throw_open_error(segment_name);
  if (!S_ISREG(st.st_mode)) {
    throw SegmentError(ErrorCode::kCorrupt, "segment '" + std::string(segment_name) + "': " + shm_path(segment_name) +
                                                " is " + file_kind(st.st_mode) + ", not a segment");
  }
  return {st.st_uid, static_cast<unsigned>(st.st_mode & 07777), static_cast<std::uint64_t>(st.st_size)};
}

SharedMemoryMapping::SharedMemoryMapping(int fd, std::byte* address, std::size_t size, std::string segment_name)
    : fd_(fd), address_(address), size_(size), segment_name_(std::move(segment_name)) {
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    owner_uid_ = st.st_uid;
    mode_ = st.st_mode & 07777;
  }
}

SharedMemoryMapping::SharedMemoryMapping(SharedMemoryMapping&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::exchange(other.address_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      segment_name_(std::move(other.segment_name_)),
      owner_uid_(other.owner_uid_),
      mode_(other.mode_) {}

SharedMemoryMapping& SharedMemoryMapping::operator=(SharedMemoryMapping&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
    segment_name_ = std::move(other.segment_name_);
    owner_uid_ = other.owner_uid_;
    mode_ = other.mode_;
  }
  return *this;
}

SharedMemoryMapping::~SharedMemoryMapping() { release(); }

void SharedMemoryMapping::release() noexcept {
  if (address_) {
    unguard(address_);
    ::munmap(address_, size_);
    address_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);  // also drops the writer's lock
  fd_ = -1;
}

SharedMemoryMapping SharedMemoryMapping::create_exclusive(std::string_view segment_name, std::uint64_t size) {
  FileDescriptor fd(open_segment_file(segment_name, O_RDWR | O_CREAT | O_EXCL, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      throw SegmentError(ErrorCode::kAlreadyExists, "cannot create segment '" + std::string(segment_name) +
                                                        "': " + shm_path(segment_name) + " already exists");
    }
    throw_open_error(segment_name);
  }
  // The umask may have narrowed the mode; a segment is 0600 whatever it is.
  ::fchmod(fd.get(), 0600);
  // Take the lock at once: until then a remover could take this new, still empty file for stale.
  // Removers hold the lock only for a moment, so a few tries suffice.
  bool locked = false;
  for (int attempt = 0; attempt < 200 && !locked; ++attempt) {
    locked = ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
    if (!locked) ::usleep(1000);
  }
  const std::string path = shm_path(segment_name);
  auto fail = [&](const std::string& why) -> SegmentError {
    ::unlink(path.c_str());
    return SegmentError(ErrorCode::kSystem, "cannot size or map segment '" + std::string(segment_name) + "': " + why);
  };
  if (!locked) throw fail("its lock is held by another process");
  // Reserve the memory now: a tmpfs without room for it (a small /dev/shm, as in containers)
  // then fails here with ENOSPC instead of killing the writer with SIGBUS on its first store.
  if (const int error = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); error != 0) {
    throw fail(error == ENOSPC ? "not enough space in " + std::string(kShmDirectory) + " for " +
                                     std::to_string(size) + " bytes (see df " + std::string(kShmDirectory) + ")"
                               : std::strerror(error));
  }
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (address == MAP_FAILED) throw fail(errno_text());
  return SharedMemoryMapping(fd.release(), static_cast<std::byte*>(address), size, std::string(segment_name));
}

SharedMemoryMapping SharedMemoryMapping::open_read_only(std::string_view segment_name, bool allow_other_users) {
  FileDescriptor fd(open_segment_file(segment_name, O_RDONLY));
  if (fd.get() < 0) {
    const int error = errno;
    struct stat st {};
    if ((error == EACCES || error == EPERM) && ::lstat(shm_path(segment_name).c_str(), &st) == 0 &&
        st.st_uid != ::geteuid()) {
      throw SegmentError(ErrorCode::kPermission,
                         "segment '" + std::string(segment_name) + "' belongs to " + owner_text(st.st_uid) +
                             " and its owner has not made it readable to you (mode " +
                             std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                             std::to_string(st.st_mode & 7) + ")");
    }
    errno = error;
    throw_open_error(segment_name);
  }
  const struct stat st = stat_regular(fd.get(), segment_name);
  if (st.st_uid != ::geteuid() && !allow_other_users) {
    throw SegmentError(ErrorCode::kPermission,
                       "segment '" + std::string(segment_name) + "' belongs to " + owner_text(st.st_uid) +
                           ", not to you (uid " + std::to_string(::geteuid()) +
                           "); allow other users' segments explicitly to read it");
  }
  if (st.st_size <= 0) {
    throw SegmentError(ErrorCode::kCorrupt,
                       "segment '" + std::string(segment_name) + "' is empty (truncated or still being created)");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (address == MAP_FAILED) {
    throw SegmentError(ErrorCode::kSystem, "cannot map segment '" + std::string(segment_name) + "': " + errno_text());
  }
  guard(static_cast<std::byte*>(address), size);
  return SharedMemoryMapping(fd.release(), static_cast<std::byte*>(address), size, std::string(segment_name));
}

std::optional<SharedMemoryMapping> SharedMemoryMapping::open_for_removal(std::string_view segment_name) {
  try {
    // Read-write: flock needs no write access, but only the owner (or root) could unlink a
    // 0600 file in a sticky directory anyway, and other users' segments are never judged.
    SharedMemoryMapping mapping = open_read_only(segment_name, /*allow_other_users=*/false);
    return mapping;
  } catch (const SegmentError&) {
    return std::nullopt;
  }
}

bool SharedMemoryMapping::remove(std::string_view segment_name) noexcept {
  try {
    return ::unlink(shm_path(segment_name).c_str()) == 0;
  } catch (...) {
    return false;
  }
}

bool SharedMemoryMapping::intact() const noexcept { return fd_ < 0 || file_size() >= size_; }

std::uint64_t SharedMemoryMapping::file_size() const noexcept {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

bool SharedMemoryMapping::try_lock() const noexcept { return fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }

bool SharedMemoryMapping::still_named() const noexcept {
  struct stat mine {}, named {};
  try {
    if (::fstat(fd_, &mine) != 0 || ::lstat(shm_path(segment_name_).c_str(), &named) != 0) return false;
  } catch (...) {
    return false;
  }
  return mine.st_dev == named.st_dev && mine.st_ino == named.st_ino;
}

void SharedMemoryMapping::unlink_if_still_named() const noexcept {
  if (still_named()) remove(segment_name_);
}

}  // namespace fleetscope::ipc
