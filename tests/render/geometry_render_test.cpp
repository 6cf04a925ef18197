// What format 1.3 adds to the picture, checked on real frames (offscreen, Xvfb + llvmpipe) of real
// segments: translucency that never makes opaque visuals see-through, several visuals per link,
// planes, ellipsoids and stored meshes, per-robot colours changed at run time, stored meshes
// shared across segments, and the scene's own ground plane.
#include <gtest/gtest.h>
#include <vtkCamera.h>
#include <vtkRenderer.h>

#include <array>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;
using namespace fleetscope::render;

namespace {

constexpr int kW = 200, kH = 150;

LinkVisualDesc shape(ipc::Shape s, std::array<float, 3> dims, std::array<std::uint8_t, 4> rgba,
                     std::array<float, 3> offset = {0, 0, 0}) {
  LinkVisualDesc v;
  v.shape = s;
  v.dims = dims;
  v.rgba = rgba;
  v.offset_position = offset;
  return v;
}

WriterConfig config(const std::string& stem, std::uint64_t mesh_bytes = 0) {
  WriterConfig c;
  c.name = fleetscope::testing::unique_name("geo." + stem);
  c.max_robots = 16;
  c.max_links = 8;
  c.mesh_bytes = mesh_bytes;
  return c;
}

// Looks straight down (-z) at the origin, orthographic: world x right, world y up in the image.
void look_down(OffscreenView& view, double half_height) {
  vtkCamera* cam = view.renderer()->GetActiveCamera();
  cam->SetParallelProjection(true);
  cam->SetPosition(0, 0, 20);
  cam->SetFocalPoint(0, 0, 0);
  cam->SetViewUp(0, 1, 0);
  cam->SetParallelScale(half_height);
  cam->SetClippingRange(0.1, 100);
}

std::array<int, 2> to_display(OffscreenView& view, double x, double y, double z) {
  vtkRenderer* ren = view.renderer();
  ren->SetWorldPoint(x, y, z, 1.0);
  ren->WorldToDisplay();
  double d[3];
  ren->GetDisplayPoint(d);
  return {static_cast<int>(std::lround(d[0])), static_cast<int>(std::lround(d[1]))};
}

Rgb at(OffscreenView& view, double x, double y, double z) {
  const auto p = to_display(view, x, y, z);
  return view.pixel(p[0], p[1]);
}

// The dominant channel of a pixel: 0 red, 1 green, 2 blue; -1 when none leads clearly.
int dominant(Rgb c) {
  const int v[3] = {c.r, c.g, c.b};
  for (int i = 0; i < 3; ++i) {
    if (v[i] > 60 && v[i] > 2 * v[(i + 1) % 3] && v[i] > 2 * v[(i + 2) % 3]) return i;
  }
  return -1;
}

std::string text(Rgb c) {
  return std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b);
}

std::vector<double> identity_poses(std::uint32_t links) {
  std::vector<double> v;
  for (std::uint32_t l = 0; l < links; ++l) v.insert(v.end(), {0, 0, 0, 0, 0, 0, 1});
  return v;
}

void place(SimWriter& w, std::uint32_t robot, double x, double y, double z) {
  const double p[7] = {x, y, z, 0, 0, 0, 1};
  w.set_robot_poses(robot, std::span<const double>(p, 7));
}

ipc::MeshData tetrahedron(float size) {
  ipc::MeshData m;
  m.vertices = {0, 0, 0, size, 0, 0, 0, size, 0, 0, 0, size};
  m.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  return m;
}

}  // namespace

TEST(GeometryRender, TranslucentVisualNeverMakesOpaqueOnesSeeThrough) {
  // Seen from above: a red box low at x < 0, an opaque green box over its right half (higher),
  // and, elsewhere (x > 1.5), a translucent blue box of the same shape. Before translucent
  // instances had batches of their own, the green box let the red one show through.
  SimWriter w(config("translucent"));
  const auto red = w.add_model(ModelDesc{"red", {shape(ipc::Shape::kBox, {1.2f, 1.2f, 0.4f}, {220, 30, 30, 255})}});
  const auto green = w.add_model(ModelDesc{"green", {shape(ipc::Shape::kBox, {1.2f, 1.2f, 0.4f}, {30, 200, 30, 255})}});
  const auto glass = w.add_model(ModelDesc{"glass", {shape(ipc::Shape::kBox, {1.2f, 1.2f, 0.4f}, {40, 60, 230, 100})}});
  place(w, w.spawn_robot("red", red), -1.0, 0, 0);
  place(w, w.spawn_robot("green", green), -0.4, 0, 1.0);
  place(w, w.spawn_robot("glass", glass), 1.8, 0, 1.0);
  // The translucent box also covers part of a second red box: there, red and blue blend.
  place(w, w.spawn_robot("red2", red), 2.2, 0, 0);
  w.publish(0.0);

  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(w.segment().name());
  scene.update();
  look_down(view, 2.0);
  view.render();

  const Rgb only_red = at(view, -1.45, 0, 0.2);
  const Rgb green_over_red = at(view, -0.6, 0, 1.2);
  const Rgb green_alone = at(view, -0.1, 0, 1.2);
  const Rgb glass_over_red = at(view, 2.0, 0, 1.2);
  const Rgb glass_alone = at(view, 1.4, 0, 1.2);
  EXPECT_EQ(dominant(only_red), 0) << text(only_red);
  EXPECT_EQ(dominant(green_over_red), 1) << "opaque green over red shows " << text(green_over_red);
  // The opaque box looks the same over the red box as over nothing.
  EXPECT_LE(std::abs(green_over_red.r - green_alone.r) + std::abs(green_over_red.g - green_alone.g) +
                std::abs(green_over_red.b - green_alone.b),
            12)
      << "red shows through the opaque box: " << text(green_over_red) << " over red, " << text(green_alone) << " alone";
  // Blended: both the red below and the blue glass contribute.
  EXPECT_GT(glass_over_red.r, 60) << text(glass_over_red);
  EXPECT_GT(glass_over_red.b, 60) << text(glass_over_red);
  EXPECT_EQ(dominant(glass_alone), 2) << text(glass_alone);
}

TEST(GeometryRender, EveryVisualOfALinkAndTheNewShapesAreDrawnWhereTheyBelong) {
  // One link, four visuals: a plane (3 x 2 m, grey) at z = 0, a red ellipsoid, a green box and a
  // blue stored mesh, each at its own offset; a second link (moved by its pose) carries a yellow
  // sphere. Seen from above.
  WriterConfig c = config("visuals", 4096);
  SimWriter w(c);
  const auto mesh = w.add_mesh(tetrahedron(0.6f));
  LinkVisualDesc stored;
  stored.shape = ipc::Shape::kInlineMesh;
  stored.mesh = mesh;
  stored.rgba = {40, 60, 230, 255};
  stored.offset_position = {0.8f, 0.3f, 0.1f};
  RobotModelDesc model{"multi",
                       {LinkDesc{"base",
                                 {shape(ipc::Shape::kPlane, {3.0f, 2.0f, 0}, {150, 150, 150, 255}),
                                  shape(ipc::Shape::kEllipsoid, {0.5f, 0.25f, 0.2f}, {220, 30, 30, 255}, {-0.9f, 0.4f, 0.3f}),
                                  shape(ipc::Shape::kBox, {0.4f, 0.4f, 0.4f}, {30, 200, 30, 255}, {-0.9f, -0.5f, 0.3f}), stored}},
                        LinkDesc{"arm", {shape(ipc::Shape::kSphere, {0.25f, 0, 0}, {230, 210, 30, 255})}},
                        LinkDesc{"no_visual", {}}}};
  const auto id = w.spawn_robot("multi", w.add_model(model));
  const double poses[21] = {0, 0, 0, 0, 0, 0, 1, 0.9, -0.5, 0.3, 0, 0, 0, 1, 5, 5, 5, 0, 0, 0, 1};
  w.set_robot_poses(id, std::span<const double>(poses, 21));
  w.publish(0.0);

  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(w.segment().name());
  scene.update();
  look_down(view, 1.3);
  view.render();

  EXPECT_EQ(dominant(at(view, -0.9, 0.4, 0.5)), 0) << "ellipsoid " << text(at(view, -0.9, 0.4, 0.5));
  EXPECT_EQ(dominant(at(view, -1.3, 0.4, 0.5)), 0) << "the ellipsoid reaches 0.5 m along x";
  EXPECT_NE(dominant(at(view, -0.9, 0.72, 0.5)), 0) << "but only 0.25 m along y";
  EXPECT_EQ(dominant(at(view, -0.9, -0.5, 0.5)), 1) << "box " << text(at(view, -0.9, -0.5, 0.5));
  EXPECT_EQ(dominant(at(view, 0.95, 0.45, 0.5)), 2) << "stored mesh " << text(at(view, 0.95, 0.45, 0.5));
  const Rgb sphere = at(view, 0.9, -0.5, 0.5);
  EXPECT_GT(sphere.r, 120);
  EXPECT_GT(sphere.g, 120);
  EXPECT_LT(2 * sphere.b, sphere.r) << "yellow sphere of the second link " << text(sphere);
  const Rgb plane = at(view, 0.0, -0.8, 0.0);
  EXPECT_GT(plane.r, 60);
  EXPECT_LT(std::abs(plane.r - plane.b), 30) << "grey plane " << text(plane);
  EXPECT_EQ(scene.instance_count(), 5u);
  EXPECT_TRUE(scene.has_ground_plane());
  // The robot has three links (one without visuals); a click on the sphere picks link 1.
  const auto p = to_display(view, 0.9, -0.5, 0.5);
  const auto pick = scene.pick(p[0], p[1]);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->link, 1u);
  EXPECT_EQ(pick->link_name, "arm");
  ASSERT_EQ(scene.robots().size(), 1u);
  EXPECT_EQ(scene.robots()[0].links.size(), 3u);
}

TEST(GeometryRender, RobotColourOverridesTheModelAndChangesAtRunTime) {
  SimWriter w(config("colour"));
  const auto model = w.add_model(ModelDesc{"cube", {shape(ipc::Shape::kBox, {0.8f, 0.8f, 0.8f}, {220, 30, 30, 255})}});
  const auto a = w.spawn_robot("a", model);
  const auto b = w.spawn_robot("b", model);
  place(w, a, -0.8, 0, 0);
  place(w, b, 0.8, 0, 0);
  w.set_robot_color(b, std::array<std::uint8_t, 4>{30, 200, 30, 255});
  w.publish(0.0);

  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(w.segment().name());
  scene.update();
  look_down(view, 1.5);
  view.render();
  EXPECT_EQ(dominant(at(view, -0.8, 0, 0.4)), 0);
  EXPECT_EQ(dominant(at(view, 0.8, 0, 0.4)), 1) << "same model, its own colour";

  // Mark robot a as failing (blue), give b its model's colour back: no new model, no respawn.
  w.set_robot_color(a, std::array<std::uint8_t, 4>{40, 60, 230, 255});
  w.set_robot_color(b, std::nullopt);
  w.publish(0.1);
  const auto result = scene.update();
  EXPECT_TRUE(result.changed);
  EXPECT_FALSE(result.layout_changed);
  view.render();
  EXPECT_EQ(dominant(at(view, -0.8, 0, 0.4)), 2);
  EXPECT_EQ(dominant(at(view, 0.8, 0, 0.4)), 0);
}

TEST(GeometryRender, IdenticalStoredMeshesFromTwoSegmentsShareOneBatch) {
  SimWriter first(config("share1", 4096));
  SimWriter second(config("share2", 4096));
  for (SimWriter* w : {&first, &second}) {
    LinkVisualDesc v;
    v.shape = ipc::Shape::kInlineMesh;
    v.mesh = w->add_mesh(tetrahedron(0.5f));
    EXPECT_EQ(w->add_mesh(tetrahedron(0.5f)), v.mesh) << "stored once per segment";
    const auto model = w->add_model(RobotModelDesc{"tet", {LinkDesc{"body", {v}}}});
    for (int i = 0; i < 3; ++i) w->spawn_robot("t" + std::to_string(i), model);
    w->publish(0.0);
  }
  EXPECT_EQ(first.mesh_count(), 1u);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(first.segment().name());
  scene.update();
  const std::size_t mappers_for_one = scene.mapper_count();
  scene.attach(second.segment().name());
  scene.update();
  EXPECT_EQ(scene.instance_count(), 6u);
  EXPECT_EQ(scene.mapper_count(), mappers_for_one) << "one instanced batch for the mesh of both segments";
}

TEST(GeometryRender, StaticWorldGeometryIsDrawnAndNeverDirty) {
  SimWriter w(config("static"));
  const auto floor = w.add_model(RobotModelDesc{"floor", {LinkDesc{"floor", {shape(ipc::Shape::kPlane, {6, 6, 0}, {120, 120, 120, 255})}}}});
  const auto world = w.spawn_static("world", floor, std::vector<double>{0, 0, 0, 0, 0, 0, 1});
  EXPECT_THROW(w.set_robot_poses(world, std::span<const double>(identity_poses(1))), ipc::SegmentError);
  const auto cube = w.add_model(ModelDesc{"cube", {shape(ipc::Shape::kBox, {0.5f, 0.5f, 0.5f}, {220, 30, 30, 255})}});
  const auto mover = w.spawn_robot("mover", cube);
  EXPECT_EQ(w.total_links(), 1u) << "static robots are not part of set_all_poses";
  place(w, mover, 0, 0, 0.25);
  w.publish(0.0);

  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(w.segment().name());
  scene.update();
  EXPECT_TRUE(scene.has_ground_plane());
  for (int f = 1; f <= 3; ++f) {
    place(w, mover, 0.1 * f, 0, 0.25);
    const auto stats = w.publish(0.1 * f);
    EXPECT_EQ(stats.dirty_links, 1u);
    const auto result = scene.update();
    EXPECT_EQ(result.dirty_links, 1u) << "only the moving cube, never the floor";
  }
}

namespace {

// Three robots of two workers (producer attributes), seen from above in a row at x = -1, 0, 1.
struct WorkerScene {
  SimWriter w{config("workers")};
  std::vector<std::uint32_t> ids;
  OffscreenView view{kW, kH};
  FleetScene scene;
  explicit WorkerScene(const SceneSettings& settings = {}) : scene(view.renderer(), settings) {
    const auto model = w.add_model(ModelDesc{"cube", {shape(ipc::Shape::kBox, {0.6f, 0.6f, 0.6f}, {220, 30, 30, 255})}});
    const std::uint32_t workers[3] = {7, 7, 9};
    for (int i = 0; i < 3; ++i) {
      ids.push_back(w.spawn_robot("r" + std::to_string(i), model));
      RobotAttributes a;
      a.worker = workers[i];
      a.environment = static_cast<std::uint32_t>(i);
      a.scalar = 10.0 * i;
      a.episode = std::pair<std::uint32_t, std::uint32_t>{100u + i, 3u};
      w.set_robot_attributes(ids.back(), a);
      place(w, ids.back(), i - 1.0, 0, 0);
    }
    w.publish(0.0);
    scene.attach(w.segment().name());
    scene.update();
    look_down(view, 1.2);
    view.render();
  }
  Rgb robot_pixel(int i) { return at(view, i - 1.0, 0, 0.3); }
};

}  // namespace

TEST(RobotLinking, AttributesArriveAndAWorkersRobotsAreFoundHighlightedAndFramed) {
  WorkerScene s;
  const auto info = s.scene.robot(s.w.segment().name(), 2);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->worker, 9u);
  EXPECT_EQ(info->environment, 2u);
  EXPECT_EQ(info->scalar, 20.0);
  EXPECT_EQ(info->episode_steps, 102u);
  EXPECT_EQ(info->episodes, 3u);
  const auto of7 = s.scene.robots_of_worker(7);
  ASSERT_EQ(of7.size(), 2u);
  EXPECT_EQ(s.scene.robots_of_worker(9).size(), 1u);
  EXPECT_TRUE(s.scene.robots_of_worker(8).empty());
  const Rgb before = s.robot_pixel(0);
  s.scene.highlight(of7);
  s.view.render();
  EXPECT_NE(s.robot_pixel(0), before) << "worker 7's robots are highlighted";
  EXPECT_NE(s.robot_pixel(1), before);
  EXPECT_EQ(s.robot_pixel(2), before) << "worker 9's is not";
  const auto bounds = s.scene.bounds_of(of7);
  ASSERT_TRUE(bounds);
  EXPECT_NEAR((*bounds)[0], -1.3, 0.2);  // from robot 0 at x = -1 ...
  EXPECT_NEAR((*bounds)[1], 0.3, 0.2);   // ... to robot 1 at x = 0
}

TEST(RobotLinking, StalledWorkersRobotsTurnAmberDeadOnesGrey) {
  WorkerScene s;
  s.scene.set_worker_health({{7, WorkerHealth::kStalled}, {9, WorkerHealth::kDead}});
  s.view.render();
  const Rgb amber = s.robot_pixel(0), grey = s.robot_pixel(2);
  EXPECT_GT(amber.r, 150);
  EXPECT_GT(amber.g, 90) << "amber, not red: " << text(amber);
  EXPECT_LT(amber.b, amber.g / 2) << text(amber);
  EXPECT_LT(std::abs(grey.r - grey.b), 20) << "grey: " << text(grey);
  s.scene.set_worker_health({{7, WorkerHealth::kLive}, {9, WorkerHealth::kLive}});
  s.view.render();
  EXPECT_EQ(dominant(s.robot_pixel(0)), 0) << "red again";
}

TEST(RobotLinking, ARobotNotUpdatedFadesAndComesBackWhenItMoves) {
  SceneSettings settings;
  settings.robot_fade_after_ns = 200'000'000ULL;
  WorkerScene s(settings);
  const Rgb fresh = s.robot_pixel(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  // Robot 0 moves (a tiny bit); robots 1 and 2 do not.
  place(s.w, s.ids[0], -1.0, 0.001, 0);
  s.w.publish(0.1);
  s.scene.update();
  s.view.render();
  EXPECT_FALSE(s.scene.robot(s.w.segment().name(), 0)->faded);
  EXPECT_TRUE(s.scene.robot(s.w.segment().name(), 1)->faded);
  const Rgb stale = s.robot_pixel(1);
  EXPECT_LT(stale.r, fresh.r - 40) << "faded: " << text(stale) << " was " << text(fresh);
  place(s.w, s.ids[1], 0.0, 0.001, 0);
  s.w.publish(0.2);
  s.scene.update();
  s.view.render();
  EXPECT_FALSE(s.scene.robot(s.w.segment().name(), 1)->faded);
  EXPECT_EQ(s.robot_pixel(1), fresh);
}

TEST(RobotLinking, ColourByScalarSpansTheLegend) {
  WorkerScene s;
  s.scene.set_color_mode(ColorMode::kScalar);
  s.view.render();
  const auto legend = s.scene.scalar_legend();
  EXPECT_TRUE(legend.any);
  EXPECT_EQ(legend.low, 0.0);
  EXPECT_EQ(legend.high, 20.0);
  const Rgb low = s.robot_pixel(0), high = s.robot_pixel(2);
  EXPECT_GT(low.b, low.g) << "low end is blue-violet: " << text(low);
  EXPECT_GT(high.g, high.b) << "high end is yellow: " << text(high);
  EXPECT_GT(high.r, 150) << text(high);
  // A new scalar moves the range: robot 2 (20) is now in the middle.
  RobotAttributes a;
  a.worker = 9;
  a.environment = 2;
  a.scalar = 40.0;
  s.w.set_robot_attributes(s.ids[2], a);
  s.w.publish(0.1);
  s.scene.update();
  EXPECT_EQ(s.scene.scalar_legend().high, 40.0);
  s.scene.set_color_mode(ColorMode::kModel);
  s.view.render();
  EXPECT_EQ(dominant(s.robot_pixel(0)), 0);
}
