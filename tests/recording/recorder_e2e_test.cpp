// fleetscope-shm record and recover against real writer processes (fleetscope-test-writer):
// what is recorded reads back equal to what was published; SIGINT finalises the file; after
// SIGKILL the complete chunks stay readable and recover rebuilds the summary; bad input is
// refused with a clear message and a non-zero exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "e2e/stress_pattern.hpp"
#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/messages.hpp"
#include "support/child_process.hpp"

namespace fs = std::filesystem;
using namespace fleetscope::recording;
using fleetscope::testing::ChildProcess;
namespace ipc = fleetscope::ipc;

namespace {

std::string unique(const std::string& base) { return base + std::to_string(::getpid()); }

fs::path temp_file(const std::string& name) { return fs::temp_directory_path() / unique("fleetscope-rec-" + name + "-"); }

struct CommandResult {
  int status = -1;
  std::string out;
};

// Runs a command (through the shell, stderr folded into stdout) and returns its exit status.
CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) r.out += buf;
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string shm() { return FLEETSCOPE_SHM; }

// The state of every robot replayed from the recording: keyframes and dirty links.
struct Replay {
  std::map<std::string, LayoutMessage> layouts;  // by segment
  std::map<std::uint32_t, std::vector<ipc::PoseRecord>> poses;  // by slot (one segment)
  std::uint64_t pose_messages = 0, keyframes = 0, keyframes_matching = 0, poses_checked = 0, pattern_failures = 0;
  std::uint64_t scalars = 0;
};

bool same(const ipc::PoseRecord& a, const ipc::PoseRecord& b) {
  for (int i = 0; i < 3; ++i) {
    if (a.position[i] != b.position[i]) return false;
  }
  for (int i = 0; i < 4; ++i) {
    if (a.orientation[i] != b.orientation[i]) return false;
  }
  return true;
}

// The stress pattern's frame number of a recorded pose: bit for bit (exact recordings), or
// within the quantised encoding's error bound (FORMAT.md "Quantised poses"); -1 if neither.
long long stress_frame(const ipc::PoseRecord& p, std::uint32_t link, bool exact) {
  if (exact) return fleetscope::testing::decode_stress_pose(p, link);
  const double k = std::nearbyint(p.position[0]);
  if (k < 0 || std::fabs(k - p.position[0]) > position_error_bound({}, k)) return -1;
  double want[7];
  fleetscope::testing::stress_pose(static_cast<std::uint64_t>(k), link, want);
  for (int i = 0; i < 3; ++i) {
    const float w = static_cast<float>(want[i]);
    if (std::fabs(double(p.position[i]) - w) > position_error_bound({}, w)) return -1;
  }
  const float q[4] = {static_cast<float>(want[3]), static_cast<float>(want[4]), static_cast<float>(want[5]),
                      static_cast<float>(want[6])};
  if (rotation_between(p.orientation, q) > orientation_error_bound({})) return -1;
  return static_cast<long long>(k);
}

Replay replay(McapReader& reader, const std::string& segment, bool exact) {
  Replay out;
  PoseDecoder decoder(check_recording_version(reader));
  const auto* layout_ch = reader.channel_by_topic(segment + "/layout");
  const auto* poses_ch = reader.channel_by_topic(segment + "/poses");
  const auto* key_ch = reader.channel_by_topic(segment + "/keyframe");
  const auto* scalars_ch = reader.channel_by_topic(segment + "/scalars");
  EXPECT_TRUE(layout_ch && poses_ch && key_ch);
  if (!layout_ch || !poses_ch || !key_ch) return out;
  reader.for_each_message([&](const McapMessage& m) {
    if (m.channel_id == layout_ch->id) {
      out.layouts[segment] = decode_layout(m.data);
      decoder.reset();  // the pose stream's prediction restarts at every layout
      return true;
    }
    if (scalars_ch && m.channel_id == scalars_ch->id) {
      for (const auto& s : decode_scalars(m.data).samples) {
        EXPECT_EQ(s.value, 0.5 * static_cast<double>(s.step));
        ++out.scalars;
      }
      return true;
    }
    if (m.channel_id != poses_ch->id && m.channel_id != key_ch->id) return true;
    const bool key = m.channel_id == key_ch->id;
    const auto f = decoder.decode(m.data);
    const auto& layout = out.layouts[segment];
    bool all_match = true;
    for (const auto& r : f.robots) {
      const ipc::RobotSnapshot* robot = nullptr;
      for (const auto& x : layout.robots) {
        if (x.slot == r.slot) robot = &x;
      }
      EXPECT_NE(robot, nullptr) << "pose of a slot not in the layout";
      if (!robot) continue;
      auto& state = out.poses[r.slot];
      state.resize(robot->link_count);
      if (key) {
        EXPECT_EQ(r.links.size(), robot->link_count);
      }
      for (std::size_t i = 0; i < r.links.size(); ++i) {
        EXPECT_LT(r.links[i], robot->link_count);
        if (r.links[i] >= robot->link_count) continue;
        if (robot->name != "world") {
          const long long k = stress_frame(r.poses[i], r.links[i], exact);
          ++out.poses_checked;
          // The test writer publishes its frame k as simulation time k; robot blocks are written
          // before the frame record moves, so a pose may be one frame newer than its message.
          if (k < 0 || (std::isfinite(f.sim_time) && (k < f.sim_time || k > f.sim_time + 1))) ++out.pattern_failures;
        }
        if (key && out.keyframes > 0 && !same(state[r.links[i]], r.poses[i])) all_match = false;
        state[r.links[i]] = r.poses[i];
      }
    }
    if (key) {
      if (out.keyframes > 0 && all_match) ++out.keyframes_matching;
      ++out.keyframes;
    } else {
      ++out.pose_messages;
    }
    return true;
  });
  return out;
}

}  // namespace

TEST(Recorder, RecordsARealWriterAndReadsItBackEqual) {
  const std::string name = unique("recA");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "4", "5", "geometry"});
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto file = temp_file("a.mcap");
  const CommandResult rec = run(shm() + " record " + name + " -o " + file.string() + " --seconds 2.5 --keyframe-interval 0.5");
  ASSERT_EQ(rec.status, 0) << rec.out;
  EXPECT_NE(rec.out.find("frames lost in all"), std::string::npos) << rec.out;
  EXPECT_NE(rec.out.find(name + ": "), std::string::npos) << rec.out;

  auto reader = McapReader::open(file);
  EXPECT_TRUE(reader.has_summary());
  EXPECT_TRUE(reader.warnings().empty());
  EXPECT_NO_THROW(check_recording_version(reader));
  EXPECT_EQ(reader.header().profile, "fleetscope");
  const Replay r = replay(reader, name, false);  // quantised poses (the default)
  ASSERT_EQ(r.layouts.count(name), 1u);
  const auto& layout = r.layouts.at(name);
  EXPECT_EQ(layout.robots.size(), 5u);  // r0..r3 and the static "world"
  EXPECT_TRUE(layout.has_poses && layout.has_telemetry);
  EXPECT_GT(r.pose_messages, 50u);  // ~100 Hz for 2.5 s, on a loaded machine
  EXPECT_GE(r.keyframes, 3u);
  EXPECT_GT(r.poses_checked, 1000u);
  EXPECT_EQ(r.pattern_failures, 0u);
  // Replaying the dirty links reproduces every keyframe exactly (quantised: bit for bit the same
  // decoded values, whether reached from the start or from the keyframe).
  EXPECT_EQ(r.keyframes_matching, r.keyframes - 1);
  EXPECT_EQ(r.scalars, 64u);  // the ring held 64 of the writer's 80 records when we attached
  // The end metadata counts the frames written and lost.
  const auto& end = reader.metadata().at(kEndMetadataName);
  EXPECT_EQ(std::stoull(end.at(name + ".frames")), r.pose_messages);
  // The two stored meshes, once each, before the layout that uses them.
  EXPECT_EQ(end.at(name + ".meshes"), "2");
  const auto* meshes = reader.channel_by_topic(name + "/meshes");
  ASSERT_NE(meshes, nullptr);
  const auto mesh_refs = reader.message_index(meshes->id);
  ASSERT_EQ(mesh_refs.size(), 2u);
  EXPECT_EQ(decode_mesh_message(reader.read(mesh_refs[1]).data).mesh.triangle_count(), 22u);
  EXPECT_EQ(reader.statistics().channel_message_counts.at(reader.channel_by_topic(name + "/poses")->id), r.pose_messages);
  // The seek path: the message index of the keyframe channel, read back by reference.
  const auto keys = reader.message_index(reader.channel_by_topic(name + "/keyframe")->id);
  ASSERT_EQ(keys.size(), r.keyframes);
  const auto last = decode_pose_frame(reader.read(keys.back()).data);
  EXPECT_EQ(last.robots.size(), 5u);
  fs::remove(file);
}

class FinalPoses : public ::testing::TestWithParam<bool> {};

TEST_P(FinalPoses, EqualTheSegment) {
  // A writer that published 3 frames and stays: the recording's last keyframe equals `dump`,
  // bit for bit with --exact, within the error bound of FORMAT.md "Quantised poses" without.
  const bool exact = GetParam();
  const std::string name = unique(exact ? "recBx" : "recB");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "paused", "3", "4"});
  ASSERT_TRUE(writer.wait_for("ready"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto file = temp_file(exact ? "bx.mcap" : "b.mcap");
  const CommandResult rec =
      run(shm() + " record " + name + " -o " + file.string() + " --seconds 0.6" + (exact ? " --exact" : ""));
  ASSERT_EQ(rec.status, 0) << rec.out;
  const CommandResult dump = run(shm() + " dump " + name);
  ASSERT_EQ(dump.status, 0) << dump.out;
  auto reader = McapReader::open(file);
  const Replay r = replay(reader, name, exact);
  const auto& layout = r.layouts.at(name);
  std::istringstream lines(dump.out);
  std::string line;
  std::size_t compared = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string robot;
    std::size_t link;
    float v[7];
    in >> robot >> link >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6];
    std::uint32_t slot = UINT32_MAX;
    for (const auto& x : layout.robots) {
      if (x.name == robot) slot = x.slot;
    }
    ASSERT_NE(slot, UINT32_MAX) << robot;
    const auto& p = r.poses.at(slot).at(link);
    const float got[7] = {p.position[0], p.position[1], p.position[2], p.orientation[0],
                          p.orientation[1], p.orientation[2], p.orientation[3]};
    for (int i = 0; i < 7; ++i) {
      if (exact) {
        EXPECT_EQ(got[i], v[i]) << robot << " link " << link << " field " << i;
      } else if (i < 3) {
        // dump prints %.6g-ish text: allow its rounding on top of the bound.
        EXPECT_LE(std::fabs(double(got[i]) - v[i]), position_error_bound({}, v[i]) + 1e-5 * std::fabs(v[i]))
            << robot << " link " << link << " field " << i;
      }
    }
    if (!exact) {
      EXPECT_LE(rotation_between(got + 3, v + 3), orientation_error_bound({}) + 1e-5) << robot << " link " << link;
    }
    ++compared;
  }
  EXPECT_EQ(compared, 12u);
  fs::remove(file);
}

INSTANTIATE_TEST_SUITE_P(Recorder, FinalPoses, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Exact" : "Quantised"; });

TEST(Recorder, SigintAndSigtermFinaliseTheFile) {
  const std::string name = unique("recC");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "2", "3"});
  ASSERT_TRUE(writer.wait_for("ready"));
  for (const int sig : {SIGINT, SIGTERM}) {
    const auto file = temp_file("c" + std::to_string(sig) + ".mcap");
    ChildProcess recorder({FLEETSCOPE_SHM, "record", name, "-o", file.string()});
    ASSERT_TRUE(recorder.wait_for("recording"));
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    recorder.signal(sig);
    const auto status = recorder.wait_for_exit(std::chrono::seconds(10));
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "signal " << sig;
    EXPECT_TRUE(recorder.wait_for("frames lost in all", std::chrono::seconds(2)));
    auto reader = McapReader::open(file);
    EXPECT_TRUE(reader.has_summary()) << "signal " << sig;
    EXPECT_TRUE(reader.warnings().empty());
    EXPECT_GT(reader.statistics().message_count, 10u);
    fs::remove(file);
  }
}

TEST(Recorder, AfterSigkillCompleteChunksStayAndRecoverRebuildsTheSummary) {
  const std::string name = unique("recD");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "3", "4"});
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto file = temp_file("d.mcap");
  ChildProcess recorder({FLEETSCOPE_SHM, "record", name, "-o", file.string()});
  ASSERT_TRUE(recorder.wait_for("recording"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));  // chunks are written every second
  recorder.signal(SIGKILL);
  recorder.wait();
  auto cut = McapReader::open(file);
  EXPECT_FALSE(cut.has_summary());
  ASSERT_FALSE(cut.warnings().empty());
  EXPECT_NE(cut.warnings().back().find("last good chunk"), std::string::npos) << cut.warnings().back();
  EXPECT_GE(cut.chunk_indexes().size(), 1u);
  EXPECT_NO_THROW(check_recording_version(cut));
  const Replay r = replay(cut, name, false);
  EXPECT_GT(r.pose_messages, 20u);
  EXPECT_EQ(r.pattern_failures, 0u);

  const auto fixed = temp_file("d-fixed.mcap");
  const CommandResult rec = run(shm() + " recover " + file.string() + " -o " + fixed.string());
  ASSERT_EQ(rec.status, 0) << rec.out;
  EXPECT_NE(rec.out.find("last good chunk"), std::string::npos) << rec.out;
  auto good = McapReader::open(fixed);
  EXPECT_TRUE(good.has_summary());
  EXPECT_TRUE(good.warnings().empty());
  EXPECT_EQ(good.statistics().message_count, cut.statistics().message_count);
  EXPECT_EQ(good.channels().size(), cut.channels().size());
  const Replay r2 = replay(good, name, false);
  EXPECT_EQ(r2.pose_messages, r.pose_messages);
  fs::remove(file);
  fs::remove(fixed);
}

TEST(Recorder, BadInputIsRefusedClearly) {
  const auto file = temp_file("e.mcap");
  CommandResult r = run(shm() + " record no_such_segment_xyz -o " + file.string() + " --seconds 1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("no_such_segment_xyz"), std::string::npos) << r.out;
  r = run(shm() + " record somename");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("-o"), std::string::npos) << r.out;
  r = run(shm() + " record -o " + file.string());
  EXPECT_EQ(r.status, 2) << r.out;
  const std::string name = unique("recE");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "paused", "1", "2"});
  ASSERT_TRUE(writer.wait_for("ready"));
  r = run(shm() + " record " + name + " -o /nonexistent-dir/x.mcap --seconds 1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot create /nonexistent-dir/x.mcap"), std::string::npos) << r.out;
  {
    std::ofstream junk(file, std::ios::binary);
    junk << "this is not an mcap file at all, just text";
  }
  r = run(shm() + " recover " + file.string() + " -o " + file.string() + ".out");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("not an MCAP file"), std::string::npos) << r.out;
  r = run(shm() + " recover " + file.string());
  EXPECT_EQ(r.status, 2) << r.out;
  fs::remove(file);
  fs::remove(file.string() + ".out");
}

TEST(RecordingVersion, NewerFormatIsRefusedNamingBothVersions) {
  const auto file = temp_file("v.mcap");
  {
    McapWriterOptions o;
    o.profile = kProfile;
    McapWriter w(file, o);
    w.add_metadata(kMetadataName, {{"version", "3.0"}});
    w.finish();
  }
  auto reader = McapReader::open(file);
  try {
    check_recording_version(reader);
    FAIL() << "a newer recording format was accepted";
  } catch (const McapError& e) {
    EXPECT_NE(std::string(e.what()).find("format 3.0 cannot be read: this fleetscope reads format 2.0"), std::string::npos)
        << e.what();
  }
  {
    McapWriter w(file, {});
    w.finish();
  }
  auto plain = McapReader::open(file);
  EXPECT_THROW(check_recording_version(plain), McapError);
  fs::remove(file);
}

TEST(Recorder, AllRecordsSegmentsThatAppearAndWritersRestarted) {
  const std::string name = unique("recF");
  const auto file = temp_file("f.mcap");
  ChildProcess recorder({FLEETSCOPE_SHM, "record", "--all", "-o", file.string()});
  ASSERT_TRUE(recorder.wait_for("recording"));
  {
    ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "2", "3"});
    ASSERT_TRUE(writer.wait_for("ready"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1800));  // found within a second
  }  // SIGTERM: the writer closes and removes its segment
  {
    ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "3", "3"});
    ASSERT_TRUE(writer.wait_for("ready"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    recorder.signal(SIGINT);
    ASSERT_TRUE(recorder.wait_for_exit(std::chrono::seconds(10)));
  }
  auto reader = McapReader::open(file);
  ASSERT_TRUE(reader.has_summary());
  const auto* layout = reader.channel_by_topic(name + "/layout");
  ASSERT_NE(layout, nullptr);
  std::vector<LayoutMessage> layouts;
  for (const auto& ref : reader.message_index(layout->id)) layouts.push_back(decode_layout(reader.read(ref).data));
  ASSERT_GE(layouts.size(), 2u);
  EXPECT_EQ(layouts.front().generation, 0u);
  EXPECT_EQ(layouts.front().robots.size(), 2u);
  EXPECT_EQ(layouts.back().generation, 1u);
  EXPECT_EQ(layouts.back().robots.size(), 3u);
  EXPECT_NE(layouts.front().writer_pid, layouts.back().writer_pid);
  EXPECT_EQ(reader.metadata().at(kEndMetadataName).at(name + ".restarts"), "1");
  // Poses of the second writer refer to its layout.
  const auto* poses = reader.channel_by_topic(name + "/poses");
  ASSERT_NE(poses, nullptr);
  const auto refs = reader.message_index(poses->id);
  ASSERT_FALSE(refs.empty());
  // (Quantised poses are decoded in order from a layout on.)
  const auto* keyframe = reader.channel_by_topic(name + "/keyframe");
  ASSERT_NE(keyframe, nullptr);
  PoseDecoder decoder;
  std::uint64_t last_generation = UINT64_MAX;
  reader.for_each_message([&](const McapMessage& m) {
    if (m.channel_id == layout->id) decoder.reset();
    if (m.channel_id == keyframe->id) decoder.decode(m.data);
    if (m.channel_id == poses->id) last_generation = decoder.decode(m.data).generation;
    return true;
  });
  EXPECT_EQ(last_generation, 1u);
  fs::remove(file);
}

TEST(Recorder, ARecorderThatFallsBehindCountsTheFramesItLost) {
  // A writer publishing as fast as it can: the recorder (a poll every 2 ms) sees only some frames.
  // Every changed link still reaches the recording (the dirty-link rule), the frames it never saw
  // are counted in each message, in the end metadata and on stdout, and none is torn.
  const std::string name = unique("recG");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "stress", "2", "3"});
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto file = temp_file("g.mcap");
  const CommandResult rec = run(shm() + " record " + name + " -o " + file.string() + " --seconds 1");
  ASSERT_EQ(rec.status, 0) << rec.out;
  auto reader = McapReader::open(file);
  const auto* poses = reader.channel_by_topic(name + "/poses");
  ASSERT_NE(poses, nullptr);
  std::uint64_t previous = 0, lost = 0, messages = 0, torn = 0;
  PoseDecoder decoder;  // one layout (no reset) and the keyframes, merged in log-time order
  const auto keys = reader.message_index(reader.channel_by_topic(name + "/keyframe")->id);
  std::size_t next_key = 0;
  for (const auto& ref : reader.message_index(poses->id)) {
    for (; next_key < keys.size() && keys[next_key].log_time < ref.log_time; ++next_key) decoder.decode(reader.read(keys[next_key]).data);
    const auto f = decoder.decode(reader.read(ref).data);
    if (previous != 0 && f.frame > previous + 1) lost += f.frame - previous - 1;
    EXPECT_GT(f.frame, previous);
    EXPECT_EQ(f.frames_lost, lost);
    for (const auto& r : f.robots) {
      for (std::size_t i = 0; i < r.links.size(); ++i) torn += stress_frame(r.poses[i], r.links[i], false) < 0;
    }
    previous = f.frame;
    ++messages;
  }
  EXPECT_GT(messages, 20u);
  EXPECT_GT(lost, 0u) << "the writer publishes far faster than the recorder polls";
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(reader.metadata().at(kEndMetadataName).at(name + ".frames_lost"), std::to_string(lost));
  EXPECT_NE(rec.out.find(std::to_string(lost) + " frames lost in all"), std::string::npos) << rec.out;
  fs::remove(file);
}
