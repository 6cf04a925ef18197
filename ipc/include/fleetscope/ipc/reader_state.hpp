// What a segment's readers share about it: the mapping and what was learnt while reading it
// (the writer is gone, the file was truncated). A SegmentReader owns one; section readers such as
// TelemetryReader hold it too, so the facts survive a move of the SegmentReader.
// Its facts are relaxed atomics: readers of one segment on several threads (e.g. two telemetry
// readers) may share it; each fact is a hint that only ever moves one way.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "fleetscope/ipc/shared_memory.hpp"

namespace fleetscope::ipc {

class ReaderState {
 public:
  ReaderState(std::optional<SharedMemoryMapping> mapping, const SharedMemoryMapping* borrowed, std::string name)
      : name(std::move(name)), mapping_(std::move(mapping)), borrowed_(borrowed) {}

  // Throws SegmentError(kCorrupt) once the segment's file has shrunk below the mapping (its owner
  // truncated it): reading on would fault. One fstat, at most every kMappingCheckNs (a thousand
  // sources polled 100 times a second would otherwise spend a tenth of a core in fstat); reads
  // in between are covered by the SIGBUS guard (zeros instead of a fault). Sticky.
  void check_mapping();
  static constexpr std::uint64_t kMappingCheckNs = 20'000'000ULL;
  const SharedMemoryMapping* mapping() const noexcept { return mapping_ ? &*mapping_ : borrowed_; }

  // Once the writer is known to be gone (dead or closed), an odd seqlock is read once and
  // reported torn instead of retried.
  bool writer_gone() const noexcept { return writer_gone_.load(std::memory_order_relaxed); }
  void set_writer_gone() noexcept { writer_gone_.store(true, std::memory_order_relaxed); }
  // True at most once per `interval_ns` (shared by all readers of the segment): time to look
  // at /proc again.
  bool liveness_check_due(std::uint64_t now_ns, std::uint64_t interval_ns) noexcept;
  std::string name;  // for messages; set before the state is shared

 private:
  std::optional<SharedMemoryMapping> mapping_;
  const SharedMemoryMapping* borrowed_ = nullptr;
  std::atomic<bool> writer_gone_{false};
  std::atomic<std::uint64_t> last_liveness_check_ns_{0};
  std::atomic<bool> truncated_{false};
  std::atomic<std::uint64_t> last_check_ns_{0};
};

}  // namespace fleetscope::ipc
