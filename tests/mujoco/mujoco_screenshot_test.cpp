// The viewer draws a MuJoCo scene where MuJoCo puts it: fleet.xml is stepped and published from
// this process, then frozen; the viewer takes a screenshot from a fixed camera, and points on
// geoms, placed from MuJoCo's own body poses and projected with the viewer's camera, must show
// those geoms' colours.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fleetscope/sim_bridge/mujoco_publisher.hpp"
#include "mujoco/mujoco_test_support.hpp"
#include "support/child_process.hpp"
#include "support/image_compare.hpp"

namespace {

using namespace fleetscope::testing;

constexpr int kWidth = 800;
constexpr int kHeight = 600;
constexpr Vec3 kEye{3.0, -6.0, 4.0};
constexpr Vec3 kTarget{0.0, 0.0, 0.5};
// The viewer's vertical view angle: VTK's 30 degrees, zoomed by 1.25 by render::frame_all, which
// runs before --camera's look_from (render/src/camera_rig.cpp).
constexpr double kViewAngleDegrees = 30.0 / 1.25;

Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 normalised(const Vec3& v) {
  const double n = std::sqrt(dot(v, v));
  return {v[0] / n, v[1] / n, v[2] / n};
}

// Pixel (x, y), row 0 at the bottom as RgbImage keeps it.
std::array<int, 2> project(const Vec3& p) {
  const Vec3 forward = normalised(sub(kTarget, kEye));
  const Vec3 side = normalised(cross(forward, Vec3{0, 0, 1}));
  const Vec3 up = cross(side, forward);
  const Vec3 d = sub(p, kEye);
  const double depth = dot(d, forward);
  const double half = std::tan(kViewAngleDegrees / 2 * M_PI / 180.0);
  const double nx = dot(d, side) / (depth * half * kWidth / kHeight);
  const double ny = dot(d, up) / (depth * half);
  return {static_cast<int>(std::lround((nx + 1) / 2 * kWidth)), static_cast<int>(std::lround((ny + 1) / 2 * kHeight))};
}

// A point of a body's frame in the world, from MuJoCo's pose of the body.
Vec3 on_body(const Simulation& sim, const char* body, const Vec3& local) {
  const int b = mj_name2id(sim.model.get(), mjOBJ_BODY, body);
  EXPECT_GE(b, 0) << body;
  mjtNum world[3];
  const mjtNum offset[3] = {local[0], local[1], local[2]};
  mju_rotVecQuat(world, offset, sim.data->xquat + 4 * b);
  return {sim.data->xpos[3 * b] + world[0], sim.data->xpos[3 * b + 1] + world[1], sim.data->xpos[3 * b + 2] + world[2]};
}

struct Probe {
  const char* what;
  Vec3 point;
  bool (*looks_right)(int r, int g, int b);
};

bool blue(int r, int g, int b) { return b > r + 40 && b > g + 10; }
bool red(int r, int g, int b) { return r > g + 60 && r > b + 60; }
bool orange(int r, int g, int b) { return r > g && g > b + 20 && r > b + 80; }
bool wood(int r, int g, int b) { return r > g && g > b && r > b + 30; }
bool green(int r, int g, int b) { return g > r + 30 && g > b + 30; }

TEST(MujocoScreenshot, TheViewerDrawsTheRobotsWhereMuJoCoPutsThem) {
  if (std::getenv("DISPLAY") == nullptr) GTEST_SKIP() << "needs an X display (ctest runs under xvfb-run in .ci/setup)";
  Simulation sim = load_simulation(mujoco_resource("fleet.xml"));
  fleetscope::MujocoPublisherOptions options;
  options.name = unique_name("mujoco.screenshot");
  fleetscope::MujocoPublisher publisher(sim.model.get(), options);
  // One simulated second: the carts settle on their wheels, the arms swing down. Then frozen.
  for (int s = 0; s < 500; ++s) {
    mj_step(sim.model.get(), sim.data.get());
    publisher.publish(sim.data.get());
  }
  const std::string png = std::string(FLEETSCOPE_TEST_OUTPUT) + "/mujoco_screenshot.png";
  std::filesystem::remove(png);
  const std::string camera = "3,-6,4@0,0,0.5";
  ChildProcess viewer({FLEETSCOPE_VIEWER, "--attach", options.name, "--no-dashboards", "--screenshot", png,
                       "--size", std::to_string(kWidth) + "x" + std::to_string(kHeight), "--camera", camera});
  const auto status = viewer.wait_for_exit(std::chrono::seconds(120));
  ASSERT_TRUE(status) << "the viewer did not finish";
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "viewer status " << *status;
  const auto image = read_png(png);
  ASSERT_TRUE(image) << png;
  ASSERT_EQ(image->width, kWidth);
  ASSERT_EQ(image->height, kHeight);

  const Probe probes[] = {
      {"cart0's body (top face)", on_body(sim, "cart0", {0, 0, 0.05}), blue},
      {"cart1's body (top face)", on_body(sim, "cart1", {0, 0, 0.05}), blue},
      {"arm3's upper arm (red)", on_body(sim, "arm3_shoulder", {0, 0, 0.2}), red},
      {"arm2's upper arm", on_body(sim, "arm2_shoulder", {0, 0, 0.2}), orange},
      {"the table top", on_body(sim, "table", {0.3, -0.2, 0.76}), wood},
      {"the mocap target (translucent green)", on_body(sim, "target", {0, 0, 0}), green},
  };
  for (const Probe& probe : probes) {
    const auto [x, y] = project(probe.point);
    ASSERT_TRUE(x >= 2 && y >= 2 && x < kWidth - 2 && y < kHeight - 2) << probe.what << " is outside the view";
    // The pixel or one next to it (rasterisation may shift an edge by a pixel).
    bool found = false;
    std::string seen;
    for (int dy = -1; dy <= 1 && !found; ++dy) {
      for (int dx = -1; dx <= 1 && !found; ++dx) {
        const std::uint8_t* p = image->at(x + dx, y + dy);
        found = probe.looks_right(p[0], p[1], p[2]);
        if (dx == 0 && dy == 0) {
          seen = std::to_string(p[0]) + "," + std::to_string(p[1]) + "," + std::to_string(p[2]);
        }
      }
    }
    EXPECT_TRUE(found) << probe.what << " at pixel (" << x << ", " << y << ") from the bottom left shows rgb " << seen
                       << " (" << png << ")";
  }
}

}  // namespace
