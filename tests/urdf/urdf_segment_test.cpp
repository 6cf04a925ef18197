// URDF robots in a real segment: meshes and visuals as a reader gets them back, poses written by
// the forward kinematics, the C ABI, and fleetscope-sim --urdf.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/urdf.h"
#include "support/child_process.hpp"
#include "urdf/urdf_test_support.hpp"

using fleetscope::MeshData;
using fleetscope::ipc::ErrorCode;
using fleetscope::ipc::SegmentReader;
using fleetscope::ipc::Shape;
using fleetscope::testing::ChildProcess;
using fleetscope::testing::unique_name;
using fleetscope::testing::urdf_resource;
using fleetscope::urdf::UrdfFleet;
using fleetscope::urdf::UrdfModel;

namespace {

fleetscope::WriterConfig config_for(const UrdfModel& model, const std::string& name, std::uint32_t robots) {
  fleetscope::WriterConfig config;
  config.name = name;
  config.max_robots = 0;
  config.max_models = 0;
  config.max_visuals = 0;
  config.max_meshes = 0;
  config.mesh_bytes = 0;
  model.reserve_capacity(config, robots);
  return config;
}

std::array<float, 6> bounds_of(const MeshData& mesh) {
  std::array<float, 6> b{1e9f, 1e9f, 1e9f, -1e9f, -1e9f, -1e9f};
  for (std::size_t i = 0; i < mesh.vertices.size(); ++i) {
    b[i % 3] = std::min(b[i % 3], mesh.vertices[i]);
    b[3 + i % 3] = std::max(b[3 + i % 3], mesh.vertices[i]);
  }
  return b;
}

void expect_bounds(const MeshData& mesh, std::array<float, 6> expected) {
  const auto b = bounds_of(mesh);
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(b[k], expected[k], 1e-5) << "bound " << k;
}

std::vector<fleetscope::ipc::ModelVisual> visuals_of_link(const fleetscope::ipc::ModelSnapshot& model, std::uint32_t link) {
  std::vector<fleetscope::ipc::ModelVisual> out;
  for (const auto& v : model.all_visuals) {
    if (v.link == link) out.push_back(v);
  }
  return out;
}

}  // namespace

TEST(UrdfSegment, ColladaAndStlMeshesArriveWithTheirCountsAndBounds) {
  const UrdfModel robot = UrdfModel::load(urdf_resource("fs_mobile_manipulator.urdf"));
  const std::string name = unique_name("urdf.meshes");
  fleetscope::SimWriter writer(config_for(robot, name, 2));
  UrdfFleet fleet(writer, robot);
  fleet.spawn("mm0");
  fleet.spawn("mm1");
  fleet.set_joint_positions(std::vector<double>(2 * robot.dof(), 0.0));
  writer.publish(0.0);

  const SegmentReader reader = SegmentReader::open(name);
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 1u);
  const auto& model = layout.models[0];
  EXPECT_EQ(model.name, "fs_mobile_manipulator");
  EXPECT_EQ(model.visuals.size(), robot.link_count());
  EXPECT_EQ(model.all_visuals.size(), robot.footprint().visuals);
  EXPECT_TRUE(visuals_of_link(model, 0).empty());  // base_footprint: a link with no visuals
  EXPECT_EQ(reader.mesh_count(), 7u);

  // base_link: the COLLADA shell (centimetres, Z up) in two coloured parts, and a box.
  const auto base = visuals_of_link(model, 1);
  ASSERT_EQ(base.size(), 3u);
  ASSERT_EQ(base[0].visual.shape, static_cast<std::uint32_t>(Shape::kInlineMesh));
  const MeshData chassis = reader.read_mesh(base[0].mesh);
  EXPECT_EQ(chassis.vertex_count(), 12u);
  EXPECT_EQ(chassis.triangle_count(), 20u);
  expect_bounds(chassis, {-0.30f, -0.20f, 0.04f, 0.30f, 0.20f, 0.20f});
  const MeshData bumper = reader.read_mesh(base[1].mesh);
  EXPECT_EQ(bumper.vertex_count(), 8u);
  expect_bounds(bumper, {0.30f, -0.22f, 0.06f, 0.34f, 0.22f, 0.12f});
  EXPECT_EQ(base[1].visual.rgba[0], 242);

  // left_finger: the binary STL in millimetres with the URDF's scale on the visual.
  const auto names = robot.link_names();
  const auto finger_link = static_cast<std::uint32_t>(std::find(names.begin(), names.end(), "left_finger") - names.begin());
  const auto finger = visuals_of_link(model, finger_link);
  ASSERT_EQ(finger.size(), 1u);
  EXPECT_FLOAT_EQ(finger[0].visual.scale[0], 0.001f);
  EXPECT_FLOAT_EQ(finger[0].visual.offset_position[1], 0.0075f);
  const MeshData finger_mesh = reader.read_mesh(finger[0].mesh);
  EXPECT_EQ(finger_mesh.vertex_count(), 12u);
  EXPECT_EQ(finger_mesh.triangle_count(), 20u);
  expect_bounds(finger_mesh, {-5, -7.5f, 0, 5, 7.5f, 50});
  EXPECT_EQ(finger_mesh, robot.meshes()[robot.description().links[finger_link].visuals[0].mesh]);
}

TEST(UrdfSegment, PosesInTheSegmentAreTheForwardKinematics) {
  const UrdfModel arm = UrdfModel::load(urdf_resource("fs_arm6.urdf"));
  const std::string name = unique_name("urdf.poses");
  fleetscope::SimWriter writer(config_for(arm, name, 3));
  UrdfFleet fleet(writer, arm);
  for (int r = 0; r < 3; ++r) {
    const double base[7] = {2.0 * r, 1.0, 0.0, 0, 0, std::sin(0.3 * r), std::cos(0.3 * r)};
    fleet.spawn("arm" + std::to_string(r), base);
  }
  std::vector<double> q(3 * arm.dof());
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = 0.1 * static_cast<double>(i) - 0.7;
  fleet.set_joint_positions(q);
  writer.publish(1.0);

  std::vector<double> bases;
  for (int r = 0; r < 3; ++r) bases.insert(bases.end(), {2.0 * r, 1.0, 0.0, 0, 0, std::sin(0.3 * r), std::cos(0.3 * r)});
  std::vector<float> expected(3 * arm.link_count() * 7);
  arm.forward_kinematics(q, bases, expected, 3);

  const SegmentReader reader = SegmentReader::open(name);
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  for (std::uint32_t r = 0; r < 3; ++r) {
    const auto poses = ingestor.poses(r);
    ASSERT_EQ(poses.size(), arm.link_count());
    for (std::size_t l = 0; l < poses.size(); ++l) {
      const float* e = &expected[(r * arm.link_count() + l) * 7];
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(poses[l].position[k], e[k], 1e-6) << r << " " << l;
      for (int k = 0; k < 4; ++k) EXPECT_NEAR(poses[l].orientation[k], e[3 + k], 1e-6) << r << " " << l;
    }
  }
}

TEST(UrdfSegment, WritePosesRefusesRobotsOfAnotherModelAndStagesNothing) {
  const UrdfModel arm = UrdfModel::load(urdf_resource("fs_arm6.urdf"));
  const UrdfModel gripper = UrdfModel::load(urdf_resource("fs_gripper.urdf"));
  fleetscope::WriterConfig config = config_for(arm, unique_name("urdf.refuse"), 1);
  gripper.reserve_capacity(config, 1);
  arm.reserve_capacity(config, 0);
  fleetscope::SimWriter writer(config);
  const std::uint32_t arm_model = arm.add_to(writer);
  const std::uint32_t gripper_model = gripper.add_to(writer);
  EXPECT_EQ(writer.mesh_count(), 4u);
  // A model added again stores none of its meshes twice.
  EXPECT_EQ(arm.add_to(writer), 2u);
  EXPECT_EQ(writer.mesh_count(), 4u);
  const std::uint32_t a = writer.spawn_robot("a", arm_model);
  const std::uint32_t g = writer.spawn_robot("g", gripper_model);
  writer.publish(0.0);  // the spawns
  const std::vector<std::uint32_t> both{a, g};
  EXPECT_THROW(arm.write_poses(writer, both, std::vector<double>(12, 0.3), {}), fleetscope::ipc::SegmentError);
  EXPECT_EQ(writer.publish(1.0).dirty_links, 0u);
  EXPECT_THROW(UrdfFleet(writer, arm, gripper_model), fleetscope::ipc::SegmentError);
}

TEST(UrdfCAbi, LoadsWritesAndReportsErrors) {
  fs_urdf_model* model = nullptr;
  // Errors: the status and fs_last_error() naming the file and the reason.
  ASSERT_EQ(fs_urdf_load("/nonexistent/robot.urdf", nullptr, &model), FS_ERR_NOT_FOUND);
  EXPECT_EQ(model, nullptr);
  EXPECT_NE(std::string(fs_last_error()).find("/nonexistent/robot.urdf"), std::string::npos) << fs_last_error();
  fleetscope::testing::TempDir dir;
  const auto bad = dir.write("bad.urdf", fleetscope::testing::robot_xml(
                                             R"(<link name="wrist"><visual><geometry><mesh filename="x.obj"/></geometry></visual></link>)"));
  ASSERT_EQ(fs_urdf_load(bad.c_str(), nullptr, &model), FS_ERR_NOT_FOUND);
  EXPECT_NE(std::string(fs_last_error()).find("link 'wrist'"), std::string::npos) << fs_last_error();

  const std::string path = urdf_resource("fs_gripper.urdf").string();
  fs_urdf_options options;
  fs_urdf_options_init(&options);
  EXPECT_EQ(options.use_ros_package_path, 1);
  ASSERT_EQ(fs_urdf_load(path.c_str(), &options, &model), FS_OK) << fs_last_error();
  const char* text = nullptr;
  ASSERT_EQ(fs_urdf_name(model, &text), FS_OK);
  EXPECT_STREQ(text, "fs_gripper");
  uint32_t links = 0, dof = 0;
  ASSERT_EQ(fs_urdf_link_count(model, &links), FS_OK);
  ASSERT_EQ(fs_urdf_dof(model, &dof), FS_OK);
  EXPECT_EQ(links, 3u);
  EXPECT_EQ(dof, 1u);
  ASSERT_EQ(fs_urdf_joint_name(model, 0, &text), FS_OK);
  EXPECT_STREQ(text, "left_finger_joint");
  EXPECT_EQ(fs_urdf_joint_name(model, 1, &text), FS_ERR_INVALID_ARGUMENT);
  double lower = -1, upper = -1;
  ASSERT_EQ(fs_urdf_joint_limits(model, &lower, &upper), FS_OK);
  EXPECT_EQ(lower, 0.0);
  EXPECT_EQ(upper, 0.04);

  const std::string name = unique_name("urdf.cabi");
  fs_writer_options wo;
  fs_writer_options_init(&wo);
  wo.name = name.c_str();
  wo.max_robots = 0;
  fs_geometry_options go{};
  ASSERT_EQ(fs_urdf_reserve(model, 4, &wo, &go), FS_OK);
  EXPECT_EQ(wo.max_robots, 4u);
  EXPECT_EQ(go.max_meshes, 2u);
  fs_writer* writer = nullptr;
  ASSERT_EQ(fs_writer_create_with_geometry(&wo, nullptr, &go, &writer), FS_OK) << fs_last_error();
  uint32_t model_id = 0;
  ASSERT_EQ(fs_urdf_add_to_writer(model, writer, &model_id), FS_OK) << fs_last_error();
  uint32_t robots[4];
  for (uint32_t r = 0; r < 4; ++r) {
    ASSERT_EQ(fs_writer_spawn_robot(writer, ("g" + std::to_string(r)).c_str(), model_id, &robots[r]), FS_OK);
  }
  const double q[4] = {0.0, 0.01, 0.02, 0.04};
  double bases[28] = {};
  for (int r = 0; r < 4; ++r) {
    bases[7 * r] = r;
    bases[7 * r + 6] = 1;
  }
  ASSERT_EQ(fs_urdf_write_poses(model, writer, robots, 4, q, bases), FS_OK) << fs_last_error();
  fs_publish_stats stats{};
  ASSERT_EQ(fs_writer_publish(writer, 0.5, &stats), FS_OK);
  EXPECT_EQ(stats.changed_robots, 4u);
  const double nan_q[4] = {0, NAN, 0, 0};
  EXPECT_EQ(fs_urdf_write_poses(model, writer, robots, 4, nan_q, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fs_last_error()).find("not finite"), std::string::npos) << fs_last_error();

  {
    const SegmentReader reader = SegmentReader::open(name);
    fleetscope::ipc::PoseIngestor ingestor(reader);
    ingestor.ingest();
    // Robot 3: base at x = 3, left finger 0.04 out along y, 0.06 up.
    const auto poses = ingestor.poses(3);
    ASSERT_EQ(poses.size(), 3u);
    EXPECT_FLOAT_EQ(poses[1].position[0], 3.0f);
    EXPECT_FLOAT_EQ(poses[1].position[1], 0.04f);
    EXPECT_FLOAT_EQ(poses[1].position[2], 0.06f);
    EXPECT_FLOAT_EQ(poses[2].position[1], -0.04f);
    EXPECT_EQ(reader.mesh_count(), 2u);
  }

  // The same through fs_urdf_forward_kinematics, without a writer.
  float out[4 * 3 * 7];
  ASSERT_EQ(fs_urdf_forward_kinematics(model, q, 4, nullptr, out), FS_OK);
  EXPECT_FLOAT_EQ(out[(3 * 3 + 1) * 7 + 1], 0.04f);
  EXPECT_FLOAT_EQ(out[(3 * 3 + 1) * 7 + 0], 0.0f);

  fs_writer_destroy(writer);
  fs_urdf_destroy(model);
  fs_urdf_destroy(nullptr);
}

TEST(UrdfSim, PublishesCopiesOfAUrdfRobotAndRemovesItsSegment) {
  const std::string name = unique_name("urdf.sim");
  ChildProcess sim({FLEETSCOPE_SIM, "--urdf", urdf_resource("fs_mobile_manipulator.urdf").string(), "--robots", "9",
                    "--name", name, "--rate", "100"});
  const auto started = sim.wait_for("robots of URDF");
  ASSERT_TRUE(started.has_value()) << "fleetscope-sim did not start";
  EXPECT_NE(started->find("'fs_mobile_manipulator' (18 links, 12 joints, 7 meshes)"), std::string::npos) << *started;

  const SegmentReader reader = SegmentReader::open(name);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (reader.frame().frame < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(reader.frame().frame, 5u);
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.robots.size(), 9u);
  ASSERT_EQ(layout.models.size(), 1u);
  EXPECT_EQ(layout.models[0].visuals.size(), 18u);
  EXPECT_EQ(reader.mesh_count(), 7u);
  // The joints move: two reads a few frames apart differ.
  fleetscope::ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  const std::vector<fleetscope::ipc::PoseRecord> before(ingestor.poses(4).begin(), ingestor.poses(4).end());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ingestor.ingest();
  const auto after = ingestor.poses(4);
  bool moved = false;
  for (std::size_t l = 0; l < after.size(); ++l) moved = moved || after[l].orientation[3] != before[l].orientation[3];
  EXPECT_TRUE(moved);
  // Robots on a grid 2.5 m apart (3 x 3): robot 4 stands at (2.5, 2.5).
  EXPECT_FLOAT_EQ(after[0].position[0], 2.5f);
  EXPECT_FLOAT_EQ(after[0].position[1], 2.5f);

  sim.signal(SIGTERM);
  const int status = sim.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THROW(SegmentReader::open(name), fleetscope::ipc::SegmentError);
}

TEST(UrdfSim, ABrokenUrdfExitsWithTheReason) {
  fleetscope::testing::TempDir dir;
  const auto file = dir.write("r.urdf", fleetscope::testing::robot_xml(
                                            R"(<link name="gone"><visual><geometry><mesh filename="gone.stl"/></geometry></visual></link>)"));
  ChildProcess sim({FLEETSCOPE_SIM, "--urdf", file.string(), "--name", unique_name("urdf.simbad")});
  const int status = sim.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}
