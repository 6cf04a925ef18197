// The Foxglove channel encoders (recording/src/foxglove_channels.cpp, FORMAT.md "Foxglove
// channels") on hand-made layouts: frame and entity names, every visual shape, transforms and
// scalars. tests/interop/validate_foxglove.js validates real recordings against the published
// schemas.
#include "fleetscope/recording/foxglove_channels.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace fleetscope::recording {
namespace {

using nlohmann::json;

ipc::LinkVisual visual(const char* link, ipc::Shape shape, std::array<float, 3> dims) {
  ipc::LinkVisual v{};
  std::strncpy(v.link_name, link, sizeof v.link_name - 1);
  v.shape = static_cast<std::uint32_t>(shape);
  std::memcpy(v.dims, dims.data(), sizeof v.dims);
  v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
  v.offset_orientation[3] = 1.0f;
  v.rgba[0] = 255;
  v.rgba[3] = 255;
  return v;
}

// Model 0 "arm": links "base", "", "base" (the second "base" and the unnamed one get link<INDEX>),
// every shape on them, link 2 without visuals. Robots "a" (slot 3), "b" (slot 5), "b" (slot 7).
ipc::LayoutSnapshot layout() {
  ipc::LayoutSnapshot l;
  ipc::ModelSnapshot m;
  m.name = "arm";
  m.visuals = {visual("base", ipc::Shape::kBox, {1, 2, 3}), visual("", ipc::Shape::kBox, {0, 0, 0}),
               visual("base", ipc::Shape::kBox, {0, 0, 0})};
  auto capsule = visual("base", ipc::Shape::kCapsule, {0.1f, 0.4f, 0});
  // Rotated 90 degrees about x: the capsule's z axis is the link's -y.
  capsule.offset_orientation[0] = std::sqrt(0.5f);
  capsule.offset_orientation[3] = std::sqrt(0.5f);
  capsule.offset_position[0] = 1.0f;
  auto mesh_file = visual("", ipc::Shape::kMesh, {0, 0, 0});
  std::strncpy(mesh_file.mesh_path, "/meshes/my part.STL", sizeof mesh_file.mesh_path - 1);
  mesh_file.scale[0] = 0.001f;
  auto stored = visual("", ipc::Shape::kInlineMesh, {0, 0, 0});
  stored.scale[2] = 2.0f;
  stored.rgba[3] = 51;
  m.all_visuals = {{0, visual("base", ipc::Shape::kBox, {1, 2, 3}), 0},
                   {0, capsule, 0},
                   {0, visual("base", ipc::Shape::kPlane, {4, 5, 0}), 0},
                   {1, visual("", ipc::Shape::kSphere, {0.5f, 0, 0}), 0},
                   {1, visual("", ipc::Shape::kEllipsoid, {0.1f, 0.2f, 0.3f}), 0},
                   {1, visual("", ipc::Shape::kCylinder, {0.1f, 0.2f, 0}), 0},
                   {1, mesh_file, 0},
                   {1, stored, 4},
                   {1, visual("", ipc::Shape::kInlineMesh, {0, 0, 0}), 9}};  // unreadable: left out
  l.models.push_back(m);
  l.robots = {{3, "a", 0, 3, 1}, {5, "b", 0, 3, 2}, {7, "b", 0, 3, 3}};
  l.epoch = 1;
  return l;
}

TEST(FoxgloveChannels, FrameAndEntityIdsAreUniquePerLayout) {
  const auto f = foxglove_frames("fleet", layout());
  ASSERT_EQ(f.frame_ids.size(), 3u);
  EXPECT_EQ(f.frame_ids.at(3), (std::vector<std::string>{"fleet/a/link0", "fleet/a/link1", "fleet/a/link2"}));
  EXPECT_EQ(f.frame_ids.at(5)[0], "fleet/b#5/link0");
  EXPECT_EQ(f.entity_ids.at(7)[2], "b#7/link2");

  ipc::LayoutSnapshot named = layout();
  named.models[0].visuals[0] = visual("torso", ipc::Shape::kBox, {1, 1, 1});
  named.robots.resize(1);
  EXPECT_EQ(foxglove_frames("fleet", named).frame_ids.at(3)[0], "fleet/a/torso");
}

TEST(FoxgloveChannels, SceneUpdateHasAnEntityPerLinkWithVisualsAndEveryShape) {
  const auto l = layout();
  const auto frames = foxglove_frames("fleet", l);
  auto tetra = std::make_shared<ipc::MeshData>();
  tetra->vertices = {0, 0, 0, 0.1f, 0, 0, 0, 0.1f, 0, 0, 0, 0.1f};
  tetra->triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  const FoxgloveMeshLookup meshes = [&](std::uint32_t i) -> std::shared_ptr<const ipc::MeshData> {
    return i == 4 ? tetra : nullptr;
  };
  const json j = json::parse(foxglove_scene_update("fleet", l, frames, meshes, 12'000'000'123ULL));
  ASSERT_EQ(j["deletions"].size(), 1u);
  EXPECT_EQ(j["deletions"][0]["type"], 1);  // ALL
  EXPECT_EQ(j["deletions"][0]["timestamp"], (json{{"sec", 12}, {"nsec", 123}}));
  ASSERT_EQ(j["entities"].size(), 6u);  // 3 robots x links 0 and 1 (link 2 has no visual)
  const json& e0 = j["entities"][0];
  EXPECT_EQ(e0["id"], "a/link0");
  EXPECT_EQ(e0["frame_id"], "fleet/a/link0");
  EXPECT_TRUE(e0["frame_locked"].get<bool>());
  EXPECT_EQ(e0["metadata"][1], (json{{"key", "robot"}, {"value", "a"}}));
  // Box, plane (1 mm slab), capsule = cylinder + two spheres along its rotated z axis.
  ASSERT_EQ(e0["cubes"].size(), 2u);
  EXPECT_EQ(e0["cubes"][0]["size"], (json{{"x", 1.0}, {"y", 2.0}, {"z", 3.0}}));
  EXPECT_EQ(e0["cubes"][0]["color"], (json{{"r", 1.0}, {"g", 0.0}, {"b", 0.0}, {"a", 1.0}}));
  EXPECT_EQ(e0["cubes"][1]["size"], (json{{"x", 4.0}, {"y", 5.0}, {"z", 0.001}}));
  ASSERT_EQ(e0["cylinders"].size(), 1u);
  EXPECT_EQ(e0["cylinders"][0]["size"], (json{{"x", 0.2}, {"y", 0.2}, {"z", 0.4}}));
  ASSERT_EQ(e0["spheres"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& p = e0["spheres"][i]["pose"]["position"];
    EXPECT_NEAR(p["x"].get<double>(), 1.0, 1e-6);
    EXPECT_NEAR(p["y"].get<double>(), i == 0 ? 0.2 : -0.2, 1e-6);  // (0, 0, -+0.2) rotated about x
    EXPECT_NEAR(p["z"].get<double>(), 0.0, 1e-6);
  }
  const json& e1 = j["entities"][1];
  EXPECT_EQ(e1["id"], "a/link1");
  ASSERT_EQ(e1["spheres"].size(), 2u);
  EXPECT_EQ(e1["spheres"][0]["size"], (json{{"x", 1.0}, {"y", 1.0}, {"z", 1.0}}));
  EXPECT_EQ(e1["spheres"][1]["size"], (json{{"x", 0.2}, {"y", 0.4}, {"z", 0.6}}));  // shortest decimals
  EXPECT_EQ(e1["cylinders"][0]["size"], (json{{"x", 0.2}, {"y", 0.2}, {"z", 0.2}}));
  ASSERT_EQ(e1["models"].size(), 1u);
  EXPECT_EQ(e1["models"][0]["url"], "file:///meshes/my%20part.STL");
  EXPECT_EQ(e1["models"][0]["media_type"], "model/stl");
  EXPECT_EQ(e1["models"][0]["scale"]["x"], 0.001);
  ASSERT_EQ(e1["triangles"].size(), 1u);  // the unreadable mesh is left out
  EXPECT_EQ(e1["triangles"][0]["points"].size(), 4u);
  EXPECT_EQ(e1["triangles"][0]["points"][3], (json{{"x", 0.0}, {"y", 0.0}, {"z", 0.2}}));  // scaled
  EXPECT_EQ(e1["triangles"][0]["indices"].size(), 12u);
  EXPECT_EQ(e1["triangles"][0]["color"]["a"], 0.2);
}

TEST(FoxgloveChannels, TransformsHoldTheGivenLinksAsShortestF32Decimals) {
  const auto frames = foxglove_frames("fleet", layout());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<RobotPoses> robots{{3, {0, 2}, {{{0.1f, -2.5f, 3}, {0, 0, 0.6f, 0.8f}, 0}, {{1, 2, 3}, {0, 0, 0, 1}, 0}}},
                                 {5, {1}, {{{nan, 0, 0}, {0, 0, 0, 1}, 0}}},   // not finite: left out
                                 {9, {0}, {{{1, 2, 3}, {0, 0, 0, 1}, 0}}}};    // no such robot
  const std::string text = foxglove_frame_transforms(robots, frames, 5'000'000'007ULL);
  EXPECT_NE(text.find("0.1"), std::string::npos);
  EXPECT_EQ(text.find("0.100000"), std::string::npos);
  const json j = json::parse(text);
  ASSERT_EQ(j["transforms"].size(), 2u);
  const json& t = j["transforms"][0];
  EXPECT_EQ(t["parent_frame_id"], "world");
  EXPECT_EQ(t["child_frame_id"], "fleet/a/link0");
  EXPECT_EQ(t["timestamp"], (json{{"sec", 5}, {"nsec", 7}}));
  EXPECT_EQ(static_cast<float>(t["translation"]["x"].get<double>()), 0.1f);
  EXPECT_EQ(t["translation"]["y"], -2.5);
  EXPECT_EQ(static_cast<float>(t["rotation"]["z"].get<double>()), 0.6f);
  EXPECT_EQ(j["transforms"][1]["child_frame_id"], "fleet/a/link2");
}

TEST(FoxgloveChannels, ScalarsLeaveOutValuesThatAreNotFinite) {
  const json a = json::parse(foxglove_scalar({0, 42, 1'700'000'000'500'000'000ULL, 0.25}));
  EXPECT_EQ(a, (json{{"step", 42}, {"value", 0.25}, {"wall_time", 1'700'000'000.5}}));
  const json b = json::parse(foxglove_scalar({0, -1, 0, std::numeric_limits<double>::infinity()}));
  EXPECT_FALSE(b.contains("value"));
  EXPECT_EQ(b["step"], -1);
}

TEST(FoxgloveChannels, StoresThePublishedSchemas) {
  EXPECT_EQ(foxglove_schemas_version(), "2.1.0");
  for (const char* name : {"foxglove.SceneUpdate", "foxglove.FrameTransforms", "fleetscope.Scalar"}) {
    const json s = json::parse(foxglove_schema(name));
    EXPECT_EQ(s["title"], name);
    EXPECT_EQ(s["type"], "object");
  }
  EXPECT_TRUE(foxglove_schema("foxglove.Nothing").empty());
}

}  // namespace
}  // namespace fleetscope::recording
