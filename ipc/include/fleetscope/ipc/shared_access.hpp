// Word-wise relaxed atomic copies in and out of shared memory. Every byte that the writer may
// change while a reader looks goes through these (or through std::atomic members), so a seqlock's
// data reads are atomic accesses, not data races: the seqlock decides whether the copy is used,
// these make the copy itself well defined (and clean under ThreadSanitizer).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fleetscope::ipc {

// `bytes` must be a multiple of 8 and both pointers 8-byte aligned.
inline void load_words(void* dst, const void* shared_src, std::size_t bytes) noexcept {
  auto* d = static_cast<std::uint64_t*>(dst);
  const auto* s = static_cast<const std::uint64_t*>(shared_src);
  for (std::size_t i = 0; i < bytes / 8; ++i) d[i] = __atomic_load_n(s + i, __ATOMIC_RELAXED);
}

inline void store_words(void* shared_dst, const void* src, std::size_t bytes) noexcept {
  auto* d = static_cast<std::uint64_t*>(shared_dst);
  const auto* s = static_cast<const std::uint64_t*>(src);
  for (std::size_t i = 0; i < bytes / 8; ++i) __atomic_store_n(d + i, s[i], __ATOMIC_RELAXED);
}

inline std::uint64_t load_word(const std::uint64_t* shared) noexcept {
  return __atomic_load_n(shared, __ATOMIC_RELAXED);
}

inline void store_word(std::uint64_t* shared, std::uint64_t value) noexcept {
  __atomic_store_n(shared, value, __ATOMIC_RELAXED);
}

// Copies a fixed-size char field out of a validated copy and reports whether it held a NUL.
template <std::size_t N>
bool terminated(const char (&field)[N]) noexcept {
  return std::memchr(field, '\0', N) != nullptr;
}

// The writer's side of a seqlock (one writer only): the sequence is odd while the object lives
// and even again when it goes, with the fences FORMAT.md describes.
class SeqlockWrite {
 public:
  explicit SeqlockWrite(std::atomic<std::uint64_t>& seq) noexcept
      : seq_(seq), value_(seq.load(std::memory_order_relaxed)) {
    seq_.store(value_ + 1, std::memory_order_relaxed);
    // SYNC POINT WRITE: the odd value is ordered before the data stores that follow; readers
    // pair it with their acquire fence before re-reading the sequence.
    std::atomic_thread_fence(std::memory_order_release);
  }
  // SYNC POINT WRITE: the data stores happen-before a reader's acquire load of the even value.
  ~SeqlockWrite() { seq_.store(value_ + 2, std::memory_order_release); }
  SeqlockWrite(const SeqlockWrite&) = delete;
  SeqlockWrite& operator=(const SeqlockWrite&) = delete;

 private:
  std::atomic<std::uint64_t>& seq_;
  std::uint64_t value_;
};

}  // namespace fleetscope::ipc
