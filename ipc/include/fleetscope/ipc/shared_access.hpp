// Word-wise relaxed atomic copies in and out of shared memory. Every byte that the writer may
// change while a reader looks goes through these (or through std::atomic members), so a seqlock's
// data reads are atomic accesses, not data races: the seqlock decides whether the copy is used,
// these make the copy itself well defined (and clean under ThreadSanitizer).
#pragma once

#include <sched.h>

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

// The reader's side of a seqlock. `copy` loads the protected words (through load_words or
// relaxed atomics); the outcome says whether the copy is one publish's data.
//
// Retry policy, in one place: a reader that finds the sequence odd or changed tries again up to
// `tries` times, yielding the CPU after `yield_after` tries so a writer descheduled in the middle
// of a write can finish. A writer that is known to be gone never finishes: then the sequence is
// read once, the data copied once and the outcome is kTorn when the sequence was odd (the data is
// what the writer left: the caller shows it as such or keeps its last consistent copy).
enum class SeqlockOutcome { kConsistent, kTorn, kBusy };
struct SeqlockPolicy {
  int tries;
  int yield_after;
};
inline constexpr SeqlockPolicy kLayoutPolicy{2000, 4};  // rare, must succeed: wait for the writer
inline constexpr SeqlockPolicy kFramePolicy{2000, 16};
inline constexpr SeqlockPolicy kRobotPolicy{64, 8};     // per poll: defer to the next poll instead
inline constexpr SeqlockPolicy kRowPolicy{64, 64};      // telemetry rows: taken on the next poll

template <typename Copy>
SeqlockOutcome seqlock_read(const std::atomic<std::uint64_t>& seq, const SeqlockPolicy& policy, bool writer_gone,
                            Copy&& copy) {
  for (int attempt = 0; attempt < policy.tries; ++attempt) {
    if (attempt >= policy.yield_after) sched_yield();
    // SYNC POINT READ: the acquire load pairs with SeqlockWrite's release store of the even
    // value, so the data of that publish is visible to the copy.
    const std::uint64_t s1 = seq.load(std::memory_order_acquire);
    if (s1 % 2 != 0 && !writer_gone) continue;
    copy(s1);
    // SYNC POINT READ: orders the copy's loads before the re-check; pairs with SeqlockWrite's
    // release fence after its odd store (a copy that saw new data sees the odd or newer value).
    std::atomic_thread_fence(std::memory_order_acquire);
    const bool same = seq.load(std::memory_order_relaxed) == s1;
    if (writer_gone) return same && s1 % 2 == 0 ? SeqlockOutcome::kConsistent : SeqlockOutcome::kTorn;
    if (same) return SeqlockOutcome::kConsistent;
  }
  return SeqlockOutcome::kBusy;
}

}  // namespace fleetscope::ipc
