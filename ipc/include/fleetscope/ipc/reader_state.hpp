// What a segment's readers share about it: the mapping and what was learnt while reading it
// (the writer is gone, the file was truncated). A SegmentReader owns one; section readers such as
// TelemetryReader hold it too, so the facts survive a move of the SegmentReader.
// Not thread-safe, like the readers that share it.
#pragma once

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
  bool writer_gone = false;
  std::uint64_t last_liveness_check_ns = 0;
  std::string name;  // for messages

 private:
  std::optional<SharedMemoryMapping> mapping_;
  const SharedMemoryMapping* borrowed_ = nullptr;
  bool truncated_ = false;
  std::uint64_t last_check_ns_ = 0;
};

}  // namespace fleetscope::ipc
