// Rules of FORMAT.md a reader written from the text alone had to guess, pinned by tests: counts
// above capacity are refused (never clamped), unknown states are kept, telemetry needs format
// 1.1, the telemetry-only flag (1.2), and a writer start time of 0 meaning "unknown".
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using namespace fleetscope::ipc;
using fleetscope::testing::AlignedImage;

namespace {

WriterOptions telemetry_segment(const std::string& stem, bool telemetry_only = true) {
  WriterOptions options;
  options.name = fleetscope::testing::unique_name(stem);
  options.capacities = {1, 1, 1, 1, 1};
  options.telemetry = TelemetryCapacities{16, 4, 2, 2};
  options.telemetry_only = telemetry_only;
  return options;
}

// A counter of the telemetry header in a copied image.
std::atomic<std::uint32_t>& telemetry_counter(AlignedImage& image, std::size_t offset) {
  const auto& h = image.header();
  return image.at<std::atomic<std::uint32_t>>(h.telemetry_offset + offset);
}

}  // namespace

TEST(FormatRules, TagWorkerAndJobCountsAboveCapacityAreRefusedNotClamped) {
  SegmentWriter writer(telemetry_segment("counts"));
  writer.telemetry().tag("a");
  writer.telemetry().worker(WorkerReport{.worker_id = 1, .host = "h"});
  writer.telemetry().job(JobReport{.object_code = "mug"});
  for (const std::size_t offset : {offsetof(TelemetryHeader, tag_count), offsetof(TelemetryHeader, worker_count),
                                   offsetof(TelemetryHeader, job_count)}) {
    AlignedImage image = fleetscope::testing::copy_segment(writer.name());
    telemetry_counter(image, offset).store(3'000'000);
    const auto segment = SegmentReader::over_bytes(image.bytes());
    const auto telemetry = TelemetryReader::of(segment);
    ASSERT_TRUE(telemetry);
    try {
      telemetry->tags_from(0);
      telemetry->workers();
      telemetry->jobs();
      ADD_FAILURE() << "a count above capacity was accepted (offset " << offset << ")";
    } catch (const SegmentError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
      EXPECT_NE(std::string(e.what()).find("exceeds capacity"), std::string::npos) << e.what();
    }
  }
}

TEST(FormatRules, AnUnknownWorkerOrJobStateIsKeptAndNamedUnknown) {
  SegmentWriter writer(telemetry_segment("states"));
  writer.telemetry().worker(WorkerReport{.worker_id = 7, .host = "h"});
  writer.telemetry().job(JobReport{.object_code = "mug"});
  AlignedImage image = fleetscope::testing::copy_segment(writer.name());
  const auto& h = image.header();
  const auto layout = SegmentReader::over_bytes(image.bytes()).info().telemetry;
  ASSERT_TRUE(layout);
  image.at<std::uint32_t>(h.telemetry_offset + layout->workers_offset + offsetof(WorkerRow, state)) = 42;
  image.at<std::uint32_t>(h.telemetry_offset + layout->jobs_offset + offsetof(JobRow, state)) = 9;
  const auto segment = SegmentReader::over_bytes(image.bytes());
  const auto telemetry = TelemetryReader::of(segment);
  const auto workers = telemetry->workers();
  const auto jobs = telemetry->jobs();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(workers[0].worker_id, 7u);
  EXPECT_STREQ(worker_state_name(workers[0].state), "unknown");
  EXPECT_STREQ(job_state_name(jobs[0].state), "unknown");
}

TEST(FormatRules, ATelemetrySectionInAFormat10SegmentIsCorrupt) {
  SegmentWriter writer(telemetry_segment("old-minor"));
  AlignedImage image = fleetscope::testing::copy_segment(writer.name());
  image.header().abi_minor = 0;
  try {
    SegmentReader::over_bytes(image.bytes());
    ADD_FAILURE() << "telemetry in a 1.0 segment was accepted";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("1.0"), std::string::npos) << e.what();
  }
}

TEST(FormatRules, TelemetryOnlySegmentsCarryAFlagAndAreJudgedByHeartbeat) {
  SegmentWriter only(telemetry_segment("only"));
  SegmentWriter both(telemetry_segment("both", false));
  EXPECT_TRUE(SegmentReader::open(only.name()).info().telemetry_only);
  EXPECT_FALSE(SegmentReader::open(both.name()).info().telemetry_only);
  // The flag is read only from 1.2 on: an older minor with the bit set is not telemetry-only.
  AlignedImage image = fleetscope::testing::copy_segment(only.name());
  image.header().abi_minor = 1;
  EXPECT_FALSE(SegmentReader::over_bytes(image.bytes()).info().telemetry_only);
  // A telemetry-only flag without a telemetry section is corrupt.
  WriterOptions bad = telemetry_segment("only-without");
  bad.telemetry.reset();
  EXPECT_THROW(SegmentWriter{bad}, SegmentError);
}

TEST(FormatRules, AWriterStartTimeOfZeroMeansAnyLiveProcessOfThatPid) {
  EXPECT_TRUE(process_alive(::getpid(), 0));
  EXPECT_TRUE(process_alive(::getpid(), *process_start_ticks(::getpid())));
  EXPECT_FALSE(process_alive(::getpid(), *process_start_ticks(::getpid()) + 1));
  EXPECT_FALSE(process_alive(0, 0));
}
