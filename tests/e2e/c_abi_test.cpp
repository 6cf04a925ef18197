// The C ABI as a C caller sees it: status codes, messages, no exceptions, and data that a
// reader gets back exactly.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "fleetscope/fleetscope.h"
#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "support/child_process.hpp"

namespace {

fs_writer* make_writer(const std::string& name) {
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = name.c_str();
  o.max_robots = 4;
  o.max_links = 3;
  fs_writer* w = nullptr;
  EXPECT_EQ(fs_writer_create(&o, &w), FS_OK) << fs_last_error();
  return w;
}

}  // namespace

TEST(CAbi, WritesPosesThatAReaderGetsBack) {
  const std::string name = fleetscope::testing::unique_name("cabi");
  fs_writer* w = make_writer(name);
  ASSERT_NE(w, nullptr);
  fs_link_visual links[2] = {};
  links[0].name = "base";
  links[0].shape = FS_SHAPE_BOX;
  links[0].dims[0] = links[0].dims[1] = links[0].dims[2] = 0.5f;
  links[1].name = "tool";
  links[1].shape = FS_SHAPE_SPHERE;
  links[1].dims[0] = 0.1f;
  uint32_t model = 0, robot = 0;
  ASSERT_EQ(fs_writer_add_model(w, "pair", links, 2, &model), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_spawn_robot(w, "r", model, &robot), FS_OK) << fs_last_error();
  const double poses[14] = {1, 2, 3, 0, 0, 0, 1, 4, 5, 6, 0, 0, 0.70710678, 0.70710678};
  ASSERT_EQ(fs_writer_set_robot_poses_f64(w, robot, poses, 2), FS_OK) << fs_last_error();
  fs_publish_stats stats{};
  ASSERT_EQ(fs_writer_publish(w, 1.5, &stats), FS_OK);
  EXPECT_EQ(stats.frame, 1u);
  EXPECT_EQ(stats.dirty_links, 2u);

  const auto reader = fleetscope::ipc::SegmentReader::open(name);
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  const auto p = ingestor.poses(0);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_FLOAT_EQ(p[1].position[2], 6.0f);
  EXPECT_FLOAT_EQ(p[1].orientation[3], 0.70710678f);
  EXPECT_DOUBLE_EQ(reader.frame().sim_time, 1.5);
  EXPECT_EQ(ingestor.layout().models[0].visuals[1].shape, FS_SHAPE_SPHERE);
  fs_writer_destroy(w);
}

TEST(CAbi, ModelsAndRobotsAnswerHasCountAndLinkCountAlike) {
  const std::string name = fleetscope::testing::unique_name("cabi.verbs");
  fs_writer* w = make_writer(name);
  ASSERT_NE(w, nullptr);
  uint32_t count = 99, links = 99;
  int has = -1;
  ASSERT_EQ(fs_writer_model_count(w, &count), FS_OK);
  EXPECT_EQ(count, 0u);
  ASSERT_EQ(fs_writer_has_model(w, 0, &has), FS_OK);
  EXPECT_EQ(has, 0);

  // Models: add, has, count, link count. There is no removal (the format only appends models).
  fs_link_visual visuals[3] = {};
  for (fs_link_visual& v : visuals) v.shape = FS_SHAPE_BOX;
  uint32_t arm = 99, ball = 99;
  ASSERT_EQ(fs_writer_add_model(w, "arm", visuals, 3, &arm), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_add_model(w, "ball", visuals, 1, &ball), FS_OK) << fs_last_error();
  EXPECT_EQ(arm, 0u);
  EXPECT_EQ(ball, 1u);
  ASSERT_EQ(fs_writer_model_count(w, &count), FS_OK);
  EXPECT_EQ(count, 2u);
  ASSERT_EQ(fs_writer_has_model(w, ball, &has), FS_OK);
  EXPECT_EQ(has, 1);
  ASSERT_EQ(fs_writer_has_model(w, 2, &has), FS_OK);
  EXPECT_EQ(has, 0);
  ASSERT_EQ(fs_writer_model_link_count(w, arm, &links), FS_OK);
  EXPECT_EQ(links, 3u);
  ASSERT_EQ(fs_writer_model_link_count(w, ball, &links), FS_OK);
  EXPECT_EQ(links, 1u);
  EXPECT_EQ(fs_writer_model_link_count(w, 7, &links), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("unknown model"), std::string::npos) << fs_last_error();

  // Robots: spawn, has, remove, count, link count.
  ASSERT_EQ(fs_writer_robot_count(w, &count), FS_OK);
  EXPECT_EQ(count, 0u);
  uint32_t a = 0, b = 0, c = 0;
  ASSERT_EQ(fs_writer_spawn_robot(w, "a", arm, &a), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_spawn_robot(w, "b", ball, &b), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_has_robot(w, a, &has), FS_OK);
  EXPECT_EQ(has, 1);
  ASSERT_EQ(fs_writer_has_robot(w, b + 100, &has), FS_OK);
  EXPECT_EQ(has, 0);
  ASSERT_EQ(fs_writer_robot_count(w, &count), FS_OK);
  EXPECT_EQ(count, 2u);
  ASSERT_EQ(fs_writer_robot_link_count(w, a, &links), FS_OK);
  EXPECT_EQ(links, 3u);
  ASSERT_EQ(fs_writer_robot_link_count(w, b, &links), FS_OK);
  EXPECT_EQ(links, 1u);
  {
    const auto reader = fleetscope::ipc::SegmentReader::open(name);
    const auto layout = reader.read_layout();
    EXPECT_EQ(layout.models.size(), 2u);
    EXPECT_EQ(layout.robots.size(), 2u);
  }

  ASSERT_EQ(fs_writer_remove_robot(w, a), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_has_robot(w, a, &has), FS_OK);
  EXPECT_EQ(has, 0);
  ASSERT_EQ(fs_writer_robot_count(w, &count), FS_OK);
  EXPECT_EQ(count, 1u);
  uint64_t total = 0;
  ASSERT_EQ(fs_writer_total_links(w, &total), FS_OK);
  EXPECT_EQ(total, 1u);
  EXPECT_EQ(fs_writer_remove_robot(w, a), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_robot_link_count(w, a, &links), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("unknown robot"), std::string::npos) << fs_last_error();
  ASSERT_EQ(fs_writer_spawn_robot(w, "c", arm, &c), FS_OK) << fs_last_error();
  EXPECT_NE(c, a) << "a robot id is never reused";
  ASSERT_EQ(fs_writer_has_robot(w, c, &has), FS_OK);
  EXPECT_EQ(has, 1);
  // A successful call clears the last error.
  EXPECT_STREQ(fs_last_error(), "");

  // NULL out-pointers and closed writers are refused like everywhere else.
  EXPECT_EQ(fs_writer_has_model(w, 0, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_model_count(w, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_model_link_count(w, 0, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_has_robot(w, c, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_robot_count(w, nullptr), FS_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(fs_writer_close(w), FS_OK);
  EXPECT_EQ(fs_writer_has_model(w, 0, &has), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_model_count(w, &count), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_has_robot(w, c, &has), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_robot_count(w, &count), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_has_model(nullptr, 0, &has), FS_ERR_INVALID_ARGUMENT);
  fs_writer_destroy(w);
}

// Change detection is the sim_bridge writer's (the segment only carries what it is given): with
// detect_changes a link is published when it moved by more than epsilon since it was last
// published, so a caller may write every link every step, and small moves add up.
TEST(CAbi, ChangeDetectionPublishesMovesBeyondEpsilonAndLetsSmallOnesAccumulate) {
  const std::string name = fleetscope::testing::unique_name("cabi.detect");
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = name.c_str();
  o.max_robots = 2;
  o.max_links = 2;
  o.detect_changes = 1;  // default epsilon 1e-5
  fs_writer* w = nullptr;
  ASSERT_EQ(fs_writer_create(&o, &w), FS_OK) << fs_last_error();
  fs_link_visual links[2] = {};
  uint32_t model = 0, robot = 0;
  ASSERT_EQ(fs_writer_add_model(w, "pair", links, 2, &model), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_spawn_robot(w, "r", model, &robot), FS_OK) << fs_last_error();
  double poses[14] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1};
  fs_publish_stats stats{};
  auto publish = [&] {
    EXPECT_EQ(fs_writer_set_all_poses_f64(w, poses, 2), FS_OK) << fs_last_error();
    EXPECT_EQ(fs_writer_publish(w, 0.0, &stats), FS_OK) << fs_last_error();
  };
  publish();
  EXPECT_EQ(stats.dirty_links, 2u) << "a new robot's first publish carries every link";
  const auto reader = fleetscope::ipc::SegmentReader::open(name);
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();

  publish();  // nothing moved
  EXPECT_EQ(stats.dirty_links, 0u);
  EXPECT_EQ(stats.changed_robots, 0u);
  EXPECT_EQ(ingestor.ingest().links_changed, 0u);
  poses[0] += 4e-6;  // below epsilon
  publish();
  EXPECT_EQ(stats.dirty_links, 0u);
  EXPECT_EQ(ingestor.ingest().links_changed, 0u);
  poses[0] += 8e-6;  // 1.2e-5 from the published value
  publish();
  EXPECT_EQ(stats.dirty_links, 1u);
  EXPECT_EQ(ingestor.ingest().links_changed, 1u);
  EXPECT_FLOAT_EQ(ingestor.poses(0)[0].position[0], 1.2e-5f);
  poses[7 + 1] = 2.0;  // only link 1 moves
  publish();
  EXPECT_EQ(stats.dirty_links, 1u);
  ingestor.ingest();
  ASSERT_EQ(ingestor.changes().size(), 1u);
  EXPECT_EQ(ingestor.changes()[0].link, 1u);
  fs_writer_destroy(w);
}

TEST(CAbi, BadArgumentsReturnCodesAndMessagesNeverThrow) {
  const std::string name = fleetscope::testing::unique_name("cabi.bad");
  EXPECT_EQ(fs_writer_create(nullptr, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_STRNE(fs_last_error(), "");
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = "bad/name";
  fs_writer* w = nullptr;
  EXPECT_EQ(fs_writer_create(&o, &w), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("invalid segment name"), std::string::npos);
  EXPECT_EQ(w, nullptr);

  w = make_writer(name);
  ASSERT_NE(w, nullptr);
  fs_writer* dup = nullptr;
  o.name = name.c_str();
  EXPECT_EQ(fs_writer_create(&o, &dup), FS_ERR_ALREADY_EXISTS);
  uint32_t model = 0, robot = 0;
  fs_link_visual link{};
  link.shape = 42;
  EXPECT_EQ(fs_writer_add_model(w, "m", &link, 1, &model), FS_ERR_INVALID_ARGUMENT);
  link.shape = FS_SHAPE_BOX;
  EXPECT_EQ(fs_writer_spawn_robot(w, "r", 7, &robot), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("unknown model"), std::string::npos) << fs_last_error();
  ASSERT_EQ(fs_writer_add_model(w, "m", &link, 1, &model), FS_OK);
  ASSERT_EQ(fs_writer_spawn_robot(w, "r", model, &robot), FS_OK);
  const double pose[7] = {0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(fs_writer_set_robot_poses_f64(w, robot + 100, pose, 1), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_set_robot_poses_f64(w, robot, pose, 2), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_writer_set_robot_poses_f64(w, robot, nullptr, 1), FS_ERR_INVALID_ARGUMENT);
  const double nan_pose[7] = {0, 0, 0, 0, 0, 0, std::nan("")};
  EXPECT_EQ(fs_writer_set_robot_poses_f64(w, robot, nan_pose, 1), FS_ERR_INVALID_ARGUMENT);
  const double zero_q[7] = {0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(fs_writer_set_robot_poses_f64(w, robot, zero_q, 1), FS_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 4; ++i) fs_writer_spawn_robot(w, "more", model, &robot);
  EXPECT_EQ(fs_writer_spawn_robot(w, "one too many", model, &robot), FS_ERR_CAPACITY);
  EXPECT_EQ(fs_writer_close(w), FS_OK);
  EXPECT_EQ(fs_writer_publish(w, 0.0, nullptr), FS_ERR_INVALID_ARGUMENT);
  fs_writer_destroy(w);
  fs_writer_destroy(nullptr);
  EXPECT_STREQ(fs_status_name(FS_ERR_CAPACITY), "capacity exceeded");
  EXPECT_EQ(fs_abi_version(), (uint32_t{fleetscope::ipc::kAbiMajor} << 16) | fleetscope::ipc::kAbiMinor);
}

TEST(CAbi, TelemetryRecordsAndRowsReachAReader) {
  const std::string name = fleetscope::testing::unique_name("cabi-telemetry");
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = name.c_str();
  o.max_robots = FS_TELEMETRY_ONLY;
  fs_telemetry_options t{};
  t.scalar_capacity = 1000;  // not a power of two
  fs_writer* w = nullptr;
  ASSERT_EQ(fs_writer_create_with_telemetry(&o, &t, &w), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("power of two"), std::string::npos) << fs_last_error();
  t.scalar_capacity = 0;  // default
  ASSERT_EQ(fs_writer_create_with_telemetry(&o, &t, &w), FS_OK) << fs_last_error();

  uint32_t robot = 0;
  EXPECT_EQ(fs_writer_spawn_robot(w, "r", 0, &robot), FS_ERR_CAPACITY) << "telemetry-only";
  ASSERT_EQ(fs_writer_scalar(w, "reward/mean", 10, 1.25), FS_OK) << fs_last_error();
  uint32_t tag = 0;
  ASSERT_EQ(fs_writer_tag(w, "loss", &tag), FS_OK);
  const int64_t steps[3] = {1, 2, 3};
  const double values[3] = {0.5, 0.25, 0.125};
  ASSERT_EQ(fs_writer_scalars(w, tag, steps, values, 3), FS_OK) << fs_last_error();
  EXPECT_EQ(fs_writer_scalar_id(w, 77, 0, 0.0), FS_ERR_INVALID_ARGUMENT);

  fs_worker_status ws{};
  ws.worker_id = 3;
  ws.pid = static_cast<int32_t>(::getpid());
  ws.host = "cpu-a";
  ws.state = FS_WORKER_RUNNING;
  ws.steps = 640;
  ASSERT_EQ(fs_writer_worker(w, &ws), FS_OK) << fs_last_error();
  ws.state = 42;
  EXPECT_EQ(fs_writer_worker(w, &ws), FS_ERR_INVALID_ARGUMENT);
  fs_job_status js{};
  js.object_code = "bowl_007";
  js.target_count = 100;
  js.collected_count = 40;
  js.gpu = 1;
  js.state = FS_JOB_RUNNING;
  ASSERT_EQ(fs_writer_job(w, &js), FS_OK) << fs_last_error();
  js.object_code = nullptr;
  EXPECT_EQ(fs_writer_job(w, &js), FS_ERR_INVALID_ARGUMENT);

  const auto segment = fleetscope::ipc::SegmentReader::open(name);
  const auto reader = fleetscope::ipc::TelemetryReader::of(segment);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->tags_from(0), (std::vector<std::string>{"reward/mean", "loss"}));
  fleetscope::ipc::ScalarCursor cursor;
  std::vector<fleetscope::ipc::ScalarSample> got;
  reader->read_scalars(cursor, got);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_DOUBLE_EQ(got[0].value, 1.25);
  EXPECT_EQ(got[3].step, 3);
  EXPECT_EQ(got[3].tag, tag);
  ASSERT_EQ(reader->workers().size(), 1u);
  EXPECT_EQ(reader->workers()[0].host, "cpu-a");
  EXPECT_EQ(reader->workers()[0].steps, 640u);
  ASSERT_EQ(reader->jobs().size(), 1u);
  EXPECT_EQ(reader->jobs()[0].object_code, "bowl_007");
  fs_writer_destroy(w);

  // A writer made without telemetry says so.
  fs_writer* plain = make_writer(name + "-plain");
  EXPECT_EQ(fs_writer_scalar(plain, "x", 0, 0.0), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("without a telemetry section"), std::string::npos);
  fs_writer_destroy(plain);
}

// libfleetscope.so is loaded into other people's programs (Python, C, Julia...): anything it
// exports beyond the C ABI (a libstdc++ or Boost instantiation, a SimWriter method) can clash
// with their own copies. The linker version script (sim_bridge/src/fleetscope.map) keeps only
// fs_*; this reads the library's dynamic symbol table to check.
TEST(CAbi, LibraryExportsOnlyFsSymbols) {
  fleetscope::testing::ChildProcess nm({FLEETSCOPE_NM, "-D", "--defined-only", FLEETSCOPE_C_LIBRARY});
  std::vector<std::string> exported, foreign;
  while (const auto line = nm.read_line()) {
    // "<address> <type> <name>[@@<version>]"
    std::istringstream fields(*line);
    std::string address, type, name;
    if (!(fields >> address >> type >> name)) continue;
    name = name.substr(0, name.find('@'));
    if (type == "A" && name.rfind("FLEETSCOPE_", 0) == 0) continue;  // the version node itself
    (name.rfind("fs_", 0) == 0 ? exported : foreign).push_back(type + " " + name);
  }
  const int status = nm.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << FLEETSCOPE_NM << " failed on " << FLEETSCOPE_C_LIBRARY;
  std::string listed;
  for (const auto& symbol : foreign) listed += "\n  " + symbol;
  EXPECT_TRUE(foreign.empty()) << foreign.size() << " exported symbols outside the C ABI:" << listed;
  // The table was really read: the ABI itself is there.
  EXPECT_NE(std::find(exported.begin(), exported.end(), "T fs_abi_version"), exported.end());
  EXPECT_NE(std::find(exported.begin(), exported.end(), "T fs_writer_create"), exported.end());
}
