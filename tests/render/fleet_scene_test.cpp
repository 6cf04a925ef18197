// Real frames rendered offscreen (Xvfb + Mesa) from real segments, and inspected pixel by pixel.
#include <gtest/gtest.h>
#include <vtkRenderer.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>

#include <cmath>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;
using namespace fleetscope::render;

namespace {

constexpr int kW = 200, kH = 200;

bool is_background(Rgb c) { return c.r < 40 && c.g < 40 && c.b < 50; }
bool is_reddish(Rgb c) { return c.r > 80 && c.r > 2 * c.g && c.r > 2 * c.b; }
bool is_greenish(Rgb c) { return c.g > 80 && c.g > 2 * c.r && c.g > 2 * c.b; }

// Robots of one box link each (0.8 m cube), laid along x, red unless told otherwise.
struct BoxFleet {
  SimWriter writer;
  std::vector<std::uint32_t> robots;
  std::vector<double> poses;
  BoxFleet(const std::string& name, int count, std::array<std::uint8_t, 4> color = {220, 30, 30, 255},
           int links = 1)
      : writer(config(name, count, links)) {
    ModelDesc model{"box", {}};
    for (int l = 0; l < links; ++l) {
      LinkVisualDesc box;
      box.shape = ipc::Shape::kBox;
      box.dims = {0.8f, 0.8f, 0.8f};
      box.rgba = color;
      model.links.push_back(box);
    }
    const auto m = writer.add_model(model);
    for (int r = 0; r < count; ++r) robots.push_back(writer.spawn_robot("r" + std::to_string(r), m));
    poses.assign(writer.total_links() * 7, 0.0);
    for (int r = 0; r < count; ++r) {
      for (int l = 0; l < links; ++l) place(r, l, 2.0 * r, 2.0 * l, 0.0);
    }
    publish();
  }
  static WriterConfig config(const std::string& name, int count, int links) {
    WriterConfig c;
    c.name = name;
    c.max_robots = static_cast<std::uint32_t>(count);
    c.max_links = static_cast<std::uint32_t>(links);
    c.detect_changes = true;  // only robots that move are published
    return c;
  }
  void place(int robot, int link, double x, double y, double yaw) {
    double* p = &poses[(robot * (poses.size() / 7 / robots.size()) + link) * 7];
    p[0] = x, p[1] = y, p[2] = 0.0, p[3] = 0.0, p[4] = 0.0, p[5] = std::sin(yaw / 2), p[6] = std::cos(yaw / 2);
  }
  void publish() {
    writer.set_all_poses(std::span<const double>(poses));
    writer.publish(0.0);
  }
};

// One robot with one link visual, rendered once from straight above.
struct OneLinkScene {
  SimWriter writer;
  OffscreenView view{kW, kH};
  FleetScene scene{view.renderer()};
  OneLinkScene(const std::string& stem, const LinkVisualDesc& visual, std::array<double, 7> pose,
               std::array<double, 6> bounds = {-2, 2, -2, 2, -0.5, 0.5})
      : writer(config(stem)) {
    const auto r = writer.spawn_robot("one", writer.add_model(ModelDesc{"one", {visual}}));
    writer.set_robot_poses(r, std::span<const double>(pose.data(), 7));
    writer.publish(0.0);
    scene.attach(writer.segment().name());
    scene.update();
    view.frame_bounds(bounds, true);
    view.render();
  }
  static WriterConfig config(const std::string& stem) {
    WriterConfig c;
    c.name = fleetscope::testing::unique_name(stem);
    c.max_robots = 1;
    c.max_links = 1;
    return c;
  }
};

// Display coordinates of world point (x, y, 0).
std::array<int, 2> to_display(OffscreenView& view, double x, double y) {
  vtkRenderer* ren = view.renderer();
  ren->SetWorldPoint(x, y, 0.0, 1.0);
  ren->WorldToDisplay();
  double d[3];
  ren->GetDisplayPoint(d);
  return {static_cast<int>(std::lround(d[0])), static_cast<int>(std::lround(d[1]))};
}

}  // namespace

TEST(FleetScene, AKnownPoseRendersGeometryAtTheExpectedPixels) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.known"), 2);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  ASSERT_TRUE(scene.update().changed);
  view.frame_bounds({-1, 3, -1, 1, -0.5, 0.5}, true);
  view.render();
  const auto c0 = to_display(view, 0, 0), c1 = to_display(view, 2, 0), gap = to_display(view, 1, 0);
  EXPECT_TRUE(is_reddish(view.pixel(c0[0], c0[1])));
  EXPECT_TRUE(is_reddish(view.pixel(c1[0], c1[1])));
  EXPECT_TRUE(is_background(view.pixel(gap[0], gap[1])));
  EXPECT_TRUE(is_background(view.pixel(2, 2)));
}

TEST(FleetScene, MovingOneLinkMovesThosePixelsAndNothingElse) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.move"), 3);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  view.frame_bounds({-1, 5, -2, 2, -0.5, 0.5}, true);
  view.render();
  const auto before = view.pixels();
  fleet.place(2, 0, 4.0, 1.2, 0.0);  // robot 2 moves up by 1.2 m
  fleet.publish();
  const auto result = scene.update();
  EXPECT_EQ(result.dirty_links, 1u);
  view.render();
  const auto after = view.pixels();
  const auto old_c = to_display(view, 4.0, 0.0), new_c = to_display(view, 4.0, 1.2);
  EXPECT_TRUE(is_background(view.pixel(old_c[0], old_c[1])));
  EXPECT_TRUE(is_reddish(view.pixel(new_c[0], new_c[1])));
  // Every changed pixel lies in the x band of robot 2.
  const auto band_lo = to_display(view, 4.0 - 0.75, 0.0)[0], band_hi = to_display(view, 4.0 + 0.75, 0.0)[0];
  int changed = 0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      if (before[y * kW + x] == after[y * kW + x]) continue;
      ++changed;
      EXPECT_TRUE(x >= band_lo && x <= band_hi) << "pixel " << x << "," << y << " changed";
    }
  }
  EXPECT_GT(changed, 50);
}

TEST(FleetScene, QuaternionOrientationTurnsTheGeometry) {
  LinkVisualDesc bar;
  bar.shape = ipc::Shape::kBox;
  bar.dims = {3.0f, 0.4f, 0.4f};  // long along x
  bar.rgba = {30, 200, 30, 255};
  OneLinkScene one("render.quat", bar, {0, 0, 0, 0, 0, std::sin(M_PI / 4), std::cos(M_PI / 4)});  // yaw 90
  const auto along_y = to_display(one.view, 0, 1.2), along_x = to_display(one.view, 1.2, 0);
  EXPECT_TRUE(is_greenish(one.view.pixel(along_y[0], along_y[1])));
  EXPECT_TRUE(is_background(one.view.pixel(along_x[0], along_x[1])));
}

TEST(FleetScene, VisualOffsetsPlaceTheVisualInTheLinkFrame) {
  LinkVisualDesc ball;
  ball.shape = ipc::Shape::kSphere;
  ball.dims = {0.4f, 0, 0};
  ball.offset_position = {1.5f, 0.0f, 0.0f};
  ball.rgba = {30, 200, 30, 255};
  OneLinkScene one("render.offset", ball, {0, 0, 0, 0, 0, 0, 1});
  const auto at_offset = to_display(one.view, 1.5, 0), at_origin = to_display(one.view, 0, 0);
  EXPECT_TRUE(is_greenish(one.view.pixel(at_offset[0], at_offset[1])));
  EXPECT_TRUE(is_background(one.view.pixel(at_origin[0], at_origin[1])));
}

TEST(FleetScene, ActorsAndMappersDoNotGrowWithTheNumberOfRobots) {
  BoxFleet small(fleetscope::testing::unique_name("render.small"), 10, {200, 30, 30, 255}, 3);
  BoxFleet large(fleetscope::testing::unique_name("render.large"), 300, {200, 30, 30, 255}, 3);
  OffscreenView view(kW, kH);
  FleetScene a(view.renderer()), b(view.renderer());
  a.attach(small.writer.segment().name());
  b.attach(large.writer.segment().name());
  a.update();
  b.update();
  EXPECT_EQ(a.instance_count(), 30u);
  EXPECT_EQ(b.instance_count(), 900u);
  EXPECT_EQ(a.actor_count(), b.actor_count());
  EXPECT_EQ(a.mapper_count(), b.mapper_count());
  EXPECT_EQ(b.mapper_count(), 2u);  // one unit-box batch for every box: meshes and far points
}

TEST(FleetScene, AFrameWithNothingChangedReportsNoWork) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.idle"), 4);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  fleet.publish();  // a new frame in which nothing moved
  const auto same = scene.update();
  EXPECT_FALSE(same.changed);
  EXPECT_EQ(same.dirty_links, 0u);
  const auto idle = scene.update();  // no new frame at all
  EXPECT_FALSE(idle.changed);
}

TEST(FleetScene, PickingAtAPixelReturnsTheRightRobotAndLink) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.pick"), 3, {220, 30, 30, 255}, 2);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  view.frame_bounds({-1, 5, -1, 3, -0.5, 0.5}, true);
  view.render();
  const auto at = to_display(view, 4.0, 2.0);  // robot 2, link 1
  const auto pick = scene.pick(at[0], at[1]);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->segment, fleet.writer.segment().name());
  EXPECT_EQ(pick->robot, "r2");
  EXPECT_EQ(pick->link, 1u);
  EXPECT_FLOAT_EQ(pick->pose.position[0], 4.0f);
  const auto empty = to_display(view, 1.0, 1.0);
  EXPECT_FALSE(scene.pick(empty[0], empty[1]));
  scene.select(pick);
  view.render();
  const auto sel = view.pixel(at[0], at[1]);
  EXPECT_GT(int(sel.g), 60) << "the selected robot is highlighted";
}

TEST(FleetScene, HiddenRobotsAreNotDrawnOrPicked) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.hide"), 2);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  scene.set_robot_visible(fleet.writer.segment().name(), 1, false);
  view.frame_bounds({-1, 3, -1, 1, -0.5, 0.5}, true);
  view.render();
  const auto c1 = to_display(view, 2, 0);
  EXPECT_TRUE(is_background(view.pixel(c1[0], c1[1])));
  EXPECT_FALSE(scene.pick(c1[0], c1[1]));
  EXPECT_EQ(scene.instance_count(), 1u);
}

TEST(FleetScene, SpawnAndRemoveUpdateTheScene) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.spawn"), 2);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  EXPECT_EQ(scene.robots().size(), 2u);
  fleet.writer.remove_robot(fleet.robots[0]);
  fleet.writer.publish(0.0);
  const auto result = scene.update();
  EXPECT_TRUE(result.layout_changed);
  ASSERT_EQ(scene.robots().size(), 1u);
  EXPECT_EQ(scene.robots()[0].name, "r1");
  EXPECT_EQ(scene.instance_count(), 1u);
}

TEST(FleetScene, ActorPerLinkBaselineDrawsTheSameScene) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.baseline"), 3);
  OffscreenView instanced(kW, kH), baseline(kW, kH);
  FleetScene a(instanced.renderer());
  SceneSettings per_actor;
  per_actor.mode = BatchMode::kActorPerLink;
  FleetScene b(baseline.renderer(), per_actor);
  a.attach(fleet.writer.segment().name());
  b.attach(fleet.writer.segment().name());
  a.update();
  b.update();
  EXPECT_EQ(b.actor_count(), 3u);
  for (auto* v : {&instanced, &baseline}) {
    v->frame_bounds({-1, 5, -1, 1, -0.5, 0.5}, true);
    v->render();
  }
  const auto pa = instanced.pixels(), pb = baseline.pixels();
  int same_class = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) same_class += is_background(pa[i]) == is_background(pb[i]);
  EXPECT_GT(same_class, int(pa.size() * 0.99));
}

TEST(FleetScene, AttachingAMissingOrNewerSegmentThrowsAClearError) {
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  EXPECT_THROW(scene.attach("no.such.segment.here"), ipc::SegmentError);
  EXPECT_TRUE(scene.sources().empty());
}

TEST(FleetScene, CapsulesAndCylindersLieAlongTheLinkZAxis) {
  for (const auto shape : {ipc::Shape::kCapsule, ipc::Shape::kCylinder}) {
    LinkVisualDesc link;
    link.shape = shape;
    link.dims = {0.3f, 1.6f, 0.0f};  // radius, length
    link.rgba = {30, 200, 30, 255};
    // Turn local z onto world x (90 degrees about y).
    OneLinkScene one("render.capsule", link, {0, 0, 0, 0, std::sin(M_PI / 4), 0, std::cos(M_PI / 4)},
                     {-1.5, 1.5, -1.5, 1.5, -0.5, 0.5});
    const auto along = to_display(one.view, 0.75, 0), across = to_display(one.view, 0, 0.75);
    EXPECT_TRUE(is_greenish(one.view.pixel(along[0], along[1]))) << int(shape);
    EXPECT_TRUE(is_background(one.view.pixel(across[0], across[1]))) << int(shape);
  }
}

TEST(FleetScene, MeshFilesAreReadOncePerFileAndABadPathFallsBackToABox) {
  // A 2 x 2 x 0.1 m plate as an ASCII STL (two triangles on top are enough to be seen from above).
  const std::string path = "/tmp/fleetscope-test-plate-" + std::to_string(::getpid()) + ".stl";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("solid plate\n"
               "facet normal 0 0 1\n outer loop\n  vertex -1 -1 0.05\n  vertex 1 -1 0.05\n  vertex 1 1 0.05\n endloop\nendfacet\n"
               "facet normal 0 0 1\n outer loop\n  vertex -1 -1 0.05\n  vertex 1 1 0.05\n  vertex -1 1 0.05\n endloop\nendfacet\n"
               "endsolid plate\n", f);
    std::fclose(f);
  }
  fleetscope::WriterConfig c;
  c.name = fleetscope::testing::unique_name("render.mesh");
  c.max_robots = 3;
  c.max_links = 1;
  SimWriter writer(c);
  LinkVisualDesc plate;
  plate.shape = ipc::Shape::kMesh;
  plate.mesh_path = path;
  plate.scale = {0.5f, 0.5f, 1.0f};  // 1 x 1 m
  plate.rgba = {30, 200, 30, 255};
  LinkVisualDesc missing = plate;
  missing.mesh_path = "/no/such/mesh.stl";
  const auto plate_model = writer.add_model(ModelDesc{"plate", {plate}});
  const auto missing_model = writer.add_model(ModelDesc{"missing", {missing}});
  const auto a = writer.spawn_robot("a", plate_model);
  const auto b = writer.spawn_robot("b", plate_model);
  const auto m = writer.spawn_robot("m", missing_model);
  const double pa[7] = {0, 0, 0, 0, 0, 0, 1}, pb[7] = {3, 0, 0, 0, 0, 0, 1}, pm[7] = {6, 0, 0, 0, 0, 0, 1};
  writer.set_robot_poses(a, std::span<const double>(pa, 7));
  writer.set_robot_poses(b, std::span<const double>(pb, 7));
  writer.set_robot_poses(m, std::span<const double>(pm, 7));
  writer.publish(0.0);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(c.name);
  scene.update();
  EXPECT_EQ(scene.mapper_count(), 4u) << "one batch (meshes + points) for the file, one for the fallback";
  view.frame_bounds({-1, 7, -1.5, 1.5, -0.5, 0.5}, true);
  view.render();
  // The file is read in the background (a box until then): updates swap it in.
  const auto first = to_display(view, 0.4, 0.4);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!is_greenish(view.pixel(first[0], first[1])) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    scene.update();
    view.render();
  }
  EXPECT_EQ(scene.mapper_count(), 4u);
  for (double x : {0.0, 3.0}) {
    const auto inside = to_display(view, x + 0.4, 0.4), outside = to_display(view, x + 0.8, 0.8);
    EXPECT_TRUE(is_greenish(view.pixel(inside[0], inside[1]))) << x;
    EXPECT_TRUE(is_background(view.pixel(outside[0], outside[1]))) << x;
  }
  std::remove(path.c_str());
}

TEST(FleetScene, AWriterRestartedUnderTheSameNameIsReattached) {
  const std::string name = fleetscope::testing::unique_name("render.restart");
  auto first = std::make_unique<BoxFleet>(name, 2);
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(name);
  scene.update();
  ASSERT_EQ(scene.robots().size(), 2u);
  first.reset();  // closes and removes the segment
  const BoxFleet second(name, 3);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (scene.robots().size() != 3 && std::chrono::steady_clock::now() < deadline) {
    scene.update();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(scene.robots().size(), 3u);
  ASSERT_EQ(scene.sources().size(), 1u);
  EXPECT_EQ(scene.sources()[0].state, ipc::WriterState::kLive);
}

TEST(FleetScene, LinksSmallOnScreenAreDrawnAsPointsAndStayVisible) {
  BoxFleet fleet(fleetscope::testing::unique_name("render.lod"), 3, {220, 30, 30, 255});
  OffscreenView view(kW, kH);
  FleetScene scene(view.renderer());
  scene.attach(fleet.writer.segment().name());
  scene.update();
  // Close: three 0.8 m boxes fill a good part of the view, all meshes.
  view.frame_bounds({-1, 5, -1, 1, -0.5, 0.5}, true);
  view.render();
  EXPECT_EQ(scene.point_count(), 0u);
  // Far: the same boxes are a few pixels wide, drawn as points, still where they are.
  view.frame_bounds({-150, 150, -150, 150, -0.5, 0.5}, true);
  view.render();
  EXPECT_EQ(scene.point_count(), 3u);
  EXPECT_EQ(scene.instance_count(), 3u);
  const auto c = to_display(view, 2.0, 0.0);
  EXPECT_TRUE(is_reddish(view.pixel(c[0], c[1])));
  // Turned off: meshes however small.
  SceneSettings meshes_only;
  meshes_only.point_radius_px = 0.0;
  OffscreenView view2(kW, kH);
  FleetScene scene2(view2.renderer(), meshes_only);
  scene2.attach(fleet.writer.segment().name());
  scene2.update();
  view2.frame_bounds({-150, 150, -150, 150, -0.5, 0.5}, true);
  view2.render();
  EXPECT_EQ(scene2.point_count(), 0u);
}

// `fleetscope --attach NAME` exits 1 for a segment it cannot read: attach must fail at once when
// the layout is unreadable, not attach and fail on a later poll.
TEST(FleetSceneAttach, ASegmentWhoseLayoutIsCorruptIsRefusedAtAttach) {
  const std::string name = fleetscope::testing::unique_name("corrupt-layout");
  BoxFleet fleet(name, 2);
  {
    // A model claiming zero links: read_layout reports corruption.
    const int fd = ::open(("/dev/shm/fleetscope." + name).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ipc::SegmentHeader header{};
    ASSERT_EQ(::pread(fd, &header, 256, 0), 256);
    const std::uint32_t zero = 0;
    ASSERT_EQ(::pwrite(fd, &zero, sizeof zero, static_cast<off_t>(header.models_offset + offsetof(ipc::ModelRecord, link_count))),
              static_cast<ssize_t>(sizeof zero));
    ::close(fd);
  }
  OffscreenView view{kW, kH};
  FleetScene scene{view.renderer()};
  try {
    scene.attach(name);
    ADD_FAILURE() << "a segment with a corrupt layout was attached";
  } catch (const ipc::SegmentError& e) {
    EXPECT_EQ(e.code(), ipc::ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("links"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(scene.attached(name));
}

// The status bar's "dirty links per frame": distinct links changed in a rendered frame. A link
// moved by three writer frames before the viewer draws counts once, not three times.
TEST(FleetSceneAttach, ChangedLinksAreCountedOncePerRenderedFrame) {
  const std::string name = fleetscope::testing::unique_name("distinct-dirty");
  BoxFleet fleet(name, 3, {220, 30, 30, 255}, 2);
  OffscreenView view{kW, kH};
  FleetScene scene{view.renderer()};
  scene.attach(name);
  scene.update();
  scene.take_changed_links();
  for (int step = 1; step <= 3; ++step) {  // robot 0's two links move in three writer frames
    fleet.place(0, 0, 0.1 * step, 0.0, 0.0);
    fleet.place(0, 1, 0.1 * step, 2.0, 0.0);
    fleet.publish();
    scene.update();
  }
  EXPECT_EQ(scene.take_changed_links(), 2u);
  EXPECT_EQ(scene.take_changed_links(), 0u);
}
