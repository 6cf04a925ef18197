// Image baselines: small scenes rendered offscreen (Xvfb + Mesa llvmpipe) from real segments and
// compared with the PNGs in tests/baselines/ (found through FLEETSCOPE_BASELINE_DIR).
//
// The comparison (tests/support/image_compare.hpp) tolerates what changes between Mesa versions
// and machines: a pixel differs only if no pixel within one pixel of it in the other image has
// every channel within 0.1 * 255 of it (both ways); a test fails when more than 0.5 % of the
// pixels differ. On failure the actual image and a diff image (differing pixels in magenta over
// the dimmed actual image) are written under FLEETSCOPE_BASELINE_OUTPUT (in the build folder),
// and the failure message prints both paths.
//
// Regenerating the baselines (after a deliberate change in how the scene draws, or for a new
// test): run the tests with FLEETSCOPE_UPDATE_BASELINES=1; they write tests/baselines/<name>.png
// instead of comparing, and say so. From the repository root:
//   FLEETSCOPE_UPDATE_BASELINES=1 xvfb-run -a -s '-screen 0 1600x1000x24'
//       build/tests/render_tests --gtest_filter='ImageBaseline.*'      (one line)
// then look at every changed PNG before committing it. A missing baseline fails with that hint.
//
// Deterministic by construction: fixed window size (160 x 120), a fixed perspective camera set
// explicitly (position, focal point, view up, view angle, clipping range), the point level of
// detail set explicitly in SceneSettings, one publish and one update before the frame, no clock.
#include <gtest/gtest.h>
#include <vtkCamera.h>
#include <vtkRenderer.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"
#include "support/image_compare.hpp"

using namespace fleetscope;
using namespace fleetscope::render;

namespace {

constexpr int kW = 160, kH = 120;
constexpr std::array<double, 3> kBackground{0.1, 0.1, 0.12};

using Pose = std::array<double, 7>;  // x, y, z, qx, qy, qz, qw
constexpr Pose kIdentity{0, 0, 0, 0, 0, 0, 1};

Pose yaw_pose(double x, double y, double z, double yaw_deg) {
  const double h = yaw_deg * M_PI / 360.0;
  return {x, y, z, 0, 0, std::sin(h), std::cos(h)};
}

LinkVisualDesc visual(ipc::Shape shape, std::array<float, 3> dims, std::array<std::uint8_t, 4> rgba) {
  LinkVisualDesc v;
  v.shape = shape;
  v.dims = dims;
  v.rgba = rgba;
  return v;
}

struct Camera {
  std::array<double, 3> position;
  std::array<double, 3> focal_point{0, 0, 0};
  std::array<double, 3> view_up{0, 0, 1};
  double view_angle = 30.0;
};

// Looks at the origin from the front-right, above: every shape test uses this one.
constexpr Camera kShapeCamera{{2.6, -3.4, 2.4}};

// A segment with one robot per entry of `robots` (its model and link poses; robots whose models
// have the same name share the first such model), attached to a scene in an offscreen view, taken
// once and framed by a fixed camera. The point level of detail depends on the camera distance:
// its threshold is given here explicitly, so a change of the scene's default does not silently
// change these images.
struct BaselineScene {
  struct Robot {
    ModelDesc model;
    std::vector<Pose> link_poses;  // one per link of the model
  };

  SimWriter writer;
  OffscreenView view{kW, kH, kBackground};
  FleetScene scene;

  BaselineScene(const std::string& stem, const std::vector<Robot>& robots, const Camera& camera,
                double point_radius_px = 4.0)
      : writer(config(stem, robots)), scene(view.renderer(), settings(point_radius_px)) {
    std::map<std::string, std::uint32_t> models;
    for (std::size_t i = 0; i < robots.size(); ++i) {
      const ModelDesc& model = robots[i].model;
      if (!models.contains(model.name)) models[model.name] = writer.add_model(model);
      const auto id = writer.spawn_robot("r" + std::to_string(i), models[model.name]);
      std::vector<double> values;
      for (const Pose& p : robots[i].link_poses) values.insert(values.end(), p.begin(), p.end());
      writer.set_robot_poses(id, std::span<const double>(values));
    }
    writer.publish(0.0);
    scene.attach(writer.segment().name());
    scene.update();
    vtkCamera* cam = view.renderer()->GetActiveCamera();
    cam->SetParallelProjection(false);
    cam->SetPosition(camera.position.data());
    cam->SetFocalPoint(camera.focal_point.data());
    cam->SetViewUp(camera.view_up.data());
    cam->SetViewAngle(camera.view_angle);
    cam->SetClippingRange(0.05, 500.0);
    view.render();
  }

  static WriterConfig config(const std::string& stem, const std::vector<Robot>& robots) {
    WriterConfig c;
    c.name = fleetscope::testing::unique_name("baseline." + stem);
    c.max_robots = static_cast<std::uint32_t>(robots.size());
    c.max_links = 1;
    for (const auto& r : robots) c.max_links = std::max(c.max_links, static_cast<std::uint32_t>(r.model.links.size()));
    return c;
  }
  static SceneSettings settings(double point_radius_px) {
    SceneSettings s;
    s.mode = BatchMode::kInstanced;
    s.culling_and_lod = false;  // VTK's own distance LOD: off, the images show fleetscope's
    s.point_radius_px = point_radius_px;
    return s;
  }
};

// Display coordinates of a world point in the last rendered frame.
std::array<int, 2> to_display(OffscreenView& view, double x, double y, double z) {
  vtkRenderer* ren = view.renderer();
  ren->SetWorldPoint(x, y, z, 1.0);
  ren->WorldToDisplay();
  double d[3];
  ren->GetDisplayPoint(d);
  return {static_cast<int>(std::lround(d[0])), static_cast<int>(std::lround(d[1]))};
}

bool update_mode() {
  const char* v = std::getenv("FLEETSCOPE_UPDATE_BASELINES");
  return v != nullptr && std::string(v) == "1";
}

fleetscope::testing::RgbImage grab(const OffscreenView& view) {
  const auto pixels = view.pixels();
  fleetscope::testing::RgbImage image{view.width(), view.height(), {}};
  image.rgb.reserve(pixels.size() * 3);
  for (const Rgb& p : pixels) image.rgb.insert(image.rgb.end(), {p.r, p.g, p.b});
  return image;
}

// Compares the last frame of `view` with tests/baselines/<name>.png (or writes it in update mode).
// A frame that is almost all background is refused either way: a baseline of nothing proves
// nothing.
void expect_matches_baseline(const OffscreenView& view, const std::string& name) {
  const auto actual = grab(view);
  std::size_t drawn = 0;
  for (std::size_t i = 0; i < actual.rgb.size(); i += 3) {
    int distance = 0;
    for (int c = 0; c < 3; ++c) distance += std::abs(actual.rgb[i + c] - static_cast<int>(std::lround(kBackground[c] * 255)));
    drawn += distance > 30;
  }
  ASSERT_GT(drawn, 30u) << name << ": the frame shows (almost) nothing but background";

  const std::string baseline = std::string(FLEETSCOPE_BASELINE_DIR) + "/" + name + ".png";
  if (update_mode()) {
    fleetscope::testing::write_png(actual, baseline);
    std::printf("[ baseline ] FLEETSCOPE_UPDATE_BASELINES=1: wrote %s (not compared)\n", baseline.c_str());
    ::testing::Test::RecordProperty("baseline_written", baseline);
    return;
  }
  const auto expected = fleetscope::testing::read_png(baseline);
  if (!expected) {
    FAIL() << "no baseline image " << baseline << "; create it by running this test with "
           << "FLEETSCOPE_UPDATE_BASELINES=1 (see the top of tests/render/image_baseline_test.cpp), "
           << "look at it, and commit it";
  }
  const fleetscope::testing::CompareOptions options;
  const auto result = fleetscope::testing::compare_images(actual, *expected, options);
  if (result.passed) return;
  const std::string out = std::string(FLEETSCOPE_BASELINE_OUTPUT) + "/" + name;
  fleetscope::testing::write_png(actual, out + ".actual.png");
  fleetscope::testing::write_png(result.diff, out + ".diff.png");
  if (!result.same_size) {
    FAIL() << name << ": the frame is " << actual.width << "x" << actual.height << ", the baseline " << baseline
           << " is " << expected->width << "x" << expected->height << "; actual image: " << out << ".actual.png";
  }
  ADD_FAILURE() << name << ": " << result.differing << " pixels (" << 100.0 * result.share
                << " %) differ from " << baseline << " (allowed: " << 100.0 * options.max_differing_share
                << " %, colour tolerance " << options.colour_tolerance << ", search radius " << options.search_radius
                << " px).\n  actual: " << out << ".actual.png\n  diff:   " << out << ".diff.png";
}

BaselineScene::Robot one_link(const LinkVisualDesc& v, const Pose& pose = kIdentity, const std::string& model = "one") {
  return {ModelDesc{model, {v}}, {pose}};
}

}  // namespace

TEST(ImageBaseline, Box) {
  // 1.4 x 0.8 x 0.5 m: the three sides read differently in the image.
  BaselineScene s("box", {one_link(visual(ipc::Shape::kBox, {1.4f, 0.8f, 0.5f}, {220, 60, 40, 255}))}, kShapeCamera);
  expect_matches_baseline(s.view, "box");
}

TEST(ImageBaseline, Sphere) {
  BaselineScene s("sphere", {one_link(visual(ipc::Shape::kSphere, {0.7f, 0, 0}, {60, 120, 230, 255}))}, kShapeCamera);
  expect_matches_baseline(s.view, "sphere");
}

TEST(ImageBaseline, Cylinder) {
  // Radius 0.45, length 1.4 along the link's z: upright.
  BaselineScene s("cylinder", {one_link(visual(ipc::Shape::kCylinder, {0.45f, 1.4f, 0}, {60, 200, 90, 255}))},
                  kShapeCamera);
  expect_matches_baseline(s.view, "cylinder");
}

TEST(ImageBaseline, Capsule) {
  // Radius 0.35, length 1.2 along the link's z between the centres of its end caps.
  BaselineScene s("capsule", {one_link(visual(ipc::Shape::kCapsule, {0.35f, 1.2f, 0}, {230, 200, 50, 255}))},
                  kShapeCamera);
  expect_matches_baseline(s.view, "capsule");
}

TEST(ImageBaseline, VisualOffsetIsInTheLinkFrame) {
  // The link sits at (0, -0.8, 0) turned 90 degrees about z; its box visual is offset 1.4 m along
  // the link's x, so it lands at (0, 0.6, 0) with its long side along world y. A small grey cube
  // (a second robot) marks the link origin.
  LinkVisualDesc offset = visual(ipc::Shape::kBox, {0.9f, 0.4f, 0.4f}, {200, 60, 200, 255});
  offset.offset_position = {1.4f, 0.0f, 0.0f};
  const auto marker = visual(ipc::Shape::kBox, {0.25f, 0.25f, 0.25f}, {170, 170, 170, 255});
  BaselineScene s("offset", {one_link(offset, yaw_pose(0, -0.8, 0, 90)), one_link(marker, {0, -0.8, 0, 0, 0, 0, 1}, "marker")},
                  kShapeCamera);
  expect_matches_baseline(s.view, "visual_offset");
}

TEST(ImageBaseline, QuaternionTurnsTheLink) {
  // q = rot_z(45 deg) * rot_x(30 deg): a flat 1.6 x 0.6 x 0.15 m plank, first tilted about its long
  // x axis, then turned to point along (1, 1, 0).
  const double hz = M_PI / 8, hx = M_PI / 12;  // half angles
  const Pose q{0, 0, 0, std::cos(hz) * std::sin(hx), std::sin(hz) * std::sin(hx), std::cos(hx) * std::sin(hz),
               std::cos(hz) * std::cos(hx)};
  BaselineScene s("quaternion", {one_link(visual(ipc::Shape::kBox, {1.6f, 0.6f, 0.15f}, {40, 200, 200, 255}), q)},
                  Camera{{0.4, -3.2, 3.0}});
  expect_matches_baseline(s.view, "quaternion");
}

TEST(ImageBaseline, SelectedRobotIsHighlighted) {
  // Three two-link robots (a box body with a sphere head) in a row; the middle one is picked at
  // its body's pixel and selected: its links turn to the highlight colour, the others do not.
  ModelDesc robot{"bot", {visual(ipc::Shape::kBox, {0.6f, 0.6f, 0.6f}, {60, 90, 220, 255}),
                          visual(ipc::Shape::kSphere, {0.25f, 0, 0}, {60, 90, 220, 255})}};
  std::vector<BaselineScene::Robot> robots;
  for (int i = 0; i < 3; ++i) {
    const double x = 1.2 * (i - 1);
    robots.push_back({robot, {Pose{x, 0, 0, 0, 0, 0, 1}, Pose{x, 0, 0.55, 0, 0, 0, 1}}});
  }
  BaselineScene s("selected", robots, Camera{{0.8, -4.2, 2.6}, {0, 0, 0.2}});
  const auto at = to_display(s.view, 0.0, -0.3, 0.0);  // the middle robot's front face
  const auto pick = s.scene.pick(at[0], at[1]);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->robot, "r1");
  s.scene.select(pick);
  s.view.render();
  expect_matches_baseline(s.view, "selected_robot");
}

TEST(ImageBaseline, FarLinksAreDrawnAsPoints) {
  // A 16 x 16 grid of 0.5 m boxes 3 m apart, seen from a low corner: the near ones are meshes,
  // the far ones (under 4 pixels of projected radius) are drawn as points.
  std::vector<BaselineScene::Robot> robots;
  const auto box = visual(ipc::Shape::kBox, {0.5f, 0.5f, 0.5f}, {240, 140, 40, 255});
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) robots.push_back(one_link(box, {3.0 * i, 3.0 * j, 0, 0, 0, 0, 1}));
  }
  BaselineScene s("points", robots, Camera{{-5.0, -5.0, 9.0}, {21, 21, 0}}, 4.0);
  EXPECT_EQ(s.scene.instance_count(), 256u);
  EXPECT_GT(s.scene.point_count(), 50u) << "far links are points";
  EXPECT_LT(s.scene.point_count(), 250u) << "near links are meshes";
  expect_matches_baseline(s.view, "points_lod");
}
