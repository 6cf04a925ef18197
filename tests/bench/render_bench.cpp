// Frame cost of the instanced renderer (with its point level of detail, and with meshes only)
// against the one-actor-per-link baseline, side by side in one run: N box links on a grid,
// every pose changed every frame, 800 x 600 offscreen window, camera fitting the whole grid.
// Prints update (ingest + instance arrays) and render time per frame, CPU per frame, the
// empty-scene floor, scene cost (frame minus floor) and the ratios; then the effect of VTK's GPU
// culling + LOD on a large fleet. Needs a display (xvfb-run -a build/tests/render_bench).
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

using namespace fleetscope;

namespace {

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Result {
  double update_ms = 0, render_ms = 0, cpu_ms = 0;
  int frames = 0;
  std::uint64_t points = 0;  // links the level of detail drew as points in the last frame
};

struct Grid {
  std::unique_ptr<SimWriter> writer;
  std::vector<double> poses;
  std::uint32_t links;
  explicit Grid(std::uint32_t n) : links(n) {
    // 30 links per robot, as in the fleets this is for.
    const std::uint32_t per_robot = std::min<std::uint32_t>(30, n);
    WriterConfig c;
    c.name = "bench.render." + std::to_string(::getpid()) + "." + std::to_string(n);
    c.max_robots = (n + per_robot - 1) / per_robot;
    c.max_links = per_robot;
    writer = std::make_unique<SimWriter>(c);
    LinkVisualDesc box;
    box.shape = ipc::Shape::kBox;
    box.dims = {0.6f, 0.2f, 0.2f};
    box.rgba = {200, 120, 60, 255};
    const auto m = writer->add_model(ModelDesc{"boxes", std::vector<LinkVisualDesc>(per_robot, box)});
    for (std::uint32_t r = 0; r < c.max_robots; ++r) writer->spawn_robot("r" + std::to_string(r), m);
    poses.assign(writer->total_links() * 7, 0.0);
    set(0.0);
  }
  void set(double t) {
    const auto side = static_cast<std::uint32_t>(std::ceil(std::sqrt(double(writer->total_links()))));
    for (std::size_t i = 0; i < writer->total_links(); ++i) {
      double* p = &poses[i * 7];
      const double yaw = t + 0.01 * double(i);
      p[0] = double(i % side);
      p[1] = double(i / side);
      p[2] = 0.1 * std::sin(t + double(i));
      p[3] = 0.0, p[4] = 0.0, p[5] = std::sin(yaw / 2), p[6] = std::cos(yaw / 2);
    }
    writer->set_all_poses(std::span<const double>(poses));
    writer->publish(t);
  }
  std::array<double, 6> bounds() const {
    const auto side = std::ceil(std::sqrt(double(writer->total_links())));
    return {-1, side, -1, side, -0.5, 0.5};
  }
};

Result run(Grid& grid, render::BatchMode mode, bool lod, int frames, bool points = true) {
  render::OffscreenView view(800, 600);
  render::SceneSettings settings;
  settings.mode = mode;
  if (!points) settings.point_radius_px = 0.0;
  settings.culling_and_lod = lod;
  render::FleetScene scene(view.renderer(), settings);
  scene.attach(grid.writer->segment().name());
  scene.update();
  view.frame_bounds(grid.bounds());
  view.render();  // first frame: uploads, shader compiles
  Result r;
  const double cpu0 = cpu_ms();
  for (int f = 0; f < frames; ++f) {
    grid.set(0.05 * (f + 1));
    const auto t0 = std::chrono::steady_clock::now();
    scene.update();
    const auto t1 = std::chrono::steady_clock::now();
    r.render_ms += view.render();
    r.update_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
  r.cpu_ms = cpu_ms() - cpu0;
  r.frames = frames;
  r.points = scene.point_count();
  r.update_ms /= frames;
  r.render_ms /= frames;
  r.cpu_ms /= frames;
  return r;
}

double empty_floor(int frames) {
  render::OffscreenView view(800, 600);
  view.render();
  double total = 0;
  for (int f = 0; f < frames; ++f) total += view.render();
  return total / frames;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 2 && std::strcmp(argv[1], "--profile") == 0) {  // one configuration, for perf
    Grid grid(static_cast<std::uint32_t>(std::atoi(argv[2])));
    const Result r = run(grid, render::BatchMode::kInstanced, false, 60);
    std::printf("instanced %s links: update %.2f render %.2f cpu %.2f ms/frame\n", argv[2], r.update_ms, r.render_ms, r.cpu_ms);
    return 0;
  }
  const double floor_ms = empty_floor(30);
  std::printf("render_bench: 800x600 offscreen, all poses change every frame; empty-scene floor %.2f ms/frame\n", floor_ms);
  std::printf("%-8s %-15s %9s %9s %9s %9s %10s %9s %9s\n", "links", "design", "update_ms", "render_ms", "frame_ms",
              "cpu_ms", "scene_ms", "fps", "as_points");
  const std::vector<std::uint32_t> sizes = quick ? std::vector<std::uint32_t>{300, 3000} : std::vector<std::uint32_t>{300, 3000, 30000, 300000};
  for (const std::uint32_t n : sizes) {
    Grid grid(n);
    const int frames = n >= 300000 ? 5 : n >= 30000 ? 10 : 30;
    const Result inst = run(grid, render::BatchMode::kInstanced, false, frames);
    const Result meshes = run(grid, render::BatchMode::kInstanced, false, frames, false);
    // 300,000 actors need minutes per frame and gigabytes: the baseline stops at 30,000.
    const bool baseline = n <= 30000;
    const Result actor = baseline ? run(grid, render::BatchMode::kActorPerLink, false, n >= 30000 ? 3 : 10) : Result{};
    auto row = [&](const char* design, const Result& r) {
      const double frame = r.update_ms + r.render_ms;
      std::printf("%-8u %-15s %9.2f %9.2f %9.2f %9.2f %10.2f %9.1f %9llu\n", n, design, r.update_ms, r.render_ms, frame,
                  r.cpu_ms, frame - floor_ms, 1000.0 / frame, static_cast<unsigned long long>(r.points));
    };
    row("instanced", inst);
    row("instanced,mesh", meshes);
    if (baseline) {
      row("actor-per-link", actor);
      const double fi = inst.update_ms + inst.render_ms, fa = actor.update_ms + actor.render_ms;
      std::printf("%-8u %-15s frame time %.1fx, scene cost %.1fx, CPU per frame %.1fx (instanced better by)\n", n, "ratio",
                  fa / fi, (fa - floor_ms) / std::max(fi - floor_ms, 0.01), actor.cpu_ms / std::max(inst.cpu_ms, 0.01));
    }
    std::fflush(stdout);
  }
  {
    // Spawn to first frame: 100 robots x 30 links (boxes and capsules of 15 sizes) appear in a
    // segment the scene is attached to; time until the frame that shows them is finished.
    WriterConfig c;
    c.name = "bench.spawn." + std::to_string(::getpid());
    c.max_robots = 100;
    c.max_links = 30;
    SimWriter writer(c);
    ModelDesc model{"arm", {}};
    for (int l = 0; l < 30; ++l) {
      LinkVisualDesc v;
      v.shape = l % 2 ? ipc::Shape::kBox : ipc::Shape::kCapsule;
      v.dims = {0.05f + 0.005f * float(l / 2), 0.2f, 0.2f};
      v.offset_position = {0.0f, 0.0f, 0.1f};
      model.links.push_back(v);
    }
    const auto m = writer.add_model(model);
    render::OffscreenView view(800, 600);
    render::FleetScene scene(view.renderer());
    scene.attach(c.name);
    scene.update();
    view.render();
    std::vector<double> poses(100 * 30 * 7, 0.0);
    for (int i = 0; i < 100 * 30; ++i) {
      poses[i * 7 + 0] = 2.0 * (i / 30 % 10);
      poses[i * 7 + 1] = 2.0 * (i / 300);
      poses[i * 7 + 2] = 0.2 * (i % 30);
      poses[i * 7 + 6] = 1.0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < 100; ++r) writer.spawn_robot("r" + std::to_string(r), m);
    writer.set_all_poses(std::span<const double>(poses));
    writer.publish(0.0);
    const auto t1 = std::chrono::steady_clock::now();
    scene.update();
    view.frame_bounds({-1, 20, -1, 20, 0, 6});
    view.render();
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("spawn to first frame, 100 robots x 30 links: %.1f ms (writer spawn+publish %.1f ms, scene build + frame %.1f ms)\n",
                std::chrono::duration<double, std::milli>(t2 - t0).count(),
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  if (!quick) {
    Grid grid(30000);
    const Result off = run(grid, render::BatchMode::kInstanced, false, 10, false);
    const Result on = run(grid, render::BatchMode::kInstanced, true, 10, false);
    std::printf("VTK glyph culling+LOD at 30000 links (meshes only, offscreen): off %.2f ms/frame, on %.2f ms/frame\n", off.update_ms + off.render_ms,
                on.update_ms + on.render_ms);
  }
  return 0;
}
