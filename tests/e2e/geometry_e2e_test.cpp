// Segment format 1.3 through SimWriter and the tools: the per-link stand-ins a 1.2 reader draws,
// meshes stored once however often they are added, static robots and robot attributes, and what
// `fleetscope-shm inspect` prints of visuals and stored meshes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using fleetscope::testing::ChildProcess;
using fleetscope::testing::unique_name;
namespace ipc = fleetscope::ipc;

namespace {

fleetscope::WriterConfig geometry_config(const std::string& name) {
  fleetscope::WriterConfig c;
  c.name = name;
  c.max_robots = 8;
  c.max_links = 8;
  c.mesh_bytes = 1 << 16;
  c.max_meshes = 8;
  return c;
}

fleetscope::MeshData tetrahedron(float dx, float dy, float dz, bool normals = false) {
  fleetscope::MeshData m;
  m.vertices = {dx, dy, dz, dx + 1, dy, dz, dx, dy + 2, dz, dx, dy, dz + 2};
  m.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  if (normals) m.normals = {-1, -1, -1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  return m;
}

fleetscope::LinkVisualDesc desc(ipc::Shape shape, std::array<float, 3> dims) {
  fleetscope::LinkVisualDesc d;
  d.shape = shape;
  d.dims = dims;
  return d;
}

// Runs a program to its end; returns its stdout and wait status (-1: killed after `limit`).
std::pair<std::string, int> run(std::vector<std::string> argv, std::chrono::seconds limit = std::chrono::seconds(20)) {
  ChildProcess child(std::move(argv));
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (auto line = child.read_line(
             std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()))) {
    out += *line + "\n";
  }
  const auto status = child.wait_for_exit(std::chrono::seconds(2));
  if (!status) {
    child.signal(SIGKILL);
    return {out, -1};
  }
  return {out, *status};
}

}  // namespace

// What a 1.2 reader draws of a 1.3 SimWriter model (FORMAT.md): per link its first visual, a
// plane as a 1 mm box, an ellipsoid as the box around it, a stored mesh as the box of its bounds
// (scaled, offset to their centre), a link without visuals as a box of size 0.
TEST(SimWriterGeometry, OneTwoReadersSeeABoxStandInPerLink) {
  const std::string name = unique_name("e2e.geom.standins");
  fleetscope::SimWriter writer(geometry_config(name));
  // Bounds (1, 2, 3)..(2, 4, 5): centre (1.5, 3, 4), size (1, 2, 2).
  const std::uint32_t mesh = writer.add_mesh(tetrahedron(1, 2, 3));

  fleetscope::RobotModelDesc model{"standins", {}};
  auto plane = desc(ipc::Shape::kPlane, {4.0f, 3.0f, 0.0f});
  plane.offset_position = {0.0f, 0.0f, -0.1f};
  plane.rgba = {10, 20, 30, 40};
  model.links.push_back({"floor", {plane, desc(ipc::Shape::kSphere, {9, 9, 9})}});
  model.links.push_back({"nothing", {}});
  model.links.push_back({"ball", {desc(ipc::Shape::kEllipsoid, {0.1f, 0.2f, 0.3f})}});
  auto part = desc(ipc::Shape::kInlineMesh, {0, 0, 0});
  part.mesh = mesh;
  part.scale = {2.0f, 1.0f, -1.0f};
  part.offset_position = {1.0f, 0.0f, 0.0f};
  part.offset_orientation = {0.0f, 0.0f, std::sqrt(0.5f), std::sqrt(0.5f)};  // 90 degrees about z
  model.links.push_back({"part", {part}});
  auto box = desc(ipc::Shape::kBox, {0.5f, 0.6f, 0.7f});
  box.offset_position = {0.1f, 0.2f, 0.3f};
  model.links.push_back({"box", {box, desc(ipc::Shape::kPlane, {1, 1, 0})}});
  const std::uint32_t m = writer.add_model(model);
  const std::uint32_t robot = writer.spawn_robot("r", m);
  writer.set_robot_color(robot, std::array<std::uint8_t, 4>{1, 2, 3, 4});
  writer.publish(0.0);

  // As 1.3: every visual, 6 of them.
  const auto image = fleetscope::testing::copy_segment(name);
  EXPECT_EQ(ipc::SegmentReader::over_bytes(image.bytes()).read_layout().models[0].all_visuals.size(), 6u);

  // As 1.2: the per-link records only.
  auto old = fleetscope::testing::copy_segment(name);
  old.header().abi_minor = 2;
  const auto reader = ipc::SegmentReader::over_bytes(old.bytes());
  const auto layout = reader.read_layout();
  const auto& v = layout.models[0].all_visuals;
  ASSERT_EQ(v.size(), 5u);
  const char* names[5] = {"floor", "nothing", "ball", "part", "box"};
  for (std::uint32_t l = 0; l < 5; ++l) {
    SCOPED_TRACE(names[l]);
    EXPECT_EQ(v[l].link, l);
    EXPECT_EQ(v[l].visual.shape, static_cast<std::uint32_t>(ipc::Shape::kBox));
    EXPECT_STREQ(v[l].visual.link_name, names[l]);
  }
  auto expect_dims = [](const ipc::LinkVisual& got, float x, float y, float z) {
    EXPECT_FLOAT_EQ(got.dims[0], x);
    EXPECT_FLOAT_EQ(got.dims[1], y);
    EXPECT_FLOAT_EQ(got.dims[2], z);
  };
  auto expect_offset = [](const ipc::LinkVisual& got, float x, float y, float z) {
    EXPECT_NEAR(got.offset_position[0], x, 1e-5f);
    EXPECT_NEAR(got.offset_position[1], y, 1e-5f);
    EXPECT_NEAR(got.offset_position[2], z, 1e-5f);
  };
  expect_dims(v[0].visual, 4.0f, 3.0f, 0.001f);  // plane: 1 mm thick, where it was, its colour
  expect_offset(v[0].visual, 0.0f, 0.0f, -0.1f);
  EXPECT_EQ(v[0].visual.rgba[0], 10);
  EXPECT_EQ(v[0].visual.rgba[3], 40);
  expect_dims(v[1].visual, 0.0f, 0.0f, 0.0f);  // no visuals: an empty box
  expect_dims(v[2].visual, 0.2f, 0.4f, 0.6f);  // ellipsoid: the box around it
  // Mesh: size (1, 2, 2) scaled by |(2, 1, -1)| = (2, 2, 2); centre (1.5, 3, 4) scaled = (3, 3, -4),
  // rotated 90 degrees about z = (-3, 3, -4), plus the offset (1, 0, 0).
  expect_dims(v[3].visual, 2.0f, 2.0f, 2.0f);
  expect_offset(v[3].visual, -2.0f, 3.0f, -4.0f);
  EXPECT_NEAR(v[3].visual.offset_orientation[2], std::sqrt(0.5f), 1e-6f);
  for (int a = 0; a < 3; ++a) EXPECT_EQ(v[3].visual.scale[a], 1.0f);
  expect_dims(v[4].visual, 0.5f, 0.6f, 0.7f);  // a primitive first visual is itself
  expect_offset(v[4].visual, 0.1f, 0.2f, 0.3f);
  // Robot attributes are 1.3: a 1.2 reader does not see the colour.
  std::vector<std::uint64_t> dirty(reader.info().layout.dirty_words);
  std::vector<ipc::PoseRecord> poses(5);
  EXPECT_EQ(reader.read_robot(layout.robots[0].slot, std::nullopt, 5, dirty, poses)->attributes, ipc::RobotAttributeWords{});
  const auto now = ipc::SegmentReader::over_bytes(image.bytes());
  EXPECT_EQ(now.read_robot(layout.robots[0].slot, std::nullopt, 5, dirty, poses)->attributes.flags(),
            ipc::kRobotColorOverride);
}

TEST(SimWriterGeometry, IdenticalMeshesAreStoredOnce) {
  const std::string name = unique_name("e2e.geom.dedup");
  fleetscope::SimWriter writer(geometry_config(name));
  const std::uint32_t a = writer.add_mesh(tetrahedron(0, 0, 0));
  const std::uint32_t b = writer.add_mesh(tetrahedron(0, 0, 0));
  const std::uint32_t with_normals = writer.add_mesh(tetrahedron(0, 0, 0, true));
  const std::uint32_t moved = writer.add_mesh(tetrahedron(0, 0, 0.5f));
  auto flipped = tetrahedron(0, 0, 0);
  std::swap(flipped.triangles[0], flipped.triangles[1]);
  const std::uint32_t other_order = writer.add_mesh(flipped);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, a);
  EXPECT_EQ(with_normals, 1u);
  EXPECT_EQ(moved, 2u);
  EXPECT_EQ(other_order, 3u);
  EXPECT_EQ(writer.add_mesh(tetrahedron(0, 0, 0, true)), with_normals);
  EXPECT_EQ(writer.mesh_count(), 4u);

  // Two models share a mesh: both refer to the one stored copy.
  for (const char* model_name : {"one", "two"}) {
    auto d = desc(ipc::Shape::kInlineMesh, {0, 0, 0});
    d.mesh = a;
    writer.add_model(fleetscope::RobotModelDesc{model_name, {{"body", {d, d}}}});
  }
  auto bad = desc(ipc::Shape::kInlineMesh, {0, 0, 0});
  bad.mesh = 4;
  EXPECT_THROW(writer.add_model(fleetscope::RobotModelDesc{"bad", {{"body", {bad}}}}), ipc::SegmentError);

  const auto reader = ipc::SegmentReader::open(name);
  EXPECT_EQ(reader.mesh_count(), 4u);
  EXPECT_EQ(reader.read_mesh(0), tetrahedron(0, 0, 0));
  EXPECT_EQ(reader.read_mesh(1), tetrahedron(0, 0, 0, true));
  EXPECT_EQ(reader.read_mesh(3), flipped);
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 2u);
  for (const auto& m : layout.models) {
    ASSERT_EQ(m.all_visuals.size(), 2u);
    for (const auto& v : m.all_visuals) EXPECT_EQ(v.mesh, a);
  }
}

TEST(SimWriterGeometry, StaticRobotsArePublishedOnceAndAttributesAreChanges) {
  const std::string name = unique_name("e2e.geom.static");
  fleetscope::SimWriter writer(geometry_config(name));
  const std::uint32_t m =
      writer.add_model(fleetscope::RobotModelDesc{"world", {{"ground", {desc(ipc::Shape::kPlane, {5, 5, 0})}}}});
  const std::uint32_t mover = writer.spawn_robot("mover", m);
  const std::vector<double> at = {1, 2, 3, 0, 0, 0, 1};
  EXPECT_THROW(writer.spawn_static("ground", m, std::vector<double>(14, 0.0)), ipc::SegmentError);
  const std::uint32_t ground = writer.spawn_static("ground", m, at);
  EXPECT_EQ(writer.total_links(), 1u);
  EXPECT_THROW(writer.set_robot_poses(ground, std::span<const double>(at)), ipc::SegmentError);
  EXPECT_THROW(writer.set_all_poses(std::span<const double>(std::vector<double>(14, 0.0))), ipc::SegmentError);
  writer.set_all_poses(std::span<const double>(at));  // the mover only

  fleetscope::RobotAttributes attributes;
  attributes.environment = 12;
  attributes.scalar = -0.25;
  writer.set_robot_attributes(mover, attributes);
  writer.publish(1.0);

  const auto reader = ipc::SegmentReader::open(name);
  ipc::PoseIngestor ingestor(reader);
  ingestor.ingest();
  const auto& robots = ingestor.layout().robots;
  ASSERT_EQ(robots.size(), 2u);
  const std::uint32_t mover_slot = robots[0].name == "mover" ? robots[0].slot : robots[1].slot;
  const std::uint32_t ground_slot = robots[0].name == "ground" ? robots[0].slot : robots[1].slot;
  EXPECT_EQ(ingestor.attributes(ground_slot).flags(), ipc::kRobotStatic);
  EXPECT_EQ(ingestor.poses(ground_slot)[0].position[2], 3.0f);
  const auto a = ingestor.attributes(mover_slot);
  EXPECT_EQ(a.flags(), ipc::kRobotHasProducer | ipc::kRobotHasScalar);
  EXPECT_EQ(a.producer, 0x0000000CFFFFFFFFu);  // worker not given: all ones
  EXPECT_EQ(std::bit_cast<double>(a.scalar_bits), -0.25);

  // A colour alone: one change of the mover, no link, and the static robot untouched.
  const std::uint64_t ground_changes = reader.change_count(ground_slot);
  writer.set_robot_color(mover, std::array<std::uint8_t, 4>{9, 8, 7, 6});
  const auto stats = writer.publish(2.0);
  EXPECT_EQ(stats.changed_robots, 1u);
  EXPECT_EQ(stats.dirty_links, 0u);
  ingestor.ingest();
  EXPECT_TRUE(ingestor.changes().empty());
  ASSERT_EQ(ingestor.attribute_changes().size(), 1u);
  EXPECT_EQ(ingestor.attribute_changes()[0], mover_slot);
  EXPECT_EQ(ingestor.attributes(mover_slot).color_and_flags & 0xFFFFFFFFu, 0x06070809u);
  EXPECT_EQ(ingestor.attributes(mover_slot).flags(),
            ipc::kRobotColorOverride | ipc::kRobotHasProducer | ipc::kRobotHasScalar);
  EXPECT_EQ(reader.change_count(ground_slot), ground_changes);
  writer.remove_robot(ground);
  EXPECT_EQ(writer.total_links(), 1u);
}

// A refused call leaves the robot's attributes as they were (what the next publish writes).
TEST(SimWriterGeometry, ARefusedSetRobotAttributesChangesNothing) {
  const std::string name = unique_name("e2e.geom.refused");
  fleetscope::SimWriter writer(geometry_config(name));
  const std::uint32_t m = writer.add_model(fleetscope::ModelDesc{"m", {desc(ipc::Shape::kBox, {1, 1, 1})}});
  const std::uint32_t robot = writer.spawn_robot("r", m);
  fleetscope::RobotAttributes attributes;
  attributes.worker = 3;
  attributes.environment = 4;
  attributes.scalar = 1.5;
  writer.set_robot_attributes(robot, attributes);
  writer.publish(0.0);
  attributes.worker = 5;
  attributes.scalar = std::numeric_limits<double>::infinity();
  EXPECT_THROW(writer.set_robot_attributes(robot, attributes), ipc::SegmentError);
  writer.set_robot_color(robot, std::array<std::uint8_t, 4>{1, 2, 3, 4});  // a change that is published
  writer.publish(1.0);

  const auto reader = ipc::SegmentReader::open(name);
  std::vector<std::uint64_t> dirty(reader.info().layout.dirty_words);
  std::vector<ipc::PoseRecord> poses(1);
  const auto read = reader.read_robot(0, std::nullopt, 1, dirty, poses);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->attributes.flags(), ipc::kRobotColorOverride | ipc::kRobotHasProducer | ipc::kRobotHasScalar);
  EXPECT_EQ(read->attributes.producer, 0x0000000400000003u) << "the refused call's worker was kept";
  EXPECT_EQ(std::bit_cast<double>(read->attributes.scalar_bits), 1.5) << "the refused call cleared the scalar";
}

// `fleetscope-shm inspect` lists every visual (shape names of 1.3 included) and every stored
// mesh, a corrupt one as refused with the reason, and goes on.
TEST(ShmInspect, PrintsEveryVisualAndStoredMesh) {
  const std::string name = unique_name("e2e.geom.inspect");
  ipc::WriterOptions options;
  options.name = name;
  options.capacities = {4, 4, 4, 8, 4};
  options.geometry = ipc::GeometryCapacities{16, 4, 4096};
  ipc::SegmentWriter writer(options);
  ASSERT_EQ(writer.add_mesh(ipc::encode_mesh(tetrahedron(0, 0, 0, true), true)), 0u);
  // A hand-made mesh whose triangle refers past its vertices, with a correct checksum.
  ipc::EncodedMesh bad;
  const float positions[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  const std::uint32_t indices[3] = {0, 1, 7};
  bad.stored.resize(sizeof positions + sizeof indices);
  std::memcpy(bad.stored.data(), positions, sizeof positions);
  std::memcpy(bad.stored.data() + sizeof positions, indices, sizeof indices);
  bad.record.vertex_count = 3;
  bad.record.triangle_count = 1;
  bad.record.raw_bytes = bad.stored.size();
  bad.record.crc32 = ipc::crc32(bad.stored);
  ASSERT_EQ(writer.add_mesh(bad), 1u);

  auto visual = [](ipc::Shape shape, const char* link, float d) {
    ipc::LinkVisual v{};
    std::strcpy(v.link_name, link);
    v.shape = static_cast<std::uint32_t>(shape);
    v.dims[0] = d;
    v.dims[1] = 2 * d;
    v.dims[2] = 3 * d;
    v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
    v.offset_orientation[3] = 1.0f;
    v.rgba[0] = 11;
    v.rgba[3] = 255;
    return v;
  };
  const ipc::LinkVisual links[2] = {visual(ipc::Shape::kBox, "floor", 1), visual(ipc::Shape::kBox, "arm", 1)};
  ipc::VisualRecord records[4] = {};
  records[0].visual = visual(ipc::Shape::kPlane, "floor", 4);
  records[0].link = 0;
  records[1].visual = visual(ipc::Shape::kEllipsoid, "arm", 0.25f);
  records[1].link = 1;
  records[2].visual = visual(ipc::Shape::kInlineMesh, "arm", 0);
  records[2].link = 1;
  records[2].mesh = 0;
  records[3].visual = visual(ipc::Shape::kInlineMesh, "arm", 0);
  records[3].link = 1;
  records[3].mesh = 1;
  writer.add_model("scene", links, records);
  writer.spawn_robot("scene0", 0);
  writer.end_frame(0.0, 0, 1);

  const auto [out, status] = run({FLEETSCOPE_SHM, "inspect", name});
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  auto expect_line = [&out](const std::string& needle) {
    EXPECT_NE(out.find(needle), std::string::npos) << "no '" << needle << "' in:\n" << out;
  };
  expect_line("format       1.3");
  expect_line("[0] scene: 2 links, 4 visuals");
  expect_line("floor        plane     dims 4.000 8.000 12.000");
  expect_line("arm          ellipsoid dims 0.250 0.500 0.750");
  expect_line("arm          mesh*     dims 0.000 0.000 0.000 offset 0.000 0.000 0.000 rgba 11 0 0 255 stored mesh 0");
  expect_line("stored mesh 1\n");
  expect_line("meshes       2 of 4 stored, 4096-byte arena");
  expect_line("  mesh 0    4 vertices, 4 triangles, normals\n");
  expect_line("  mesh 1    refused: segment '" + name + "' mesh 1 is corrupt: triangle 0 refers to vertex 7 of 3\n");
  expect_line("robots       1");
}
