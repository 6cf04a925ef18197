// The byte layout of the telemetry section (segment format 1.1), which follows the robot blocks
// when a segment's `telemetry_size` is not 0. ipc/FORMAT.md describes it in prose; the
// static_asserts pin its numbers.
//
// One writer, any number of readers that never write: the scalar ring is a ring of per-record
// seqlocks (a slow reader loses the oldest records and counts them), worker and job rows are
// tables of per-row seqlocks, tags an append-only table published by a release count.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fleetscope/ipc/format.hpp"

namespace fleetscope::ipc {

inline constexpr std::uint64_t kTelemetryMagic = 0x314D4C4554534600ULL;  // bytes "\0FSTELM1"
inline constexpr std::size_t kTagBytes = 64;
inline constexpr std::size_t kHostBytes = 32;
inline constexpr std::size_t kObjectCodeBytes = 48;

inline constexpr std::uint32_t kMaxScalarCapacity = 1u << 24;  // records, a power of two
inline constexpr std::uint32_t kMaxTags = 1u << 16;
inline constexpr std::uint32_t kMaxWorkers = 1u << 16;
inline constexpr std::uint32_t kMaxJobs = 1u << 20;

// What a worker says of itself. A reader also derives stalled (no heartbeat for a while) and dead
// (its process is gone) on its own, whatever the row says.
enum class WorkerState : std::uint32_t {
  kStarting = 0,
  kRunning = 1,
  kStalled = 2,
  kDead = 3,
  kRestarting = 4,
  kStopped = 5,  // exited cleanly
};
inline constexpr std::uint32_t kWorkerStateCount = 6;

enum class JobState : std::uint32_t { kQueued = 0, kRunning = 1, kDone = 2, kFailed = 3 };
inline constexpr std::uint32_t kJobStateCount = 4;

struct TelemetryHeader {  // 128 bytes at telemetry_offset
  // Immutable after creation (written before the segment's state becomes open).
  std::uint64_t magic;              // 0  kTelemetryMagic
  std::uint32_t scalar_capacity;    // 8  records in the ring, a power of two
  std::uint32_t tag_capacity;       // 12
  std::uint32_t worker_capacity;    // 16
  std::uint32_t job_capacity;       // 20
  std::uint64_t tags_offset;        // 24 from telemetry_offset
  std::uint64_t scalars_offset;     // 32
  std::uint64_t workers_offset;     // 40
  std::uint64_t jobs_offset;        // 48
  std::uint64_t size;               // 56 == the segment header's telemetry_size
  // Live counters, stored with release by the writer, loaded with acquire by readers.
  std::atomic<std::uint64_t> scalars_written;  // 64 records ever written (ring head)
  std::atomic<std::uint32_t> tag_count;        // 72 tags [0, tag_count) are valid
  std::atomic<std::uint32_t> worker_count;     // 76 rows [0, worker_count) are in use
  std::atomic<std::uint32_t> job_count;        // 80 rows [0, job_count) are in use
  std::uint8_t reserved[128 - 84];
};

struct TagRecord {  // 64 bytes, immutable once counted
  char name[kTagBytes];  // NUL-terminated
};

// Record n (0-based) lives in slot n mod capacity; its seq is 2n+1 while written, 2n+2 when
// complete. A reader that finds anything else there knows the record was overwritten.
struct ScalarRecord {  // 40 bytes
  std::atomic<std::uint64_t> seq;  // 0
  std::int64_t step;               // 8
  std::uint64_t wall_unix_ns;      // 16 CLOCK_REALTIME
  double value;                    // 24
  std::uint32_t tag;               // 32 index into the tag table
  std::uint32_t reserved;          // 36
};

struct WorkerRow {  // 128 bytes, under its own seqlock
  std::atomic<std::uint64_t> seq;  // 0  odd while written
  std::uint32_t worker_id;         // 8
  std::int32_t pid;                // 12
  std::uint64_t start_ticks;       // 16 /proc/<pid>/stat field 22, against pid reuse (0: unknown)
  char host[kHostBytes];           // 24 host or GPU, NUL-terminated
  std::uint32_t state;             // 56 WorkerState
  std::uint32_t chunk_size;        // 60 actions per chunk
  std::uint64_t steps;             // 64 environment steps so far
  double steps_per_s;              // 72
  double exec_s;                   // 80 execution time of the last chunk
  double ipc_s;                    // 88 communication time of the last chunk
  std::uint64_t heartbeat_ns;      // 96 CLOCK_MONOTONIC of the last report
  std::uint32_t restarts;          // 104
  std::uint32_t reserved0;         // 108
  std::uint8_t reserved1[16];      // 112
};

struct JobRow {  // 128 bytes, under its own seqlock
  std::atomic<std::uint64_t> seq;      // 0
  char object_code[kObjectCodeBytes];  // 8  NUL-terminated, the row's key
  std::uint64_t target_count;          // 56
  std::uint64_t collected_count;       // 64
  std::uint32_t rounds_done;           // 72
  std::uint32_t rounds_failed;         // 76
  std::uint32_t rounds_retried;        // 80
  std::int32_t gpu;                    // 84 -1: none
  std::uint64_t last_seed;             // 88
  std::uint32_t state;                 // 96 JobState
  std::uint32_t reserved0;             // 100
  std::uint64_t updated_ns;            // 104 CLOCK_MONOTONIC of the last change
  std::uint8_t reserved1[16];          // 112
};

static_assert(sizeof(TelemetryHeader) == 128);
static_assert(offsetof(TelemetryHeader, scalars_written) == 64);
static_assert(offsetof(TelemetryHeader, job_count) == 80);
static_assert(sizeof(TagRecord) == 64);
static_assert(sizeof(ScalarRecord) == 40);
static_assert(offsetof(ScalarRecord, tag) == 32);
static_assert(sizeof(WorkerRow) == 128);
static_assert(offsetof(WorkerRow, heartbeat_ns) == 96);
static_assert(sizeof(JobRow) == 128);
static_assert(offsetof(JobRow, updated_ns) == 104);

}  // namespace fleetscope::ipc
