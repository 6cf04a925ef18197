// The telemetry section: the scalar ring's wrap-around and loss accounting, several and late
// readers, tags, worker and job rows, malformed sections, and a writer thread racing readers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using namespace fleetscope::ipc;

namespace {

WriterOptions telemetry_options(const std::string& stem, std::uint32_t ring) {
  WriterOptions options;
  options.name = fleetscope::testing::unique_name(stem);
  options.capacities = {1, 1, 1, 1, 1};  // a telemetry-only segment
  options.telemetry = TelemetryCapacities{ring, 8, 4, 4};
  return options;
}

std::vector<std::int64_t> steps_of(const std::vector<ScalarSample>& samples) {
  std::vector<std::int64_t> steps;
  for (const auto& s : samples) steps.push_back(s.step);
  return steps;
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = first; i < last; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST(Telemetry, RingWrapsAndASlowReaderCountsWhatItLost) {
  SegmentWriter writer(telemetry_options("ring", 8));
  auto& telemetry = writer.telemetry();
  const auto segment = SegmentReader::open(writer.name());
  const auto reader = TelemetryReader::of(segment);
  ASSERT_TRUE(reader.has_value());
  const std::uint32_t loss = telemetry.tag("train/loss");

  ScalarCursor cursor;
  std::vector<ScalarSample> got;
  for (int i = 0; i < 5; ++i) telemetry.scalar(loss, i, i * 0.5);
  EXPECT_EQ(reader->read_scalars(cursor, got), 0u);
  EXPECT_EQ(steps_of(got), range(0, 5));
  EXPECT_DOUBLE_EQ(got[4].value, 2.0);
  EXPECT_EQ(got[4].tag, loss);
  EXPECT_GT(got[4].wall_unix_ns, 0u);

  // 15 more: the ring of 8 keeps 12..19, so this reader lost 5..11.
  for (int i = 5; i < 20; ++i) telemetry.scalar(loss, i, i * 0.5);
  got.clear();
  EXPECT_EQ(reader->read_scalars(cursor, got), 7u);
  EXPECT_EQ(cursor.lost, 7u);
  EXPECT_EQ(steps_of(got), range(12, 20));
  EXPECT_EQ(reader->scalars_written(), 20u);

  got.clear();
  EXPECT_EQ(reader->read_scalars(cursor, got), 0u) << "nothing new, nothing lost";
  EXPECT_TRUE(got.empty());
}

TEST(Telemetry, ReadersAreIndependentAndALateReaderGetsTheHistoryWithoutLoss) {
  SegmentWriter writer(telemetry_options("readers", 16));
  auto& telemetry = writer.telemetry();
  const auto segment = SegmentReader::open(writer.name());
  const auto reader = TelemetryReader::of(segment);
  const std::uint32_t reward = telemetry.tag("reward/mean");
  ScalarCursor fast, slow;
  std::vector<ScalarSample> fast_got, slow_got;
  for (int i = 0; i < 10; ++i) telemetry.scalar(reward, i, i);
  reader->read_scalars(fast, fast_got);
  reader->read_scalars(slow, slow_got, 3);  // takes 3 at most
  EXPECT_EQ(steps_of(slow_got), range(0, 3));
  for (int i = 10; i < 20; ++i) telemetry.scalar(reward, i, i);
  reader->read_scalars(fast, fast_got);
  for (int i = 20; i < 30; ++i) telemetry.scalar(reward, i, i);
  reader->read_scalars(fast, fast_got);
  reader->read_scalars(slow, slow_got);
  EXPECT_EQ(steps_of(fast_got), range(0, 30)) << "read in time: nothing lost";
  EXPECT_EQ(fast.lost, 0u);
  EXPECT_EQ(slow.lost, 11u) << "3..13 were overwritten before the slow reader came back";
  EXPECT_EQ(slow_got.size(), 3u + 16u);

  // A second segment reader attached now sees the last 16 records and counts no loss.
  const auto late_segment = SegmentReader::open(writer.name());
  const auto late = TelemetryReader::of(late_segment);
  ScalarCursor late_cursor;
  std::vector<ScalarSample> late_got;
  EXPECT_EQ(late->read_scalars(late_cursor, late_got), 0u);
  EXPECT_EQ(steps_of(late_got), range(14, 30));
}

TEST(Telemetry, BatchesTagsAndBadArguments) {
  SegmentWriter writer(telemetry_options("batch", 64));
  auto& telemetry = writer.telemetry();
  EXPECT_EQ(telemetry.tag("a"), telemetry.tag("a"));
  const std::uint32_t b = telemetry.tag("time/env");
  const std::vector<std::int64_t> steps{100, 200, 300};
  const std::vector<double> values{1.5, 2.5, 3.5};
  telemetry.scalars(b, steps, values);
  const auto segment = SegmentReader::open(writer.name());
  const auto reader = TelemetryReader::of(segment);
  EXPECT_EQ(reader->tags_from(0), (std::vector<std::string>{"a", "time/env"}));
  EXPECT_EQ(reader->tags_from(1), (std::vector<std::string>{"time/env"}));
  ScalarCursor cursor;
  std::vector<ScalarSample> got;
  reader->read_scalars(cursor, got);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].step, 300);
  EXPECT_DOUBLE_EQ(got[2].value, 3.5);

  const std::vector<double> short_values{1.0};
  EXPECT_THROW(telemetry.scalars(b, steps, short_values), SegmentError);
  EXPECT_THROW(telemetry.scalar(99, 0, 0.0), SegmentError);
  EXPECT_THROW(telemetry.tag(std::string(64, 'x')), SegmentError);
  EXPECT_THROW(telemetry.tag(""), SegmentError);
  for (int i = 0; i < 6; ++i) telemetry.tag("t" + std::to_string(i));
  try {
    telemetry.tag("one-too-many");
    FAIL() << "a full tag table must refuse";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCapacity);
  }
}

TEST(Telemetry, WorkerAndJobRowsAreUpsertedByKey) {
  SegmentWriter writer(telemetry_options("rows", 16));
  auto& telemetry = writer.telemetry();
  WorkerReport w;
  w.worker_id = 7;
  w.pid = ::getpid();
  w.host = "gpu0";
  w.state = WorkerState::kRunning;
  w.chunk_size = 32;
  w.steps = 1000;
  w.steps_per_s = 250.0;
  w.exec_s = 0.004;
  w.ipc_s = 0.001;
  telemetry.worker(w);
  w.worker_id = 8;
  telemetry.worker(w);
  w.worker_id = 7;
  w.steps = 2000;
  w.restarts = 1;
  telemetry.worker(w);

  JobReport j;
  j.object_code = "mug_042";
  j.target_count = 500;
  j.collected_count = 120;
  j.rounds_done = 3;
  j.rounds_failed = 1;
  j.rounds_retried = 1;
  j.gpu = 2;
  j.last_seed = 12345;
  j.state = JobState::kRunning;
  telemetry.job(j);
  j.collected_count = 500;
  j.state = JobState::kDone;
  telemetry.job(j);

  const auto segment = SegmentReader::open(writer.name());
  const auto reader = TelemetryReader::of(segment);
  const auto workers = reader->workers();
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].worker_id, 7u);
  EXPECT_EQ(workers[0].steps, 2000u);
  EXPECT_EQ(workers[0].restarts, 1u);
  EXPECT_EQ(workers[0].host, "gpu0");
  EXPECT_EQ(workers[0].pid, ::getpid());
  EXPECT_GT(workers[0].start_ticks, 0u) << "the writer pins the pid with its start time";
  EXPECT_GT(workers[0].heartbeat_ns, 0u);
  EXPECT_DOUBLE_EQ(workers[1].exec_s, 0.004);
  const auto jobs = reader->jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].object_code, "mug_042");
  EXPECT_EQ(jobs[0].collected_count, 500u);
  EXPECT_EQ(jobs[0].state, JobState::kDone);
  EXPECT_EQ(jobs[0].gpu, 2);
  EXPECT_EQ(jobs[0].last_seed, 12345u);

  for (std::uint32_t id = 100; id < 102; ++id) {
    w.worker_id = id;
    telemetry.worker(w);
  }
  w.worker_id = 200;
  EXPECT_THROW(telemetry.worker(w), SegmentError) << "the table holds 4 workers";
}

TEST(Telemetry, SegmentsWithoutTelemetryHaveNoReader) {
  WriterOptions options = telemetry_options("none", 8);
  options.telemetry.reset();
  SegmentWriter writer(options);
  EXPECT_FALSE(writer.has_telemetry());
  EXPECT_THROW(writer.telemetry(), SegmentError);
  const auto segment = SegmentReader::open(writer.name());
  EXPECT_FALSE(TelemetryReader::of(segment).has_value());
}

TEST(Telemetry, RingCapacityMustBeAPowerOfTwo) {
  WriterOptions options = telemetry_options("pow2", 8);
  options.telemetry->scalars = 1000;
  EXPECT_THROW(SegmentWriter{options}, SegmentError);
}

TEST(Telemetry, MalformedSectionsAreRefused) {
  SegmentWriter writer(telemetry_options("corrupt", 8));
  writer.telemetry().tag("x");
  const auto good = fleetscope::testing::copy_segment(writer.name());
  const std::uint64_t section = good.bytes().size() - compute_telemetry_layout({8, 8, 4, 4}).size;

  auto expect_corrupt = [&](auto&& damage, const char* fragment) {
    auto image = fleetscope::testing::copy_segment(writer.name());
    damage(image);
    try {
      SegmentReader::over_bytes(image.bytes());
      ADD_FAILURE() << "accepted a segment with " << fragment;
    } catch (const SegmentError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_corrupt([&](auto& img) { img.template at<std::uint64_t>(section) = 42; }, "wrong magic");
  expect_corrupt([&](auto& img) { img.template at<std::uint32_t>(section + 8) = 12; }, "power of two");
  expect_corrupt([&](auto& img) { img.template at<std::uint64_t>(section + 32) += 64; }, "offsets or size");

  // A tag without its NUL is found when the tags are read.
  auto image = fleetscope::testing::copy_segment(writer.name());
  const auto layout = compute_telemetry_layout({8, 8, 4, 4});
  std::memset(&image.template at<char>(section + layout.tags_offset), 'x', kTagBytes);
  const auto segment = SegmentReader::over_bytes(image.bytes());
  EXPECT_THROW(TelemetryReader::of(segment)->tags_from(0), SegmentError);
}

// A writer thread publishes as fast as it can into a small ring while two readers poll: every
// record a reader takes is whole (value == step * 2), steps only increase, and taken plus lost
// accounts for every record written.
TEST(Telemetry, ConcurrentReadersGetWholeRecordsAndExactLossCounts) {
  SegmentWriter writer(telemetry_options("race", 64));
  auto& telemetry = writer.telemetry();
  const std::uint32_t tag = telemetry.tag("race");
  const auto segment = SegmentReader::open(writer.name());
  constexpr std::int64_t kRecords = 300000;
  std::atomic<bool> done{false};
  auto read_all = [&](std::uint64_t& taken, std::uint64_t& lost, bool& ordered, bool& whole) {
    const auto reader = TelemetryReader::of(segment);
    ScalarCursor cursor;
    cursor.started = true;  // attached before the first record, so every loss counts
    std::vector<ScalarSample> got;
    std::int64_t last = -1;
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire);
      got.clear();
      reader->read_scalars(cursor, got, 50);
      for (const auto& s : got) {
        if (s.step <= last) ordered = false;
        if (s.value != static_cast<double>(s.step) * 2.0) whole = false;
        last = s.step;
      }
      taken += got.size();
      if (finished && cursor.next == reader->scalars_written()) break;
    }
    lost = cursor.lost;
  };
  std::uint64_t taken[2] = {}, lost[2] = {};
  bool ordered[2] = {true, true}, whole[2] = {true, true};
  std::thread r0(read_all, std::ref(taken[0]), std::ref(lost[0]), std::ref(ordered[0]), std::ref(whole[0]));
  std::thread r1(read_all, std::ref(taken[1]), std::ref(lost[1]), std::ref(ordered[1]), std::ref(whole[1]));
  for (std::int64_t i = 0; i < kRecords; ++i) telemetry.scalar(tag, i, static_cast<double>(i) * 2.0, 1);
  done.store(true, std::memory_order_release);
  r0.join();
  r1.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(ordered[r]) << "reader " << r;
    EXPECT_TRUE(whole[r]) << "reader " << r << " took a torn record";
    EXPECT_EQ(taken[r] + lost[r], static_cast<std::uint64_t>(kRecords)) << "reader " << r;
  }
}
