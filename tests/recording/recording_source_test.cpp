// RecordingSource: a recorded segment read back through the Source interface. Seeking to any time
// gives the state a replay of every message from the start gives at that time; playing forward
// reports the links that changed; telemetry is what was recorded up to the position.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/recording/recording_source.hpp"
#include "support/child_process.hpp"

namespace fs = std::filesystem;
using namespace fleetscope::recording;
using fleetscope::testing::ChildProcess;
namespace ipc = fleetscope::ipc;

namespace {

int run_status(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

using State = std::map<std::uint32_t, std::vector<ipc::PoseRecord>>;

// The state at each of `times` (ascending), by replaying every layout, keyframe and dirty-link
// message from the start of the file in order: the reference a seek must agree with, bit for bit
// (the recording's poses are quantised: a seek decodes the keyframe and the deltas after it, this
// every message from the start). (The first keyframe of a layout carries the poses read when the
// recorder attached.)
std::vector<State> brute_force(McapReader& reader, const std::string& segment, const std::vector<std::uint64_t>& times) {
  const auto layout_id = reader.channel_by_topic(segment + "/layout")->id;
  const auto poses_id = reader.channel_by_topic(segment + "/poses")->id;
  const auto keyframe_id = reader.channel_by_topic(segment + "/keyframe")->id;
  std::vector<State> out;
  State state;
  PoseDecoder decoder(check_recording_version(reader));
  std::size_t next = 0;
  reader.for_each_message([&](const McapMessage& m) {
    while (next < times.size() && m.log_time > times[next]) {
      out.push_back(state);
      ++next;
    }
    if (m.channel_id == layout_id) {
      const auto l = decode_layout(m.data);
      decoder.reset();
      State fresh;
      ipc::PoseRecord identity{};
      identity.orientation[3] = 1.0f;
      for (const auto& r : l.robots) {
        auto it = state.find(r.slot);
        fresh[r.slot] = it != state.end() && it->second.size() == r.link_count ? it->second
                                                                                : std::vector<ipc::PoseRecord>(r.link_count, identity);
      }
      state = std::move(fresh);
    } else if (m.channel_id == poses_id || m.channel_id == keyframe_id) {
      for (const auto& r : decoder.decode(m.data).robots) {
        auto& poses = state[r.slot];
        for (std::size_t i = 0; i < r.links.size(); ++i) poses.at(r.links[i]) = r.poses[i];
      }
    }
    return true;
  });
  while (next++ < times.size()) out.push_back(state);
  return out;
}

bool same(const ipc::PoseRecord& a, const ipc::PoseRecord& b) {
  return std::equal(a.position, a.position + 3, b.position) && std::equal(a.orientation, a.orientation + 4, b.orientation);
}

void expect_state(const RecordingSource& src, const State& want, const std::string& where) {
  ASSERT_EQ(src.layout().robots.size(), want.size()) << where;
  for (const auto& [slot, poses] : want) {
    const auto got = src.poses(slot);
    ASSERT_EQ(got.size(), poses.size()) << where << " slot " << slot;
    for (std::size_t l = 0; l < poses.size(); ++l) {
      ASSERT_TRUE(same(got[l], poses[l])) << where << " slot " << slot << " link " << l << ": got " << got[l].position[0]
                                          << " " << got[l].position[1] << " " << got[l].position[2] << " "
                                          << got[l].orientation[3] << ", want " << poses[l].position[0] << " "
                                          << poses[l].position[1] << " " << poses[l].position[2] << " "
                                          << poses[l].orientation[3];
    }
  }
}

class RecordingSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    segment_ = "recsrc" + std::to_string(::getpid());
    file_ = fs::temp_directory_path() / ("fleetscope-recsrc-" + std::to_string(::getpid()) + ".mcap");
    ChildProcess writer({FLEETSCOPE_TEST_WRITER, segment_, "steady", "4", "5", "geometry"});
    ASSERT_TRUE(writer.wait_for("ready"));
    ASSERT_EQ(run_status(std::string(FLEETSCOPE_SHM) + " record " + segment_ + " -o " + file_.string() +
                         " --seconds 3 --keyframe-interval 0.5"),
              0);
  }
  static void TearDownTestSuite() { fs::remove(file_); }
  static std::string segment_;
  static fs::path file_;
};
std::string RecordingSourceTest::segment_;
fs::path RecordingSourceTest::file_;

}  // namespace

TEST_F(RecordingSourceTest, SeekingAnywhereGivesTheReplayedState) {
  auto recording = Recording::open(file_);
  ASSERT_EQ(recording->segments(), std::vector<std::string>{segment_});
  RecordingSource src(recording, segment_);
  EXPECT_EQ(src.kind(), "recording");
  EXPECT_EQ(src.name(), segment_);
  EXPECT_TRUE(src.has_poses());
  EXPECT_TRUE(src.has_telemetry());
  EXPECT_GE(src.keyframe_times().size(), 4u);
  std::mt19937_64 rng(11);
  std::vector<std::uint64_t> times;
  for (int i = 0; i < 40; ++i) times.push_back(src.start_time() + rng() % (src.end_time() - src.start_time() + 1));
  for (auto k : src.keyframe_times()) times.push_back(k);  // exactly on keyframes too
  times.push_back(src.end_time());
  std::sort(times.begin(), times.end());
  const auto want = brute_force(recording->reader(), segment_, times);
  std::vector<double> seek_ms;
  // Random order: backwards and forwards.
  std::vector<std::size_t> order(times.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (const auto i : order) {
    const auto t0 = std::chrono::steady_clock::now();
    src.seek(times[i]);
    seek_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_TRUE(src.error().empty()) << src.error();
    EXPECT_EQ(src.position(), times[i]);
    expect_state(src, want[i], "seek " + std::to_string(i));
    // After a seek every link counts as changed.
    const auto stats = src.ingest();
    EXPECT_TRUE(stats.layout_changed);
    EXPECT_EQ(src.changes().size(), 4u * 5u + 3u);  // 4 robots x 5 links and the 3-link "world"
    src.ingest();
    EXPECT_TRUE(src.changes().empty());
  }
  std::sort(seek_ms.begin(), seek_ms.end());
  std::printf("seek over %zu points: p50 %.2f ms, max %.2f ms\n", seek_ms.size(), seek_ms[seek_ms.size() / 2], seek_ms.back());
}

TEST_F(RecordingSourceTest, PlayingForwardReportsWhatChanged) {
  auto recording = Recording::open(file_);
  RecordingSource src(recording, segment_);
  std::vector<std::uint64_t> times;
  for (std::uint64_t t = src.start_time(); t <= src.end_time(); t += 37'000'000ULL) times.push_back(t);
  const auto want = brute_force(recording->reader(), segment_, times);
  src.seek(times.front());
  src.ingest();
  std::uint64_t last_frame = src.frame().frame;
  std::size_t moving_steps = 0;
  for (std::size_t i = 1; i < times.size(); ++i) {
    src.advance_to(times[i]);
    if (times[i] < src.end_time()) {
      EXPECT_EQ(src.state(), ipc::WriterState::kLive);
    }
    const auto stats = src.ingest();
    expect_state(src, want[i], "step " + std::to_string(i));
    if (src.frame().frame != last_frame) {
      ++moving_steps;
      // The test writer moves every link of its 4 robots each frame; the static world does not.
      EXPECT_EQ(stats.links_changed, 20u) << "step " << i;
      EXPECT_FALSE(stats.layout_changed);
      EXPECT_GT(src.frame().frame, last_frame);
      last_frame = src.frame().frame;
    }
  }
  EXPECT_GT(moving_steps, times.size() / 2);
  // Backwards: a seek, and the generation changes so that consumers start again.
  const auto generation = src.generation();
  src.advance_to(times[1]);
  EXPECT_NE(src.generation(), generation);
  expect_state(src, want[1], "back");
}

TEST_F(RecordingSourceTest, TelemetryUpToThePosition) {
  auto recording = Recording::open(file_);
  RecordingSource src(recording, segment_);
  src.seek(src.end_time());
  EXPECT_EQ(src.tag_count(), 1u);
  EXPECT_EQ(src.tags_from(0), std::vector<std::string>{"test/value"});
  ipc::ScalarCursor cursor;
  std::vector<ipc::ScalarSample> samples;
  EXPECT_EQ(src.read_scalars(cursor, samples), 0u);
  ASSERT_EQ(samples.size(), 64u);
  for (const auto& s : samples) EXPECT_EQ(s.value, 0.5 * static_cast<double>(s.step));
  samples.clear();
  src.read_scalars(cursor, samples);
  EXPECT_TRUE(samples.empty());
  ASSERT_EQ(src.workers().size(), 1u);
  EXPECT_EQ(src.workers()[0].host, "test");
  ASSERT_EQ(src.jobs().size(), 1u);
  EXPECT_EQ(src.jobs()[0].object_code, "test_object");
  // The writer's two stored meshes: a tetrahedron and a strip with normals (test_writer.cpp).
  const auto tetrahedron = src.mesh(0);
  EXPECT_EQ(tetrahedron->vertex_count(), 4u);
  EXPECT_EQ(tetrahedron->triangle_count(), 4u);
  EXPECT_EQ(tetrahedron->vertices[3], 0.2f);
  const auto strip = src.mesh(1);
  EXPECT_EQ(strip->vertex_count(), 24u);
  EXPECT_EQ(strip->triangle_count(), 22u);
  EXPECT_EQ(strip->normals.size(), 72u);
  EXPECT_EQ(src.mesh(1).get(), strip.get());  // the same object every time
  EXPECT_THROW(src.mesh(99), ipc::SegmentError);
  EXPECT_EQ(src.state(), ipc::WriterState::kPaused);  // after a seek; live while playing forward
  // Attributes recorded with the keyframes: r0's colour (255, 160, 0) and scalar 2.5.
  bool found = false;
  for (const auto& r : src.layout().robots) {
    if (r.name == "r0") {
      EXPECT_EQ(src.attributes(r.slot).scalar_bits != 0, true);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RecordingSourceTest, BadFilesAndSegmentsAreRefused) {
  auto recording = Recording::open(file_);
  EXPECT_THROW(RecordingSource(recording, "no-such-segment"), McapError);
  const auto junk = fs::temp_directory_path() / ("fleetscope-recsrc-junk-" + std::to_string(::getpid()));
  {
    McapWriter w(junk, {});
    w.finish();
  }
  try {
    Recording::open(junk);
    FAIL();
  } catch (const McapError& e) {
    EXPECT_NE(std::string(e.what()).find("not a fleetscope recording"), std::string::npos) << e.what();
  }
  fs::remove(junk);
}

TEST(RecordingSourceTelemetryOnly, ATrainersScalarsAndWorkersReplay) {
  // A telemetry-only segment (a trainer's SummaryWriter is one) written from this process while
  // fleetscope-shm record runs: the replay has no poses, and every scalar, tag and worker row.
  const std::string name = "rectel" + std::to_string(::getpid());
  ipc::WriterOptions options;
  options.name = name;
  options.telemetry = ipc::TelemetryCapacities{1024, 8, 4, 4};
  options.telemetry_only = true;
  ipc::SegmentWriter writer(options);
  auto& t = writer.telemetry();
  std::int64_t step = 0;
  for (; step < 100; ++step) t.scalar("train/loss", step, 1.0 / static_cast<double>(step + 1));
  const auto file = fs::temp_directory_path() / ("fleetscope-rectel-" + std::to_string(::getpid()) + ".mcap");
  ChildProcess recorder({FLEETSCOPE_SHM, "record", name, "-o", file.string(), "--seconds", "1.2"});
  ASSERT_TRUE(recorder.wait_for("recording"));
  for (int i = 0; i < 40; ++i, ++step) {
    t.scalar("train/loss", step, 1.0 / static_cast<double>(step + 1));
    t.scalar("rollout/return", step, 2.0 * static_cast<double>(step));
    t.worker({7, ::getpid(), "gpu3", ipc::WorkerState::kRunning, 16, static_cast<std::uint64_t>(step), 50.0, 0.01, 0.002, 0});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto status = recorder.wait_for_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  auto recording = Recording::open(file);
  RecordingSource src(recording, name);
  EXPECT_FALSE(src.has_poses());
  EXPECT_TRUE(src.has_telemetry());
  EXPECT_TRUE(src.layout().robots.empty());
  src.seek(src.end_time());
  EXPECT_EQ(src.tags_from(0), (std::vector<std::string>{"train/loss", "rollout/return"}));
  ipc::ScalarCursor cursor;
  std::vector<ipc::ScalarSample> samples;
  src.read_scalars(cursor, samples);
  ASSERT_EQ(samples.size(), 180u);  // 100 before the recorder attached (the ring holds them) + 2 x 40
  for (const auto& s : samples) {
    const double want = s.tag == 0 ? 1.0 / static_cast<double>(s.step + 1) : 2.0 * static_cast<double>(s.step);
    EXPECT_EQ(s.value, want) << "tag " << s.tag << " step " << s.step;
  }
  ASSERT_EQ(src.workers().size(), 1u);
  EXPECT_EQ(src.workers()[0].host, "gpu3");
  EXPECT_EQ(src.workers()[0].worker_id, 7u);
  // Half way through, fewer scalars and an earlier worker row.
  src.seek(src.start_time() + (src.end_time() - src.start_time()) / 2);
  ipc::ScalarCursor half;
  std::vector<ipc::ScalarSample> early;
  src.read_scalars(half, early);
  EXPECT_LT(early.size(), samples.size());
  EXPECT_GE(early.size(), 100u);
  fs::remove(file);
}
