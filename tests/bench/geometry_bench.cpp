// Costs of format 1.3's geometry, printed as figures (xvfb-run -a build/tests/geometry_bench):
// 1. Translucency: 100 robots x 30 box links (800 x 600 offscreen, every pose changed every
//    frame), all opaque, then with one link in ten translucent, each with VTK's depth peeling on
//    (the scene's setting) and off: render time per frame.
// 2. Stored meshes: 100 robots of a 50,000-triangle model: the time to store the mesh (encode,
//    CRC, zstd), the segment's size, and the viewer's first frame (attach, read and check the
//    mesh, build its geometry, first render) against a box-only model of the same robots.
#include <unistd.h>
#include <vtkCallbackCommand.h>
#include <vtkSmartPointer.h>
#include <vtkRenderer.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"

using namespace fleetscope;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

constexpr std::uint32_t kRobots = 100, kLinks = 30;

void set_poses(SimWriter& w, double t) {
  std::vector<double> poses(w.total_links() * 7);
  for (std::size_t i = 0; i < w.total_links(); ++i) {
    double* p = &poses[i * 7];
    const double yaw = t + 0.01 * double(i);
    p[0] = double(i % 55), p[1] = double(i / 55), p[2] = 0.1 * std::sin(t + double(i));
    p[3] = 0.0, p[4] = 0.0, p[5] = std::sin(yaw / 2), p[6] = std::cos(yaw / 2);
  }
  w.set_all_poses(std::span<const double>(poses));
  w.publish(t);
}

double render_ms(SimWriter& w, bool peeling, int frames) {
  render::OffscreenView view(800, 600);
  render::FleetScene scene(view.renderer());
  // The scene turns peeling on when it draws something translucent; "off" overrides that after it.
  unsigned long observer = 0;
  if (!peeling) {
    auto off = vtkSmartPointer<vtkCallbackCommand>::New();
    off->SetCallback([](vtkObject* caller, unsigned long, void*, void*) {
      static_cast<vtkRenderer*>(caller)->SetUseDepthPeeling(0);
    });
    observer = view.renderer()->AddObserver(vtkCommand::StartEvent, off, -1.0f);  // after the scene's
  }
  scene.attach(w.segment().name());
  scene.update();
  view.frame_bounds({-1, 56, -1, 56, -0.5, 0.5});
  view.render();
  double total = 0;
  for (int f = 0; f < frames; ++f) {
    set_poses(w, 0.05 * (f + 1));
    scene.update();
    total += view.render();
  }
  if (observer) view.renderer()->RemoveObserver(observer);
  return total / frames;
}

void translucency(int frames) {
  for (const bool some_translucent : {false, true}) {
    WriterConfig c;
    c.name = "bench.translucent." + std::to_string(::getpid()) + (some_translucent ? ".t" : ".o");
    c.max_robots = kRobots;
    c.max_links = kLinks;
    SimWriter w(c);
    ModelDesc model{"boxes", {}};
    for (std::uint32_t l = 0; l < kLinks; ++l) {
      LinkVisualDesc box;
      box.shape = ipc::Shape::kBox;
      box.dims = {0.6f, 0.2f, 0.2f};
      box.rgba = {200, 120, 60, static_cast<std::uint8_t>(some_translucent && l % 10 == 0 ? 110 : 255)};
      box.name = "l" + std::to_string(l);
      model.links.push_back(box);
    }
    const auto m = w.add_model(model);
    for (std::uint32_t r = 0; r < kRobots; ++r) w.spawn_robot("r" + std::to_string(r), m);
    set_poses(w, 0.0);
    for (const bool peeling : {true, false}) {
      if (!some_translucent && !peeling) continue;  // the scene peels only with translucency
      std::printf("translucency  %-28s depth peeling %-8s  render %6.2f ms/frame\n",
                  some_translucent ? "1 link in 10 translucent," : "all opaque,",
                  some_translucent ? (peeling ? "on" : "off") : "not used",
                  render_ms(w, peeling, frames));
    }
  }
}

// A closed 50,000-triangle mesh: a UV sphere of 250 x 100 quads, slightly bumpy (so zstd sees
// real data, not a regular grid).
ipc::MeshData bumpy_sphere() {
  ipc::MeshData m;
  const int seg = 250, rings = 101;
  for (int r = 0; r < rings; ++r) {
    const double phi = M_PI * r / (rings - 1);
    for (int s = 0; s < seg; ++s) {
      const double theta = 2 * M_PI * s / seg;
      const double radius = 0.15 * (1.0 + 0.05 * std::sin(7 * theta) * std::sin(5 * phi));
      m.vertices.insert(m.vertices.end(), {float(radius * std::sin(phi) * std::cos(theta)),
                                           float(radius * std::sin(phi) * std::sin(theta)), float(radius * std::cos(phi))});
    }
  }
  for (int r = 0; r + 1 < rings; ++r) {
    for (int s = 0; s < seg; ++s) {
      const auto a = std::uint32_t(r * seg + s), b = std::uint32_t(r * seg + (s + 1) % seg);
      const auto c = a + seg, d = b + seg;
      m.triangles.insert(m.triangles.end(), {a, c, b, b, c, d});
    }
  }
  return m;
}

void stored_meshes() {
  const ipc::MeshData mesh = bumpy_sphere();
  const std::size_t raw = mesh.vertices.size() * 4 + mesh.triangles.size() * 4;
  for (const bool with_mesh : {false, true}) {
    WriterConfig c;
    c.name = "bench.meshes." + std::to_string(::getpid()) + (with_mesh ? ".m" : ".b");
    c.max_robots = kRobots;
    c.max_links = kLinks;
    c.mesh_bytes = raw;
    SimWriter w(c);
    RobotModelDesc model{"robot", {}};
    double store_ms = 0;
    LinkVisualDesc v;
    v.shape = ipc::Shape::kBox;
    v.dims = {0.3f, 0.3f, 0.3f};
    if (with_mesh) {
      const auto t0 = Clock::now();
      v.shape = ipc::Shape::kInlineMesh;
      v.mesh = w.add_mesh(mesh);
      store_ms = ms_since(t0);
    }
    // The 50k-triangle mesh is the robot's body (link 0); its other 29 links are boxes.
    model.links.push_back(LinkDesc{"body", {v}});
    for (std::uint32_t l = 1; l < kLinks; ++l) {
      LinkVisualDesc box;
      box.dims = {0.2f, 0.05f, 0.05f};
      model.links.push_back(LinkDesc{"l" + std::to_string(l), {box}});
    }
    const auto m = w.add_model(model);
    for (std::uint32_t r = 0; r < kRobots; ++r) w.spawn_robot("r" + std::to_string(r), m);
    set_poses(w, 0.0);

    const auto t0 = Clock::now();
    render::OffscreenView view(800, 600);
    render::FleetScene scene(view.renderer());
    scene.attach(w.segment().name());
    scene.update();
    const double ingest = ms_since(t0);
    view.frame_bounds({-1, 56, -1, 56, -0.5, 0.5});
    view.render();
    const double first = ms_since(t0);
    double steady = 0;
    for (int f = 0; f < 5; ++f) {
      set_poses(w, 0.05 * (f + 1));
      scene.update();
      steady += view.render() / 5;
    }
    if (with_mesh) {
      std::printf("stored mesh   %zu triangles, %zu vertices: %.2f MB raw, %.2f MB stored (zstd), stored in %.1f ms\n",
                  mesh.triangle_count(), mesh.vertex_count(), raw / 1e6, double(w.segment().mesh_bytes_used()) / 1e6,
                  store_ms);
    }
    std::printf("first frame   100 robots, body %-22s segment %7.2f MB  attach+read %7.1f ms  first frame %7.1f ms  "
                "then %6.1f ms/frame\n",
                with_mesh ? "a 50k-triangle mesh:" : "a box:", double(w.segment().size_bytes()) / 1e6, ingest, first, steady);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int frames = argc > 1 ? std::atoi(argv[1]) : 20;
  translucency(frames);
  stored_meshes();
  return 0;
}
