// The source registry: one source per name shared by every consumer, the options it opens with,
// liveness kept fresh, writers restarted under the same name followed (a new generation), gone
// sources dropped on request, read errors recorded instead of thrown.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/ipc/source_registry.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;

namespace {

LinkVisual box() {
  LinkVisual v{};
  v.shape = static_cast<std::uint32_t>(Shape::kBox);
  v.dims[0] = v.dims[1] = v.dims[2] = 0.2f;
  v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
  v.offset_orientation[3] = 1.0f;
  return v;
}

WriterOptions options_for(const std::string& name, bool telemetry = false) {
  WriterOptions o;
  o.name = name;
  o.capacities = {8, 2, 2, 4, 4};
  if (telemetry) o.telemetry = TelemetryCapacities{16, 4, 2, 2};
  return o;
}

void spawn(SegmentWriter& w, int robots) {
  const LinkVisual visuals[2] = {box(), box()};
  const std::uint32_t model = w.add_model("m", visuals);
  for (int r = 0; r < robots; ++r) w.spawn_robot("r" + std::to_string(r), model);
  w.end_frame(0.0, 0, 0);
}

// A writer process that makes the segment with `robots` robots and dies without closing it.
void crashed_writer(const std::string& name, int robots) {
  const pid_t child = ::fork();
  if (child == 0) {
    SegmentWriter w(options_for(name));
    spawn(w, robots);
    std::_Exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

void wait_past_state_interval() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }

}  // namespace

TEST(SourceRegistry, OneSourcePerNameSharedByEveryConsumer) {
  const std::string name = fleetscope::testing::unique_name("registry.one");
  SegmentWriter writer(options_for(name, true));
  spawn(writer, 3);
  writer.telemetry().scalar(writer.telemetry().tag("loss"), 1, 0.5);
  SourceRegistry registry;
  Source& first = registry.attach(name);
  Source& again = registry.attach(name);
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(registry.sources().size(), 1u);
  EXPECT_EQ(first.kind(), "segment");
  EXPECT_EQ(first.layout().robots.size(), 3u);  // read at attach
  EXPECT_TRUE(first.has_poses());
  ASSERT_TRUE(first.has_telemetry());
  EXPECT_EQ(first.tags_from(0), std::vector<std::string>{"loss"});
  ScalarCursor cursor;
  std::vector<ScalarSample> samples;
  first.read_scalars(cursor, samples, 100);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].value, 0.5);
  const auto revision = registry.revision();
  registry.detach(name);
  EXPECT_EQ(registry.find(name), nullptr);
  EXPECT_GT(registry.revision(), revision);
}

TEST(SourceRegistry, AttachFailsAtOnceForAMissingOrUnreadableSegment) {
  SourceRegistry registry;
  EXPECT_THROW(registry.attach(fleetscope::testing::unique_name("registry.missing")), SegmentError);
  EXPECT_TRUE(registry.sources().empty());
}

TEST(SourceRegistry, FollowsAWriterRestartedUnderTheSameName) {
  const std::string name = fleetscope::testing::unique_name("registry.restart");
  crashed_writer(name, 1);
  SourceRegistry registry;
  Source& source = registry.attach(name);
  EXPECT_EQ(source.layout().robots.size(), 1u);
  const auto generation = source.generation();
  wait_past_state_interval();
  registry.refresh();
  EXPECT_EQ(source.state(), WriterState::kDead);
  SegmentWriter restarted(options_for(name));  // replaces the dead writer's segment
  spawn(restarted, 2);
  const auto revision = registry.revision();
  std::this_thread::sleep_for(std::chrono::milliseconds(550));  // restart checks are throttled
  const RegistryChanges changes = registry.refresh();
  EXPECT_TRUE(changes.sources_changed);
  EXPECT_EQ(registry.find(name), &source) << "the same source object, with a new generation";
  EXPECT_NE(source.generation(), generation);
  EXPECT_GT(registry.revision(), revision);
  EXPECT_EQ(source.state(), WriterState::kLive);
  EXPECT_EQ(source.writer_pid(), ::getpid());
  EXPECT_EQ(source.layout().robots.size(), 2u);
}

TEST(SourceRegistry, DropsSourcesOfGoneWritersWhenAsked) {
  const std::string name = fleetscope::testing::unique_name("registry.drop");
  crashed_writer(name, 1);
  SourceRegistry registry;
  registry.attach(name);
  wait_past_state_interval();
  registry.refresh();
  EXPECT_EQ(registry.sources().size(), 1u) << "kept (greyed) by default";
  registry.set_drop_dead(true);
  wait_past_state_interval();
  EXPECT_TRUE(registry.refresh().sources_changed);
  EXPECT_TRUE(registry.sources().empty());
  SharedMemoryMapping::remove(name);
}

TEST(SourceRegistry, ReadErrorsAreRecordedNotThrown) {
  const std::string name = fleetscope::testing::unique_name("registry.truncated");
  SegmentWriter writer(options_for(name));
  spawn(writer, 1);
  const auto size = writer.layout().total_size;
  SourceRegistry registry;
  Source& source = registry.attach(name);
  ASSERT_EQ(::truncate(("/dev/shm/fleetscope." + name).c_str(), 0), 0);
  std::this_thread::sleep_for(std::chrono::nanoseconds(ReaderState::kMappingCheckNs + 5'000'000));
  EXPECT_NO_THROW(source.ingest());
  EXPECT_NE(source.error().find("truncated"), std::string::npos) << source.error();
  ASSERT_EQ(::truncate(("/dev/shm/fleetscope." + name).c_str(), static_cast<off_t>(size)), 0);
}

TEST(SourceRegistry, OpensOtherUsersSegmentsOnlyWhenAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a segment to another uid";
  const std::string name = fleetscope::testing::unique_name("registry.theirs");
  {
    SegmentWriter writer(options_for(name));
    spawn(writer, 1);
    writer.close(false);
  }
  ASSERT_EQ(::chown(("/dev/shm/fleetscope." + name).c_str(), 54321, 54321), 0);
  SourceRegistry registry;
  EXPECT_THROW(registry.attach(name), SegmentError);
  registry.set_allow_other_users(true);
  EXPECT_NO_THROW(registry.attach(name));
  SharedMemoryMapping::remove(name);
}
