// The scalar history section (format 1.3): a bounded, downsampled record of each tag's whole
// series, read back through TelemetryReader::history.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/history_format.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;

namespace {

WriterOptions options(const std::string& stem, std::uint32_t ring, HistoryCapacities history) {
  WriterOptions o;
  o.name = fleetscope::testing::unique_name(stem);
  o.capacities = Capacities{1, 1, 1, 1, 1};
  o.telemetry = TelemetryCapacities{ring, 8, 1, 1};
  o.telemetry_only = true;
  o.history = history;
  return o;
}

}  // namespace

TEST(ScalarHistory, AMillionStepsFitInTheBucketsAndKeepMinMeanMax) {
  SegmentWriter writer(options("history.million", 1024, HistoryCapacities{4, 1024}));
  auto& t = writer.telemetry();
  const auto loss = t.tag("train/loss");
  // Value = step, so every bucket's min, max and mean are known exactly.
  for (std::int64_t step = 0; step < 1'000'000; ++step) t.scalar(loss, step, static_cast<double>(step), 1000 + step);
  const auto reader = SegmentReader::open(writer.name());
  const auto telemetry = TelemetryReader::of(reader);
  ASSERT_TRUE(telemetry);
  const auto h = telemetry->history(loss);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->records, 1'000'000u);
  EXPECT_EQ(h->width, 1024u) << "1,000,000 steps in 1,024 buckets: 1,024 steps a bucket";
  ASSERT_EQ(h->points.size(), 977u);
  EXPECT_EQ(h->points.front().min, 0.0);
  EXPECT_EQ(h->points.front().max, 1023.0);
  EXPECT_DOUBLE_EQ(h->points.front().mean, 511.5);
  EXPECT_EQ(h->points.front().count, 1024u);
  EXPECT_EQ(h->points.back().last_step, 999'999);
  EXPECT_EQ(h->points.back().last_wall_unix_ns, 1000u + 999'999u);
  std::uint64_t total = 0;
  for (const auto& p : h->points) total += p.count;
  EXPECT_EQ(total, 1'000'000u) << "every record is in exactly one bucket";
  // The whole block of a tag stays within 64 KiB.
  EXPECT_LE(reader.info().history->block_stride, 64u * 1024u);
  // The ring, by contrast, holds only the last 1,024 records.
  ScalarCursor cursor;
  std::vector<ScalarSample> samples;
  telemetry->read_scalars(cursor, samples);
  EXPECT_EQ(samples.size(), 1024u);
}

TEST(ScalarHistory, TagsBeyondItsCapacityAndNonFiniteValuesAreLeftOut) {
  SegmentWriter writer(options("history.capacity", 64, HistoryCapacities{1, 16}));
  auto& t = writer.telemetry();
  const auto a = t.tag("a");
  const auto b = t.tag("b");
  t.scalar(a, 0, 1.0);
  t.scalar(a, 1, std::nan(""));
  t.scalar(a, 2, 3.0);
  t.scalar(b, 0, 5.0);
  const auto reader = SegmentReader::open(writer.name());
  const auto telemetry = TelemetryReader::of(reader);
  const auto h = telemetry->history(a);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->records, 2u);
  EXPECT_FALSE(telemetry->history(b)) << "only the first tag has history";
}

TEST(ScalarHistory, WithoutHistoryThereIsNone) {
  WriterOptions o = options("history.none", 64, HistoryCapacities{});
  o.history.reset();
  SegmentWriter writer(o);
  writer.telemetry().scalar("a", 0, 1.0);
  const auto reader = SegmentReader::open(writer.name());
  EXPECT_FALSE(reader.info().history);
  EXPECT_FALSE(TelemetryReader::of(reader)->history(0));
}

TEST(ScalarHistory, CorruptBlocksAndHeadersAreRefused) {
  SegmentWriter writer(options("history.corrupt", 64, HistoryCapacities{2, 16}));
  writer.telemetry().scalar("a", 0, 1.0);
  writer.telemetry().scalar("a", 1, 2.0);
  const auto original = SegmentReader::open(writer.name());
  const auto& info = original.info();
  const auto bytes = original.bytes();
  // Copies of the segment with one thing broken each.
  auto broken = [&](auto&& damage) {
    auto* raw = static_cast<std::byte*>(std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64));
    std::memcpy(raw, bytes.data(), bytes.size());
    damage(raw);
    return std::unique_ptr<std::byte, decltype(&std::free)>(raw, &std::free);
  };
  const std::uint64_t block = info.history_offset + info.history->blocks_offset;
  {
    auto copy = broken([&](std::byte* raw) { std::memset(raw + info.history_offset, 0, 8); });  // magic
    EXPECT_THROW(SegmentReader::over_bytes({copy.get(), bytes.size()}), SegmentError);
  }
  {
    auto copy = broken([&](std::byte* raw) {
      const std::uint64_t width = 3;  // not a power of two
      std::memcpy(raw + block + 16, &width, 8);
    });
    const auto reader = SegmentReader::over_bytes({copy.get(), bytes.size()});
    try {
      TelemetryReader::of(reader)->history(0);
      FAIL() << "a bucket width of 3 was accepted";
    } catch (const SegmentError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
      EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
    }
  }
  {
    auto copy = broken([&](std::byte* raw) {
      const double nan = std::nan("");
      std::memcpy(raw + block + sizeof(HistoryBlockHeader) + 16, &nan, 8);  // bucket 0 min
    });
    const auto reader = SegmentReader::over_bytes({copy.get(), bytes.size()});
    EXPECT_THROW(TelemetryReader::of(reader)->history(0), SegmentError);
  }
  {
    auto copy = broken([&](std::byte* raw) {
      const std::uint64_t used = 1000;  // beyond the 16 buckets
      std::memcpy(raw + block + 24, &used, 8);
    });
    const auto reader = SegmentReader::over_bytes({copy.get(), bytes.size()});
    EXPECT_THROW(TelemetryReader::of(reader)->history(0), SegmentError);
  }
}
