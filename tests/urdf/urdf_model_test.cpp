// Reading URDF files: visuals of every kind with their origins and colours, meshes (COLLADA units
// and axes as RViz shows them, STL, OBJ), package and relative paths, and the errors for what
// cannot be read.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "urdf/urdf_test_support.hpp"

using fleetscope::LinkVisualDesc;
using fleetscope::MeshData;
using fleetscope::ipc::ErrorCode;
using fleetscope::ipc::Shape;
using fleetscope::testing::robot_xml;
using fleetscope::testing::TempDir;
using fleetscope::testing::urdf_resource;
using fleetscope::urdf::UrdfError;
using fleetscope::urdf::UrdfModel;
using fleetscope::urdf::UrdfOptions;

namespace {

struct Bounds {
  std::array<float, 3> lo{std::numeric_limits<float>::max(), std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::max()};
  std::array<float, 3> hi{-std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max()};
};

Bounds bounds_of(const MeshData& mesh) {
  Bounds b;
  for (std::size_t i = 0; i < mesh.vertices.size(); ++i) {
    b.lo[i % 3] = std::min(b.lo[i % 3], mesh.vertices[i]);
    b.hi[i % 3] = std::max(b.hi[i % 3], mesh.vertices[i]);
  }
  return b;
}

#define EXPECT_BOUNDS(mesh, x0, y0, z0, x1, y1, z1)                                             \
  do {                                                                                          \
    const Bounds b_ = bounds_of(mesh);                                                          \
    const std::array<double, 6> e_{(x0), (y0), (z0), (x1), (y1), (z1)};                         \
    for (int k_ = 0; k_ < 3; ++k_) {                                                            \
      EXPECT_NEAR(b_.lo[k_], e_[k_], 1e-5) << "min " << k_;                                     \
      EXPECT_NEAR(b_.hi[k_], e_[3 + k_], 1e-5) << "max " << k_;                                 \
    }                                                                                           \
  } while (0)

// A COLLADA file holding one triangle at (0,0,0), (1,0,0), (0,2,0) in `unit_meter` units, with the
// given up axis and a node translation of (0, 0, 3) units.
std::string triangle_dae(const std::string& up_axis, const std::string& unit_meter) {
  return R"(<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit name="u" meter=")" + unit_meter + R"("/><up_axis>)" + up_axis + R"(</up_axis></asset>
  <library_geometries><geometry id="t"><mesh>
    <source id="p"><float_array id="pa" count="9">0 0 0 1 0 0 0 2 0</float_array>
      <technique_common><accessor source="#pa" count="3" stride="3">
        <param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>
      </accessor></technique_common></source>
    <vertices id="v"><input semantic="POSITION" source="#p"/></vertices>
    <triangles count="1"><input semantic="VERTEX" source="#v" offset="0"/><p>0 1 2</p></triangles>
  </mesh></geometry></library_geometries>
  <library_visual_scenes><visual_scene id="s"><node id="n"><translate>0 0 3</translate>
    <instance_geometry url="#t"/></node></visual_scene></library_visual_scenes>
  <scene><instance_visual_scene url="#s"/></scene>
</COLLADA>
)";
}

std::string mesh_link(const std::string& link, const std::string& filename) {
  return "<link name=\"" + link + "\"><visual><geometry><mesh filename=\"" + filename +
         "\"/></geometry></visual></link>";
}

// The error loading `file` throws; fails the test if it loads.
UrdfError load_error(const std::filesystem::path& file, const UrdfOptions& options = {}) {
  try {
    UrdfModel::load(file, options);
  } catch (const UrdfError& e) {
    return e;
  }
  ADD_FAILURE() << file << " loaded";
  return UrdfError(ErrorCode::kInvalidArgument, "", "", "");
}

}  // namespace

TEST(UrdfModel, ReadsEveryVisualWithItsOriginAndMaterial) {
  TempDir dir;
  std::filesystem::copy_file(urdf_resource("meshes/finger.stl"), dir.path() / "finger.stl");
  const auto file = dir.write("visuals.urdf", robot_xml(R"(
    <material name="red"><color rgba="1 0 0 1"/></material>
    <link name="body">
      <visual>
        <origin xyz="1 2 3" rpy="0 0 1.5707963267948966"/>
        <geometry><box size="0.1 0.2 0.3"/></geometry>
        <material name="red"/>
      </visual>
      <visual>
        <geometry><cylinder radius="0.05" length="0.4"/></geometry>
        <material name="local"><color rgba="0 0.5 1 0.5"/></material>
      </visual>
      <visual><geometry><sphere radius="0.2"/></geometry></visual>
      <visual>
        <geometry><mesh filename="finger.stl" scale="0.001 0.002 0.003"/></geometry>
        <material name="red"/>
      </visual>
      <visual><geometry><box size="1 1 1"/></geometry><material name="defined_nowhere"/></visual>
    </link>
    <joint name="j" type="fixed"><parent link="body"/><child link="empty"/></joint>
    <link name="empty"/>
  )", "visual_test"));
  const UrdfModel model = UrdfModel::load(file);
  EXPECT_EQ(model.name(), "visual_test");
  EXPECT_EQ(model.dof(), 0u);
  const auto& desc = model.description();
  EXPECT_EQ(desc.name, "visual_test");
  ASSERT_EQ(desc.links.size(), 2u);
  EXPECT_EQ(desc.links[0].name, "body");
  EXPECT_EQ(desc.links[1].name, "empty");
  EXPECT_TRUE(desc.links[1].visuals.empty());  // a link without visuals has zero of them
  const auto& v = desc.links[0].visuals;
  ASSERT_EQ(v.size(), 5u);

  EXPECT_EQ(v[0].shape, Shape::kBox);
  EXPECT_EQ(v[0].dims, (std::array<float, 3>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(v[0].offset_position, (std::array<float, 3>{1.0f, 2.0f, 3.0f}));
  EXPECT_NEAR(v[0].offset_orientation[2], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(v[0].offset_orientation[3], std::sqrt(0.5), 1e-6);
  EXPECT_EQ(v[0].rgba, (std::array<std::uint8_t, 4>{255, 0, 0, 255}));  // a material of the robot, by name

  EXPECT_EQ(v[1].shape, Shape::kCylinder);
  EXPECT_EQ(v[1].dims[0], 0.05f);
  EXPECT_EQ(v[1].dims[1], 0.4f);
  EXPECT_EQ(v[1].rgba, (std::array<std::uint8_t, 4>{0, 128, 255, 128}));  // defined in the visual

  EXPECT_EQ(v[2].shape, Shape::kSphere);
  EXPECT_EQ(v[2].dims[0], 0.2f);
  EXPECT_EQ(v[2].rgba, (std::array<std::uint8_t, 4>{200, 200, 200, 255}));  // no material: grey

  EXPECT_EQ(v[3].shape, Shape::kInlineMesh);
  EXPECT_EQ(v[3].scale, (std::array<float, 3>{0.001f, 0.002f, 0.003f}));
  EXPECT_EQ(v[3].rgba, (std::array<std::uint8_t, 4>{255, 0, 0, 255}));  // STL has no colour of its own
  ASSERT_EQ(model.meshes().size(), 1u);
  EXPECT_EQ(v[3].mesh, 0u);
  // urdfdom makes a material named but defined nowhere black; it is no colour: grey.
  EXPECT_EQ(v[4].rgba, (std::array<std::uint8_t, 4>{200, 200, 200, 255}));

  const auto footprint = model.footprint();
  EXPECT_EQ(footprint.links, 2u);
  EXPECT_EQ(footprint.visuals, 5u);
  EXPECT_EQ(footprint.meshes, 1u);
  EXPECT_EQ(footprint.mesh_bytes, 12u * 12 + 12u * 20);  // 12 vertices, 20 triangles
}

TEST(UrdfModel, StlMeshesKeepTheirFileUnitsAndTheUrdfScales) {
  const UrdfModel gripper = UrdfModel::load(urdf_resource("fs_gripper.urdf"));
  ASSERT_EQ(gripper.meshes().size(), 2u);
  // palm.stl (ASCII, metres): a box 0.05 x 0.12 x 0.06 on z = 0.
  EXPECT_EQ(gripper.meshes()[0].vertex_count(), 8u);
  EXPECT_EQ(gripper.meshes()[0].triangle_count(), 12u);
  EXPECT_BOUNDS(gripper.meshes()[0], -0.025, -0.06, 0, 0.025, 0.06, 0.06);
  // finger.stl (binary, millimetres), scaled by 0.001 in the URDF; one mesh for both fingers.
  EXPECT_EQ(gripper.meshes()[1].vertex_count(), 12u);
  EXPECT_EQ(gripper.meshes()[1].triangle_count(), 20u);
  EXPECT_BOUNDS(gripper.meshes()[1], -5, -7.5, 0, 5, 7.5, 50);
  const auto& links = gripper.description().links;
  EXPECT_EQ(links[1].visuals[0].mesh, 1u);
  EXPECT_EQ(links[2].visuals[0].mesh, 1u);
  EXPECT_EQ(links[1].visuals[0].scale, (std::array<float, 3>{0.001f, 0.001f, 0.001f}));
  EXPECT_EQ(links[1].visuals[0].rgba, (std::array<std::uint8_t, 4>{51, 51, 56, 255}));  // fs_dark
}

TEST(UrdfModel, ColladaUnitsAreAppliedAndPartsKeepTheirOwnColours) {
  const UrdfModel robot = UrdfModel::load(urdf_resource("fs_mobile_manipulator.urdf"));
  const auto& base = robot.description().links[1];
  ASSERT_EQ(base.name, "base_link");
  // base_shell.dae: authored in centimetres, Z up, its node raised 4 cm; two materials, two parts.
  ASSERT_EQ(base.visuals.size(), 3u);
  const MeshData& chassis = robot.meshes()[base.visuals[0].mesh];
  const MeshData& bumper = robot.meshes()[base.visuals[1].mesh];
  EXPECT_EQ(chassis.vertex_count(), 12u);
  EXPECT_EQ(chassis.triangle_count(), 20u);
  EXPECT_BOUNDS(chassis, -0.30, -0.20, 0.04, 0.30, 0.20, 0.20);
  EXPECT_EQ(bumper.vertex_count(), 8u);
  EXPECT_EQ(bumper.triangle_count(), 12u);
  EXPECT_BOUNDS(bumper, 0.30, -0.22, 0.06, 0.34, 0.22, 0.12);
  EXPECT_EQ(base.visuals[0].rgba, (std::array<std::uint8_t, 4>{77, 82, 92, 255}));
  EXPECT_EQ(base.visuals[1].rgba, (std::array<std::uint8_t, 4>{242, 204, 26, 255}));
  EXPECT_EQ(base.visuals[2].shape, Shape::kBox);  // the sleeve
  // wheel.obj (no material library) takes the URDF's colour; the four wheels share one mesh.
  const auto& wheel = robot.description().links[2];
  ASSERT_EQ(wheel.name, "front_left_wheel");
  EXPECT_EQ(wheel.visuals[0].rgba, (std::array<std::uint8_t, 4>{51, 51, 56, 255}));
  EXPECT_EQ(robot.meshes()[wheel.visuals[0].mesh].vertex_count(), 34u);
  EXPECT_EQ(robot.meshes()[wheel.visuals[0].mesh].triangle_count(), 64u);
  EXPECT_EQ(robot.description().links[5].visuals[0].mesh, wheel.visuals[0].mesh);
  // The arm's links share arm_link.dae's two parts (sides, caps): 7 distinct meshes in all.
  EXPECT_EQ(robot.meshes().size(), 7u);
}

TEST(UrdfModel, ColladaUpAxisIsIgnoredAsRVizDoes) {
  TempDir dir;
  dir.write("z_up.dae", triangle_dae("Z_UP", "0.01"));
  dir.write("y_up.dae", triangle_dae("Y_UP", "1"));
  const UrdfModel model = UrdfModel::load(
      dir.write("axes.urdf", robot_xml(mesh_link("a", "z_up.dae") + R"(
        <joint name="j" type="fixed"><parent link="a"/><child link="b"/></joint>)" +
                                       mesh_link("b", "y_up.dae"))));
  ASSERT_EQ(model.meshes().size(), 2u);
  // Centimetres scaled to metres, node translation included, no axis swapped.
  EXPECT_EQ(model.meshes()[0].vertices, (std::vector<float>{0, 0, 0.03f, 0.01f, 0, 0.03f, 0, 0.02f, 0.03f}));
  EXPECT_EQ(model.meshes()[1].vertices, (std::vector<float>{0, 0, 3, 1, 0, 3, 0, 2, 3}));
}

TEST(UrdfModel, ReadsGltfAndPlyMeshesToo) {
  TempDir dir;
  // One triangle each; the glTF node lifts it by 1 m (node transforms are applied).
  dir.write("t.gltf", R"({"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
    "nodes": [{"mesh": 0, "translation": [0, 0, 1]}],
    "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
    "buffers": [{"byteLength": 44,
                 "uri": "data:application/octet-stream;base64,AAAAAAAAAAAAAAAAAACAPwAAAAAAAAAAAAAAAAAAAEAAAAAAAAABAAIAAAA="}],
    "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}, {"buffer": 0, "byteOffset": 36, "byteLength": 6}],
    "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 2, 0]},
                  {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"}]})");
  dir.write("t.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                     "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 2 0\n3 0 1 2\n");
  const UrdfModel model = UrdfModel::load(dir.write(
      "formats.urdf", robot_xml(mesh_link("a", "t.gltf") + R"(
        <joint name="j" type="fixed"><parent link="a"/><child link="b"/></joint>)" + mesh_link("b", "t.ply"))));
  ASSERT_EQ(model.meshes().size(), 2u);
  EXPECT_EQ(model.meshes()[0].vertices, (std::vector<float>{0, 0, 1, 1, 0, 1, 0, 2, 1}));
  EXPECT_EQ(model.meshes()[0].triangles, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(model.meshes()[1].vertices, (std::vector<float>{0, 0, 0, 1, 0, 0, 0, 2, 0}));
  EXPECT_EQ(model.meshes()[1].triangle_count(), 1u);
}

TEST(UrdfModel, FindsPackagesInTheSearchPathInRosPackagePathAndAboveTheUrdf) {
  TempDir dir;
  const std::string urdf = robot_xml(mesh_link("a", "package://my_robot/meshes/palm.stl"));
  // A package whose directory is named otherwise: its package.xml says what it is.
  dir.write("ws/src/robot_pkg/package.xml", "<package><name>my_robot</name></package>");
  std::filesystem::create_directories(dir.path() / "ws/src/robot_pkg/meshes");
  std::filesystem::copy_file(urdf_resource("meshes/palm.stl"), dir.path() / "ws/src/robot_pkg/meshes/palm.stl");
  const auto outside = dir.write("elsewhere/robot.urdf", urdf);

  UrdfOptions options;
  options.use_ros_package_path = false;
  EXPECT_EQ(load_error(outside, options).code(), ErrorCode::kNotFound);
  options.search_path = {dir.path() / "ws"};
  EXPECT_EQ(UrdfModel::load(outside, options).meshes().size(), 1u);

  ::setenv("ROS_PACKAGE_PATH", ("/nonexistent:" + (dir.path() / "ws/src").string()).c_str(), 1);
  EXPECT_EQ(UrdfModel::load(outside).meshes().size(), 1u);
  ::unsetenv("ROS_PACKAGE_PATH");

  // A URDF inside its package finds the package upwards.
  const auto inside = dir.write("ws/src/robot_pkg/urdf/robot.urdf", urdf);
  EXPECT_EQ(UrdfModel::load(inside).meshes().size(), 1u);
  // The project's robots name their meshes package://fleetscope_robots/...
  EXPECT_EQ(UrdfModel::load(urdf_resource("fs_arm6.urdf")).meshes().size(), 2u);
}

TEST(UrdfModel, RelativePathsAreTriedBesideTheUrdfThenInTheSearchPath) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "assets");
  std::filesystem::copy_file(urdf_resource("meshes/palm.stl"), dir.path() / "assets/palm.stl");
  const auto file = dir.write("urdf/robot.urdf", robot_xml(mesh_link("a", "palm.stl")));
  EXPECT_EQ(load_error(file).code(), ErrorCode::kNotFound);
  UrdfOptions options;
  options.search_path = {dir.path() / "assets"};
  EXPECT_EQ(UrdfModel::load(file, options).meshes().size(), 1u);
  // file:// URIs and absolute paths are taken as they are.
  const auto absolute = dir.write("urdf/absolute.urdf",
                                  robot_xml(mesh_link("a", "file://" + (dir.path() / "assets/palm.stl").string())));
  EXPECT_EQ(UrdfModel::load(absolute).meshes().size(), 1u);
}

TEST(UrdfModel, MalformedUrdfNamesTheFileAndTheReason) {
  TempDir dir;
  const auto broken = dir.write("broken.urdf", "<robot name=\"x\"><link name=\"a\">");
  const UrdfError e = load_error(broken);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.file(), broken.string());
  EXPECT_NE(std::string(e.what()).find(broken.string()), std::string::npos) << e.what();
  EXPECT_NE(e.reason().find("malformed"), std::string::npos) << e.what();

  // urdfdom's own complaint reaches the message.
  const UrdfError orphan = load_error(dir.write(
      "orphan.urdf", robot_xml(R"(<link name="a"/><joint name="j" type="fixed"><parent link="a"/><child link="ghost"/></joint>)")));
  EXPECT_EQ(orphan.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(orphan.what()).find("ghost"), std::string::npos) << orphan.what();

  const UrdfError two_roots = load_error(dir.write("roots.urdf", robot_xml(R"(<link name="a"/><link name="b"/>)")));
  EXPECT_EQ(two_roots.code(), ErrorCode::kInvalidArgument);

  const UrdfError flat_box = load_error(dir.write(
      "box.urdf", robot_xml(R"(<link name="boxy"><visual><geometry><box size="1 0 1"/></geometry></visual></link>)")));
  EXPECT_EQ(flat_box.link(), "boxy");
  EXPECT_NE(std::string(flat_box.what()).find("link 'boxy'"), std::string::npos) << flat_box.what();

  const UrdfError missing = load_error(dir.path() / "nothere.urdf");
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(missing.what()).find("nothere.urdf"), std::string::npos) << missing.what();
}

TEST(UrdfModel, MimicOfAJointThatDoesNotExistOrDoesNotMove) {
  TempDir dir;
  auto robot = [](const std::string& mimicked) {
    return robot_xml(R"(
      <link name="a"/>
      <joint name="fixed" type="fixed"><parent link="a"/><child link="b"/></joint>
      <link name="b"/>
      <joint name="follower" type="revolute"><parent link="b"/><child link="c"/><axis xyz="0 0 1"/>
        <limit lower="-1" upper="1" effort="1" velocity="1"/><mimic joint=")" + mimicked + R"("/></joint>
      <link name="c"/>)");
  };
  for (const std::string target : {"ghost", "fixed"}) {
    const UrdfError e = load_error(dir.write(target + ".urdf", robot(target)));
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.link(), "c");
    EXPECT_NE(std::string(e.what()).find("'" + target + "'"), std::string::npos) << e.what();
  }
}

TEST(UrdfModel, MissingMeshNamesTheLinkAndWhereItWasLookedFor) {
  TempDir dir;
  const auto file = dir.write("r.urdf", robot_xml(mesh_link("hand", "meshes/nothere.stl")));
  const UrdfError e = load_error(file);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.file(), file.string());
  EXPECT_EQ(e.link(), "hand");
  EXPECT_NE(std::string(e.what()).find("link 'hand'"), std::string::npos) << e.what();
  EXPECT_NE(e.reason().find("meshes/nothere.stl"), std::string::npos) << e.what();

  const UrdfError package = load_error(dir.write("p.urdf", robot_xml(mesh_link("hand", "package://no_such_pkg/m.stl"))));
  EXPECT_EQ(package.code(), ErrorCode::kNotFound);
  EXPECT_NE(package.reason().find("no package 'no_such_pkg'"), std::string::npos) << package.what();
}

TEST(UrdfModel, UnsupportedOrBrokenMeshFilesAreRefused) {
  TempDir dir;
  dir.write("m.fbx", "Kaydara FBX Binary");
  const UrdfError fbx = load_error(dir.write("fbx.urdf", robot_xml(mesh_link("arm", "m.fbx"))));
  EXPECT_EQ(fbx.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(fbx.link(), "arm");
  EXPECT_NE(fbx.reason().find("unsupported mesh format '.fbx'"), std::string::npos) << fbx.what();

  dir.write("broken.dae", "<COLLADA>this is not");
  const UrdfError dae = load_error(dir.write("dae.urdf", robot_xml(mesh_link("arm", "broken.dae"))));
  EXPECT_EQ(dae.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(dae.reason().find("assimp cannot read it"), std::string::npos) << dae.what();

  std::filesystem::create_directories(dir.path() / "folder.stl");
  const UrdfError folder = load_error(dir.write("dir.urdf", robot_xml(mesh_link("arm", "folder.stl"))));
  EXPECT_NE(folder.reason().find("a directory"), std::string::npos) << folder.what();
}

// Files built to break recursive parsers (TinyXML, assimp's COLLADA and glTF importers) or to
// make them reserve memory for what is not there: each refused with a reason, before the parser
// runs (each of these crashed the process or exhausted memory before the checks).
TEST(UrdfModel, HostileStructureIsRefusedBeforeAParserRecursesOrReserves) {
  TempDir dir;
  auto reason_of = [&](const std::string& name, const std::string& mesh_file, const std::string& content) {
    dir.write(mesh_file, content);
    return load_error(dir.write(name + ".urdf", robot_xml(mesh_link("a", mesh_file)))).reason();
  };
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };

  // A URDF nested 50,000 elements deep.
  const UrdfError deep_urdf = load_error(dir.write(
      "deep.urdf", "<robot name=\"r\"><link name=\"a\">" + repeat("<x>", 50000) + repeat("</x>", 50000) + "</link></robot>"));
  EXPECT_EQ(deep_urdf.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(deep_urdf.reason().find("nested more than 256 elements deep"), std::string::npos) << deep_urdf.what();

  // COLLADA around one triangle: 30,000 nested nodes; a node instancing itself through another;
  // 4 instances a level over 10 levels (4^10 node instances).
  const std::string head = triangle_dae("Z_UP", "1").substr(0, triangle_dae("Z_UP", "1").find("<library_visual_scenes>"));
  auto dae = [&](const std::string& library, const std::string& scene) {
    return head + library + "<library_visual_scenes><visual_scene id=\"s\">" + scene +
           "</visual_scene></library_visual_scenes><scene><instance_visual_scene url=\"#s\"/></scene></COLLADA>";
  };
  EXPECT_NE(reason_of("dae_deep", "deep.dae", dae("", repeat("<node>", 30000) + "<instance_geometry url=\"#t\"/>" +
                                                          repeat("</node>", 30000)))
                .find("nested more than 256 elements deep"),
            std::string::npos);
  EXPECT_NE(reason_of("dae_cycle", "cycle.dae",
                      dae("<library_nodes><node id=\"a\"><instance_node url=\"#b\"/><instance_geometry url=\"#t\"/></node>"
                          "<node id=\"b\"><instance_node url=\"#a\"/></node></library_nodes>",
                          "<node><instance_node url=\"#a\"/></node>"))
                .find("COLLADA node graph has a cycle"),
            std::string::npos);
  std::string bomb = "<library_nodes><node id=\"n0\"><instance_geometry url=\"#t\"/></node>";
  for (int level = 1; level <= 10; ++level) {
    bomb += "<node id=\"n" + std::to_string(level) + "\">" +
            repeat("<instance_node url=\"#n" + std::to_string(level - 1) + "\"/>", 4) + "</node>";
  }
  EXPECT_NE(reason_of("dae_bomb", "bomb.dae", dae(bomb + "</library_nodes>", "<node><instance_node url=\"#n10\"/></node>"))
                .find("unfolds into more than 100000 node instances"),
            std::string::npos);

  // glTF: a cycle, a chain 1,000 nodes long, and 20 levels of two children naming the same node.
  auto gltf = [](const std::string& nodes) {
    return R"({"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [)" + nodes + "]}";
  };
  EXPECT_NE(reason_of("gltf_cycle", "cycle.gltf", gltf(R"({"children": [1]}, {"children": [0]})"))
                .find("glTF node graph has a cycle"),
            std::string::npos);
  std::string chain, dag;
  for (int i = 0; i < 1000; ++i) chain += (i ? "," : "") + std::string(R"({"children": [)") + std::to_string(i + 1) + "]}";
  for (int i = 0; i < 20; ++i) dag += R"({"children": [)" + std::to_string(i + 1) + "," + std::to_string(i + 1) + "]},";
  EXPECT_NE(reason_of("gltf_chain", "chain.gltf", gltf(chain + ",{}")).find("nested more than 256 levels deep"),
            std::string::npos);
  EXPECT_NE(reason_of("gltf_dag", "dag.gltf", gltf(dag + "{}")).find("unfolds into more than 100000 node instances"),
            std::string::npos);
  EXPECT_NE(reason_of("gltf_json", "json.gltf", repeat("[", 100000)).find("nested more than 256 levels deep"),
            std::string::npos);

  // A PLY header declaring 2,000,000,000 vertices over three (assimp reserved 23 GB for it).
  EXPECT_NE(reason_of("ply_lie", "lie.ply",
                      "ply\nformat ascii 1.0\nelement vertex 2000000000\nproperty float x\nproperty float y\n"
                      "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
                      "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
                .find("declares 2000000000 'vertex' elements"),
            std::string::npos);

  // Instancing within the bounds still unfolds: 3 x 3 instances of one triangle.
  dir.write("nine.dae", dae("<library_nodes><node id=\"leaf\"><instance_geometry url=\"#t\"/></node>"
                            "<node id=\"mid\">" + repeat("<instance_node url=\"#leaf\"/>", 3) + "</node></library_nodes>",
                            "<node>" + repeat("<instance_node url=\"#mid\"/>", 3) + "</node>"));
  const UrdfModel nine = UrdfModel::load(dir.write("nine.urdf", robot_xml(mesh_link("a", "nine.dae"))));
  ASSERT_EQ(nine.meshes().size(), 1u);
  EXPECT_EQ(nine.meshes()[0].triangle_count(), 9u);
}

TEST(UrdfModel, LongNamesAreCutToWhatASegmentHolds) {
  TempDir dir;
  const std::string link(40, 'l');
  const UrdfModel model = UrdfModel::load(
      dir.write("long.urdf", robot_xml("<link name=\"" + link + "\"/>", std::string(60, 'r'))));
  EXPECT_EQ(model.link_names()[0], link);                        // the model keeps the full names
  EXPECT_EQ(model.description().links[0].name, link.substr(0, 31));  // the segment gets 31 bytes
  EXPECT_EQ(model.description().name.size(), 47u);
}
