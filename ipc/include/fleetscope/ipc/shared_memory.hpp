// RAII ownership of one mapped POSIX shared memory object. Not thread-safe; each instance is used
// by one thread at a time (the SIGBUS guard below is process-wide and async-signal-safe).
//
// Everything in /dev/shm may be hostile: any local user can put a FIFO, a directory, a symlink or
// a file that shrinks later under a segment's name. Opening is therefore non-blocking and never
// follows a symlink, only regular files are mapped, the owner is checked before mapping, and a
// reader can ask whether its mapping still lies inside the file (see `intact()`).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fleetscope::ipc {

// "fleetscope.<name>": the object name every segment uses, so discovery can find them all.
inline constexpr std::string_view kObjectPrefix = "fleetscope.";
inline constexpr std::string_view kShmDirectory = "/dev/shm";

// Throws SegmentError(kInvalidArgument) unless `name` is [A-Za-z0-9_.-]{1,47}.
void validate_segment_name(std::string_view name);
std::string object_name_for(std::string_view segment_name);
// `text` with every byte outside printable ASCII written as \xNN, for names read from /dev/shm
// that go to a terminal or a message.
std::string printable(std::string_view text);

// "uid N (name)" for messages about who owns a segment.
std::string owner_text(uid_t uid);

// What fstat says about a segment's file, taken without mapping it.
struct SegmentFileInfo {
  uid_t owner_uid = 0;
  unsigned mode = 0;
  std::uint64_t size = 0;
};
// Opens (non-blocking, no symlinks) and fstats the segment's file. Throws SegmentError:
// kNotFound, kCorrupt (not a regular file), kPermission, kSystem.
SegmentFileInfo stat_segment_file(std::string_view segment_name);

class SharedMemoryMapping {
 public:
  // Creates the object exclusively with mode 0600, maps it read-write, zero-filled, and takes an
  // exclusive advisory lock (flock) on it that lives as long as this mapping: a locked segment
  // has a live writer, so removal (gc, a restarted writer) never takes it away.
  // Throws kAlreadyExists when an object of that name exists.
  static SharedMemoryMapping create_exclusive(std::string_view segment_name, std::uint64_t size);
  // Maps an existing object read-only. Refuses, before mapping, anything but a regular file and
  // (unless `allow_other_users`) a file owned by another uid. Throws kNotFound, kPermission,
  // kCorrupt (not a regular file, empty) or kSystem.
  static SharedMemoryMapping open_read_only(std::string_view segment_name, bool allow_other_users = true);
  // Unlinks the object only while no live writer holds it and while its name still refers to the
  // file `may_remove` was shown: the lock and the inode check make this safe against a writer
  // restarted under the same name. `may_remove` gets the mapped file (owned by this user) and
  // returns a reason to remove it, or nullopt to leave it. Returns the reason when it removed.
  template <typename Predicate>
  static std::optional<std::string> remove_if(std::string_view segment_name, Predicate&& may_remove);
  // Unlinks the object without checks; mappings stay valid until unmapped. Returns false if it
  // did not exist. For tests and cleanup of one's own names.
  static bool remove(std::string_view segment_name) noexcept;

  SharedMemoryMapping(SharedMemoryMapping&& other) noexcept;
  SharedMemoryMapping& operator=(SharedMemoryMapping&& other) noexcept;
  ~SharedMemoryMapping();

  std::span<std::byte> bytes() const noexcept { return {address_, size_}; }
  uid_t owner_uid() const noexcept { return owner_uid_; }
  unsigned mode() const noexcept { return mode_; }
  // False once the file is shorter than the mapping (truncated by its owner): reading past the
  // file's end would raise SIGBUS. One fstat; cheap enough to call once per poll.
  bool intact() const noexcept;
  std::uint64_t file_size() const noexcept;
  // Takes the exclusive lock without waiting; false if another open file holds it.
  bool try_lock() const noexcept;
  // Unlinks the object if its name still refers to this mapping's file (a writer closing its own
  // segment must not remove a successor's).
  void unlink_if_still_named() const noexcept;

 private:
  SharedMemoryMapping(int fd, std::byte* address, std::size_t size, std::string segment_name);
  static std::optional<SharedMemoryMapping> open_for_removal(std::string_view segment_name);
  bool still_named() const noexcept;
  void release() noexcept;

  int fd_ = -1;
  std::byte* address_ = nullptr;
  std::size_t size_ = 0;
  std::string segment_name_;
  uid_t owner_uid_ = 0;
  unsigned mode_ = 0;
};

template <typename Predicate>
std::optional<std::string> SharedMemoryMapping::remove_if(std::string_view segment_name, Predicate&& may_remove) {
  // Every remover (gc, a restarted writer) holds the file's lock while it checks that the name
  // still refers to that file and unlinks it; a live writer holds the lock for its lifetime. So
  // between the check and the unlink nobody else can unlink the name, and nobody can create a new
  // file under it (creation is exclusive): the unlink removes exactly the file that was judged.
  std::optional<SharedMemoryMapping> mapping = open_for_removal(segment_name);
  if (!mapping || !mapping->try_lock()) return std::nullopt;
  std::optional<std::string> reason = may_remove(static_cast<const SharedMemoryMapping&>(*mapping));
  if (!reason || !mapping->still_named()) return std::nullopt;
  if (!remove(segment_name)) return std::nullopt;
  return reason;
}

}  // namespace fleetscope::ipc
