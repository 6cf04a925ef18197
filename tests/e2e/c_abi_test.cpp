// The C ABI as a C caller sees it: status codes, messages, no exceptions, and data that a
// reader gets back exactly.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <bit>
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
  // A record stamped with the caller's wall time (SummaryWriter's walltime) keeps it exactly.
  constexpr std::uint64_t kWall = 1'700'000'000'250'000'000ULL;
  ASSERT_EQ(fs_writer_scalar_id_wall(w, tag, 4, 0.0625, kWall), FS_OK) << fs_last_error();
  EXPECT_EQ(fs_writer_scalar_id_wall(w, 77, 0, 0.0, kWall), FS_ERR_INVALID_ARGUMENT);

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
  ASSERT_EQ(got.size(), 5u);
  EXPECT_DOUBLE_EQ(got[0].value, 1.25);
  EXPECT_EQ(got[3].step, 3);
  EXPECT_EQ(got[3].tag, tag);
  EXPECT_NE(got[3].wall_unix_ns, kWall);  // now
  EXPECT_EQ(got[4].step, 4);
  EXPECT_EQ(got[4].value, 0.0625);
  EXPECT_EQ(got[4].wall_unix_ns, kWall);
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

// --- geometry (segment format 1.3) -----------------------------------------------------------

namespace {

fs_writer* make_geometry_writer(const std::string& name, uint64_t mesh_bytes = 1 << 16) {
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = name.c_str();
  o.max_robots = 4;
  o.max_links = 4;
  fs_geometry_options g{};
  g.max_visuals = 16;
  g.max_meshes = 4;
  g.mesh_bytes = mesh_bytes;
  g.compress = 1;
  fs_writer* w = nullptr;
  EXPECT_EQ(fs_writer_create_with_geometry(&o, nullptr, &g, &w), FS_OK) << fs_last_error();
  return w;
}

// Expects `status` to be FS_ERR_INVALID_ARGUMENT with a message holding `needle`.
void expect_invalid(fs_status status, const std::string& needle) {
  EXPECT_EQ(status, FS_ERR_INVALID_ARGUMENT) << fs_last_error();
  EXPECT_NE(std::string(fs_last_error()).find(needle), std::string::npos)
      << "message '" << fs_last_error() << "' does not name '" << needle << "'";
}

const float kTetraVertices[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
const uint32_t kTetraTriangles[12] = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
const float kTetraNormals[12] = {-1, -1, -1, 1, 0, 0, 0, 1, 0, 0, 0, 1};

}  // namespace

TEST(CAbiGeometry, AModelOfVisualsReadsBackAsWritten) {
  const std::string name = fleetscope::testing::unique_name("cabi.geometry");
  fs_writer* w = make_geometry_writer(name);
  ASSERT_NE(w, nullptr);
  uint32_t mesh = 99;
  ASSERT_EQ(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 4, kTetraNormals, &mesh), FS_OK) << fs_last_error();
  EXPECT_EQ(mesh, 0u);

  const char* link_names[3] = {"base", "bare", "tool"};
  fs_visual v[5] = {};
  v[0].link = 2;
  v[0].shape = FS_SHAPE_PLANE;
  v[0].dims[0] = 2.0f;
  v[0].dims[1] = 3.0f;
  v[0].rgba[0] = 10;
  v[0].rgba[3] = 128;
  v[1].link = 0;
  v[1].shape = FS_SHAPE_ELLIPSOID;
  v[1].dims[0] = 0.1f;
  v[1].dims[1] = 0.2f;
  v[1].dims[2] = 0.3f;
  v[1].offset_position[2] = 0.5f;
  v[1].offset_orientation[2] = 0.70710678f;  // given: kept
  v[1].offset_orientation[3] = 0.70710678f;
  v[2].link = 0;
  v[2].shape = FS_SHAPE_INLINE_MESH;
  v[2].mesh = mesh;
  v[2].scale[0] = 2.0f;  // the zeros mean 1
  v[2].rgba[1] = 200;
  v[3].link = 2;
  v[3].shape = FS_SHAPE_MESH;
  v[3].mesh_path = "/meshes/tool.stl";
  v[4].link = 2;
  v[4].shape = FS_SHAPE_CAPSULE;
  v[4].dims[0] = 0.05f;
  v[4].dims[1] = 0.4f;
  uint32_t model = 99;
  ASSERT_EQ(fs_writer_add_model_visuals(w, "tooling", link_names, 3, v, 5, &model), FS_OK) << fs_last_error();
  EXPECT_EQ(model, 0u);
  uint32_t robot = 0;
  ASSERT_EQ(fs_writer_spawn_robot(w, "r", model, &robot), FS_OK) << fs_last_error();
  fs_publish_stats stats{};
  ASSERT_EQ(fs_writer_publish(w, 0.0, &stats), FS_OK);

  const auto reader = fleetscope::ipc::SegmentReader::open(name);
  EXPECT_EQ(reader.info().abi_minor, 3);
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 1u);
  const auto& m = layout.models[0];
  EXPECT_EQ(m.name, "tooling");
  ASSERT_EQ(m.visuals.size(), 3u);
  for (int l = 0; l < 3; ++l) EXPECT_STREQ(m.visuals[l].link_name, link_names[l]);
  // SimWriter groups the visuals by link: base's two, then tool's three, each in the order given.
  ASSERT_EQ(m.all_visuals.size(), 5u);
  const int order[5] = {1, 2, 0, 3, 4};
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("visual " + std::to_string(i));
    const fs_visual& want = v[order[i]];
    const auto& got = m.all_visuals[i];
    EXPECT_EQ(got.link, want.link);
    EXPECT_EQ(got.visual.shape, static_cast<uint32_t>(want.shape));
    EXPECT_STREQ(got.visual.link_name, link_names[want.link]);
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(got.visual.dims[k], want.dims[k]);
      EXPECT_EQ(got.visual.scale[k], want.scale[k] == 0.0f ? 1.0f : want.scale[k]);
      EXPECT_EQ(got.visual.offset_position[k], want.offset_position[k]);
    }
    const bool zero_q = want.offset_orientation[0] == 0 && want.offset_orientation[1] == 0 &&
                        want.offset_orientation[2] == 0 && want.offset_orientation[3] == 0;
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(got.visual.offset_orientation[k], zero_q ? (k == 3 ? 1.0f : 0.0f) : want.offset_orientation[k]);
      EXPECT_EQ(got.visual.rgba[k], want.rgba[k]);
    }
    EXPECT_STREQ(got.visual.mesh_path, want.shape == FS_SHAPE_MESH ? want.mesh_path : "");
    EXPECT_EQ(got.mesh, want.shape == FS_SHAPE_INLINE_MESH ? want.mesh : 0u);
  }
  ASSERT_EQ(reader.mesh_count(), 1u);
  const auto stored = reader.read_mesh(0);
  EXPECT_EQ(stored.vertices, std::vector<float>(kTetraVertices, kTetraVertices + 12));
  EXPECT_EQ(stored.triangles, std::vector<uint32_t>(kTetraTriangles, kTetraTriangles + 12));
  EXPECT_EQ(stored.normals, std::vector<float>(kTetraNormals, kTetraNormals + 12));
  fs_writer_destroy(w);
}

TEST(CAbiGeometry, BadMeshesAndVisualsGiveInvalidArgumentWithAMessage) {
  const std::string name = fleetscope::testing::unique_name("cabi.geometry.bad");
  fs_writer* w = make_geometry_writer(name, 256);
  ASSERT_NE(w, nullptr);
  uint32_t mesh = 99;
  expect_invalid(fs_writer_add_mesh(nullptr, kTetraVertices, 4, kTetraTriangles, 4, nullptr, &mesh), "writer handle");
  expect_invalid(fs_writer_add_mesh(w, nullptr, 4, kTetraTriangles, 4, nullptr, &mesh), "must not be NULL");
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, nullptr, 4, nullptr, &mesh), "must not be NULL");
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 4, nullptr, nullptr), "must not be NULL");
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, size_t{1} << 40, kTetraTriangles, 4, nullptr, &mesh), "limits");
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, size_t{1} << 40, nullptr, &mesh), "limits");
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 0, nullptr, &mesh), "at least one");
  const uint32_t bad_index[3] = {0, 1, 4};
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, bad_index, 1, nullptr, &mesh), "refers to vertex 4 of 4");
  const float nan_vertices[12] = {0, 0, 0, 1, 0, 0, 0, std::nanf(""), 0, 0, 0, 1};
  expect_invalid(fs_writer_add_mesh(w, nan_vertices, 4, kTetraTriangles, 4, nullptr, &mesh), "not finite");
  const float bad_normals[12] = {0, 0, 1, 0, 0, 1, 0, 0, INFINITY, 0, 0, 1};
  expect_invalid(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 4, bad_normals, &mesh), "normal");
  EXPECT_EQ(mesh, 99u);  // untouched by every failed call
  // The arena is 256 bytes: a mesh that does not fit is a capacity error, and names mesh_bytes.
  std::vector<float> big(3 * 40, 0.5f);
  std::vector<uint32_t> fan;
  for (uint32_t i = 1; i + 1 < 40; ++i) fan.insert(fan.end(), {0, i, i + 1});
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 7) + 0.001f * static_cast<float>(i);
  EXPECT_EQ(fs_writer_add_mesh(w, big.data(), 40, fan.data(), fan.size() / 3, nullptr, &mesh), FS_ERR_CAPACITY);
  EXPECT_NE(std::string(fs_last_error()).find("mesh_bytes"), std::string::npos) << fs_last_error();
  ASSERT_EQ(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 4, nullptr, &mesh), FS_OK) << fs_last_error();
  EXPECT_EQ(mesh, 0u);

  const char* links[2] = {"a", "b"};
  fs_visual v{};
  v.shape = FS_SHAPE_BOX;
  uint32_t model = 99;
  v.link = 2;
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, &model), "refers to link 2 of 2");
  v.link = 0;
  v.shape = 8;
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, &model), "unknown shape 8");
  v.shape = -1;
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, &model), "unknown shape -1");
  v.shape = FS_SHAPE_INLINE_MESH;
  v.mesh = 3;
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, &model), "mesh 3");
  v.shape = FS_SHAPE_MESH;
  v.mesh_path = nullptr;
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, &model), "without a path");
  v.shape = FS_SHAPE_BOX;
  expect_invalid(fs_writer_add_model_visuals(w, "m", nullptr, 2, &v, 1, &model), "link_names");
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, nullptr, 1, &model), "visuals");
  expect_invalid(fs_writer_add_model_visuals(w, nullptr, links, 2, &v, 1, &model), "must not be NULL");
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 2, &v, 1, nullptr), "must not be NULL");
  expect_invalid(fs_writer_add_model_visuals(w, "m", links, 0, nullptr, 0, &model), "links");
  const char* five[5] = {"a", "b", "c", "d", "e"};
  expect_invalid(fs_writer_add_model_visuals(w, "m", five, 5, &v, 1, &model), "5 links");  // max_links is 4
  EXPECT_EQ(model, 99u);
  // None of the refused models reached the segment.
  EXPECT_TRUE(fleetscope::ipc::SegmentReader::open(name).read_layout().models.empty());
  // A link list with no visuals at all is a model too (nothing drawn).
  ASSERT_EQ(fs_writer_add_model_visuals(w, "invisible", links, 2, nullptr, 0, &model), FS_OK) << fs_last_error();
  EXPECT_EQ(model, 0u);
  fs_writer_destroy(w);
}

TEST(CAbiGeometry, StaticRobotsColoursAndAttributesReachAReader) {
  const std::string name = fleetscope::testing::unique_name("cabi.geometry.robots");
  fs_writer* w = make_geometry_writer(name);
  ASSERT_NE(w, nullptr);
  const char* links[2] = {"floor", "post"};
  fs_visual v[2] = {};
  v[0].link = 0;
  v[0].shape = FS_SHAPE_PLANE;
  v[0].dims[0] = v[0].dims[1] = 10.0f;
  v[1].link = 1;
  v[1].shape = FS_SHAPE_CYLINDER;
  v[1].dims[0] = 0.1f;
  v[1].dims[1] = 2.0f;
  uint32_t model = 0, world = 0, robot = 0;
  ASSERT_EQ(fs_writer_add_model_visuals(w, "world", links, 2, v, 2, &model), FS_OK) << fs_last_error();
  const double poses[14] = {0, 0, 0, 0, 0, 0, 1, 3, 4, 1, 0, 0, 0, 1};
  expect_invalid(fs_writer_spawn_static(w, "world", model, nullptr, 2, &world), "must not be NULL");
  expect_invalid(fs_writer_spawn_static(w, "world", model, poses, 1, &world), "expected 14 values, got 7");
  expect_invalid(fs_writer_spawn_static(w, "world", model + 5, poses, 2, &world), "model");
  ASSERT_EQ(fs_writer_spawn_static(w, "world", model, poses, 2, &world), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_spawn_robot(w, "mover", model, &robot), FS_OK) << fs_last_error();
  uint64_t total = 99;
  ASSERT_EQ(fs_writer_total_links(w, &total), FS_OK);
  EXPECT_EQ(total, 2u);  // the static robot is not among the links set_all_poses takes
  expect_invalid(fs_writer_set_robot_poses_f64(w, world, poses, 2), "static");

  const uint8_t red[4] = {255, 0, 0, 200};
  expect_invalid(fs_writer_set_robot_color(w, robot + 100, red), "robot");
  expect_invalid(fs_writer_set_robot_attributes(w, robot, int64_t{1} << 32, -1, NAN), "below 2^32 - 1");
  expect_invalid(fs_writer_set_robot_attributes(w, robot, -1, (int64_t{1} << 32) - 1, NAN), "below 2^32 - 1");
  expect_invalid(fs_writer_set_robot_attributes(w, robot, 3, 4, INFINITY), "finite");
  expect_invalid(fs_writer_set_robot_attributes(w, robot + 100, 3, 4, 1.0), "robot");
  expect_invalid(fs_writer_set_robot_color(nullptr, robot, red), "writer handle");
  ASSERT_EQ(fs_writer_set_robot_color(w, robot, red), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_set_robot_attributes(w, robot, 7, -1, 2.5), FS_OK) << fs_last_error();
  fs_publish_stats stats{};
  ASSERT_EQ(fs_writer_publish(w, 1.0, &stats), FS_OK);

  const auto reader = fleetscope::ipc::SegmentReader::open(name);
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.robots.size(), 2u);
  std::vector<uint64_t> dirty(reader.info().layout.dirty_words);
  std::vector<fleetscope::ipc::PoseRecord> out(2);
  using namespace fleetscope::ipc;
  const auto w_read = reader.read_robot(layout.robots[0].slot, std::nullopt, 2, dirty, out);
  ASSERT_TRUE(w_read);
  EXPECT_EQ(layout.robots[0].name, "world");
  EXPECT_EQ(w_read->attributes.flags(), kRobotStatic);
  EXPECT_EQ(out[1].position[0], 3.0f);  // published at once, by spawn_static
  const auto r_read = reader.read_robot(layout.robots[1].slot, std::nullopt, 2, dirty, out);
  ASSERT_TRUE(r_read);
  EXPECT_EQ(r_read->attributes.flags(), kRobotColorOverride | kRobotHasProducer | kRobotHasScalar);
  EXPECT_EQ(r_read->attributes.color_and_flags & 0xFFFFFFFFu, 0xC80000FFu);  // red in the lowest byte
  EXPECT_EQ(r_read->attributes.producer, 0xFFFFFFFF00000007u);  // environment not given
  EXPECT_EQ(std::bit_cast<double>(r_read->attributes.scalar_bits), 2.5);

  // Back to the model's colours, producer and scalar unset: one change, no pose in it.
  const uint64_t changes = reader.change_count(layout.robots[1].slot);
  ASSERT_EQ(fs_writer_set_robot_color(w, robot, nullptr), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_set_robot_attributes(w, robot, -1, -1, NAN), FS_OK) << fs_last_error();
  ASSERT_EQ(fs_writer_publish(w, 2.0, &stats), FS_OK);
  EXPECT_EQ(stats.changed_robots, 1u);
  EXPECT_EQ(stats.dirty_links, 0u);
  EXPECT_EQ(reader.change_count(layout.robots[1].slot), changes + 1);
  const auto cleared = reader.read_robot(layout.robots[1].slot, changes, 2, dirty, out);
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->attributes, RobotAttributeWords{});
  EXPECT_EQ(dirty[0], 0u);
  fs_writer_destroy(w);
}

TEST(CAbiGeometry, CreateWithGeometryChecksItsArguments) {
  const std::string name = fleetscope::testing::unique_name("cabi.geometry.create");
  fs_writer_options o;
  fs_writer_options_init(&o);
  o.name = name.c_str();
  fs_geometry_options g{};
  fs_writer* w = nullptr;
  expect_invalid(fs_writer_create_with_geometry(nullptr, nullptr, &g, &w), "must not be NULL");
  expect_invalid(fs_writer_create_with_geometry(&o, nullptr, &g, nullptr), "must not be NULL");
  g.max_meshes = fleetscope::ipc::kMaxMeshes + 1;
  expect_invalid(fs_writer_create_with_geometry(&o, nullptr, &g, &w), "mesh capacity");
  g.max_meshes = 0;
  g.mesh_bytes = fleetscope::ipc::kMaxMeshArenaBytes + 1;
  expect_invalid(fs_writer_create_with_geometry(&o, nullptr, &g, &w), "mesh bytes");
  EXPECT_EQ(w, nullptr);
  // All zeros: the defaults (room for visuals, no stored meshes).
  g.mesh_bytes = 0;
  ASSERT_EQ(fs_writer_create_with_geometry(&o, nullptr, &g, &w), FS_OK) << fs_last_error();
  uint32_t mesh = 0;
  EXPECT_EQ(fs_writer_add_mesh(w, kTetraVertices, 4, kTetraTriangles, 4, nullptr, &mesh), FS_ERR_CAPACITY);
  const auto reader = fleetscope::ipc::SegmentReader::open(name);
  ASSERT_TRUE(reader.info().geometry.has_value());
  EXPECT_EQ(reader.info().geometry->capacities.visuals, o.max_visuals);
  EXPECT_EQ(reader.info().geometry->capacities.meshes, 64u);
  EXPECT_EQ(reader.info().geometry->capacities.mesh_bytes, 0u);
  fs_writer_destroy(w);
}
