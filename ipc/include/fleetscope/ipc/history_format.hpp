// The byte layout of the scalar history section (segment format 1.3): per tag, a bounded,
// downsampled record of its whole series (per-bucket min, max, mean, last step and wall time),
// so a reader attached after the ring has wrapped still draws the run from its first step. It
// follows the 1.2 part (and the geometry section, when there is one), found through the header's
// `history_offset`; 1.2 readers never look at it. ipc/FORMAT.md describes it; the static_asserts
// pin it.
//
// Each tag's block is a seqlock of its own, written with every record of that tag: the writer
// never waits, a reader copies a block and keeps it only if the sequence did not move.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace fleetscope::ipc {

inline constexpr std::uint64_t kHistoryMagic = 0x3154534948534600ULL;  // bytes "\0FSHIST1"
inline constexpr std::uint32_t kMaxHistoryTags = 1u << 16;
inline constexpr std::uint32_t kMaxHistoryBuckets = 1u << 16;

struct HistoryHeader {          // 64 bytes, at history_offset
  std::uint64_t magic;          // 0
  std::uint32_t tag_capacity;   // 8   tags [0, tag_capacity) of the telemetry tag table have history
  std::uint32_t bucket_count;   // 12  buckets per tag (B), a power of two
  std::uint64_t blocks_offset;  // 16  from the start of the section: 64
  std::uint64_t block_stride;   // 24  align(64 + 48·B)
  std::uint64_t size;           // 32  == the header's history_size
  std::uint8_t reserved[24];    // 40
};

struct HistoryBlockHeader {                 // 64 bytes at the start of each tag's block
  std::atomic<std::uint64_t> seq;           // 0  seqlock over the block
  std::atomic<std::uint64_t> origin;        // 8  i64: the step where bucket 0 starts
  std::atomic<std::uint64_t> width;         // 16 steps per bucket, a power of two (0: empty)
  std::atomic<std::uint64_t> used;          // 24 buckets [0, used) may hold records
  std::atomic<std::uint64_t> records;       // 32 records folded in
  std::uint8_t reserved[24];                // 40
};

struct HistoryBucket {                      // 48 bytes; bucket i covers steps [origin + i·width, +width)
  std::atomic<std::uint64_t> last_step;     // 0  i64: the highest step folded in
  std::atomic<std::uint64_t> last_wall_ns;  // 8  its wall time (CLOCK_REALTIME)
  std::atomic<std::uint64_t> min_bits;      // 16 f64
  std::atomic<std::uint64_t> max_bits;      // 24 f64
  std::atomic<std::uint64_t> sum_bits;      // 32 f64
  std::atomic<std::uint64_t> count;         // 40 records in the bucket (0: empty)
};

static_assert(sizeof(HistoryHeader) == 64);
static_assert(sizeof(HistoryBlockHeader) == 64);
static_assert(sizeof(HistoryBucket) == 48);
static_assert(offsetof(HistoryBlockHeader, records) == 32);
static_assert(offsetof(HistoryBucket, count) == 40);

}  // namespace fleetscope::ipc
