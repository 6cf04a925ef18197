#include "geometry_library.hpp"

#include "fleetscope/ipc/shared_memory.hpp"

#include <spdlog/spdlog.h>
#include <vtkAppendPolyData.h>
#include <vtkCleanPolyData.h>
#include <vtkCubeSource.h>
#include <vtkCellArray.h>
#include <vtkCylinderSource.h>
#include <vtkFloatArray.h>
#include <vtkPlaneSource.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyDataNormals.h>
#include <vtkSphereSource.h>
#include <vtkTransform.h>
#include <vtkTransformPolyDataFilter.h>
#include <vtkTriangleFilter.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "mesh_check.hpp"

namespace fleetscope::render {
namespace {

// Facets around round shapes: enough to read as round at robot scale, few enough for a
// software rasteriser (see render_bench).
constexpr int kRoundResolution = 10;

// Round to 0.1 mm so capsules that differ by float noise share one batch.
float quantise(float v) { return std::round(v * 1e4f) / 1e4f; }

// Triangles and normals for a source's output (optionally turned from y onto z), or for a
// checked mesh (`data`). Creates its own pipeline objects: runs on any thread.
vtkSmartPointer<vtkPolyData> finish(vtkAlgorithm* source, bool y_to_z, vtkPolyData* data = nullptr) {
  vtkSmartPointer<vtkAlgorithm> last = source;
  if (y_to_z) {
    // VTK's cylinder and capsule sources lie along y; link visuals use the local z axis.
    auto rotate = vtkSmartPointer<vtkTransform>::New();
    rotate->RotateX(90.0);
    auto filter = vtkSmartPointer<vtkTransformPolyDataFilter>::New();
    filter->SetTransform(rotate);
    filter->SetInputConnection(source->GetOutputPort());
    last = filter;
  }
  VtkMessageCatcher messages;
  auto triangles = vtkSmartPointer<vtkTriangleFilter>::New();
  if (data) triangles->SetInputData(data);
  else triangles->SetInputConnection(last->GetOutputPort());
  auto normals = vtkSmartPointer<vtkPolyDataNormals>::New();
  normals->SetInputConnection(triangles->GetOutputPort());
  normals->SetFeatureAngle(60.0);
  messages.watch(triangles);
  messages.watch(normals);
  normals->Update();
  auto out = vtkSmartPointer<vtkPolyData>::New();
  out->DeepCopy(normals->GetOutput());
  if (data && (!messages.first_error().empty() || out->GetNumberOfPoints() == 0)) return nullptr;
  return out;
}

vtkSmartPointer<vtkPolyData> unit_box() {
  auto s = vtkSmartPointer<vtkCubeSource>::New();
  s->SetXLength(1.0);
  s->SetYLength(1.0);
  s->SetZLength(1.0);
  return finish(s, false);
}

}  // namespace

// One thread that reads mesh files in the order asked; results wait for poll_ready().
class GeometryLibrary::Loader {
 public:
  Loader() : thread_([this] { run(); }) {}
  ~Loader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cancel_.store(true);
    wake_.notify_all();
    thread_.join();
  }

  void queue(const GeometryKey& key) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(key);
      ++outstanding_;
    }
    wake_.notify_all();
  }

  std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> take() {
    std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> out;
    std::lock_guard lock(mutex_);
    out.swap(done_);
    outstanding_ -= out.size();
    return out;
  }

  std::size_t outstanding() const {
    std::lock_guard lock(mutex_);
    return outstanding_;
  }

  bool wait(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
  }

 private:
  void run() {
    for (;;) {
      GeometryKey key;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        key = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      vtkSmartPointer<vtkPolyData> geometry = load(key.mesh);
      {
        std::lock_guard lock(mutex_);
        done_.emplace_back(std::move(key), std::move(geometry));
        busy_ = false;
      }
      idle_.notify_all();
    }
  }

  // The finished mesh, or null (warned once) when it stays a box.
  vtkSmartPointer<vtkPolyData> load(const std::string& path) {
    const MeshCheck check = read_mesh_file(path, &cancel_);
    if (check.problem == MeshProblem::kCancelled) return nullptr;
    if (!check.ok()) {
      spdlog::warn("mesh '{}' is not drawn: {}; drawing a unit box instead", ipc::printable(path), ipc::printable(check.reason));
      return nullptr;
    }
    auto geometry = finish(nullptr, false, check.polydata);
    if (!geometry) spdlog::warn("mesh '{}' is not drawn (its normals could not be computed); drawing a unit box instead", ipc::printable(path));
    return geometry;
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  mutable std::condition_variable idle_;
  std::deque<GeometryKey> queue_;
  std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> done_;
  std::size_t outstanding_ = 0;  // queued, being read, or done and not yet taken
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // last: started once everything above exists
};

std::uint64_t mesh_content_key(const ipc::MeshData& m) {
  // FNV-1a over the three arrays and their sizes.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  const std::size_t sizes[3] = {m.vertices.size(), m.triangles.size(), m.normals.size()};
  mix(sizes, sizeof sizes);
  mix(m.vertices.data(), m.vertices.size() * sizeof(float));
  mix(m.triangles.data(), m.triangles.size() * sizeof(std::uint32_t));
  mix(m.normals.data(), m.normals.size() * sizeof(float));
  return h | 1;  // never 0, which means "no stored mesh"
}

GeometryUse geometry_for(const ipc::LinkVisual& v, std::uint64_t content) {
  GeometryUse use;
  use.key.shape = v.shape;
  const float d0 = std::max(v.dims[0], 1e-4f), d1 = std::max(v.dims[1], 1e-4f), d2 = std::max(v.dims[2], 1e-4f);
  switch (static_cast<ipc::Shape>(v.shape)) {
    case ipc::Shape::kBox: use.scale = {d0, d1, d2}; break;
    case ipc::Shape::kSphere: use.scale = {d0, d0, d0}; break;
    case ipc::Shape::kCylinder: use.scale = {d0, d0, d1}; break;
    case ipc::Shape::kCapsule:
      use.key.a = quantise(d0);
      use.key.b = quantise(std::max(v.dims[1], 0.0f));
      break;
    case ipc::Shape::kMesh:
      use.key.mesh = v.mesh_path;
      use.scale = {v.scale[0], v.scale[1], v.scale[2]};
      break;
    case ipc::Shape::kPlane: use.scale = {d0, d1, 1.0f}; break;
    case ipc::Shape::kEllipsoid: use.scale = {d0, d1, d2}; break;
    case ipc::Shape::kInlineMesh:
      use.key.content = content;
      use.scale = {v.scale[0], v.scale[1], v.scale[2]};
      break;
  }
  return use;
}

GeometryLibrary::GeometryLibrary() = default;
GeometryLibrary::~GeometryLibrary() = default;

vtkSmartPointer<vtkPolyData> GeometryLibrary::get(const GeometryKey& key) {
  if (const auto it = cache_.find(key); it != cache_.end()) return it->second;
  vtkSmartPointer<vtkPolyData> geometry;
  switch (static_cast<ipc::Shape>(key.shape)) {
    case ipc::Shape::kSphere: {
      auto s = vtkSmartPointer<vtkSphereSource>::New();
      s->SetRadius(1.0);
      s->SetThetaResolution(kRoundResolution);
      s->SetPhiResolution(6);
      geometry = finish(s, false);
      break;
    }
    case ipc::Shape::kCylinder: {
      auto s = vtkSmartPointer<vtkCylinderSource>::New();
      s->SetRadius(1.0);
      s->SetHeight(1.0);
      s->SetResolution(kRoundResolution);
      geometry = finish(s, true);
      break;
    }
    case ipc::Shape::kCapsule: {
      // Built from a capless cylinder and two low-resolution hemispheres: vtkCapsuleSource's
      // smallest tessellation has ~6x the triangles, and on a software rasteriser triangles
      // are the frame's cost (arms are mostly capsules).
      auto append = vtkSmartPointer<vtkAppendPolyData>::New();
      auto body = vtkSmartPointer<vtkCylinderSource>::New();
      body->SetRadius(key.a);
      body->SetHeight(std::max(key.b, 1e-4f));
      body->SetResolution(kRoundResolution);
      body->CappingOff();
      append->AddInputConnection(body->GetOutputPort());
      for (const double side : {1.0, -1.0}) {
        auto cap = vtkSmartPointer<vtkSphereSource>::New();
        cap->SetRadius(key.a);
        cap->SetThetaResolution(kRoundResolution);
        cap->SetPhiResolution(4);
        cap->SetStartPhi(side > 0 ? 0.0 : 90.0);
        cap->SetEndPhi(side > 0 ? 90.0 : 180.0);
        // Sphere poles lie on z; the cylinder lies on y: turn the caps onto y first.
        auto turn = vtkSmartPointer<vtkTransform>::New();
        turn->Translate(0.0, side * key.b / 2, 0.0);
        turn->RotateX(-90.0);
        auto moved = vtkSmartPointer<vtkTransformPolyDataFilter>::New();
        moved->SetTransform(turn);
        moved->SetInputConnection(cap->GetOutputPort());
        append->AddInputConnection(moved->GetOutputPort());
      }
      auto clean = vtkSmartPointer<vtkCleanPolyData>::New();
      clean->SetInputConnection(append->GetOutputPort());
      geometry = finish(clean, true);
      break;
    }
    case ipc::Shape::kMesh: {
      // A box (the unit box's own geometry) until the worker has read the file.
      GeometryKey box;
      box.shape = static_cast<std::uint32_t>(ipc::Shape::kBox);
      geometry = get(box);
      if (!loader_) loader_ = std::make_unique<Loader>();
      loader_->queue(key);
      break;
    }
    case ipc::Shape::kEllipsoid: {
      // The unit sphere, scaled per instance by the three radii. Finer than a sphere's: a
      // stretched ellipsoid shows its facets.
      auto s = vtkSmartPointer<vtkSphereSource>::New();
      s->SetRadius(1.0);
      s->SetThetaResolution(16);
      s->SetPhiResolution(10);
      geometry = finish(s, false);
      break;
    }
    case ipc::Shape::kPlane: {
      // A unit quad in the x-y plane, normal +z; drawn from both sides (two-sided lighting).
      auto s = vtkSmartPointer<vtkPlaneSource>::New();
      s->SetOrigin(-0.5, -0.5, 0.0);
      s->SetPoint1(0.5, -0.5, 0.0);
      s->SetPoint2(-0.5, 0.5, 0.0);
      geometry = finish(s, false);
      break;
    }
    case ipc::Shape::kInlineMesh:  // without its data (get(key, mesh) first): a box
    case ipc::Shape::kBox:
      break;
  }
  if (!geometry) geometry = unit_box();
  cache_.emplace(key, geometry);
  return geometry;
}

vtkSmartPointer<vtkPolyData> GeometryLibrary::get(const GeometryKey& key, const ipc::MeshData& mesh) {
  if (const auto it = cache_.find(key); it != cache_.end()) return it->second;
  // The mesh was validated by the reader (counts, indices, finite bounded coordinates).
  auto points = vtkSmartPointer<vtkPoints>::New();
  points->SetDataTypeToFloat();
  points->SetNumberOfPoints(static_cast<vtkIdType>(mesh.vertex_count()));
  for (std::size_t i = 0; i < mesh.vertex_count(); ++i) {
    points->SetPoint(static_cast<vtkIdType>(i), mesh.vertices[3 * i], mesh.vertices[3 * i + 1], mesh.vertices[3 * i + 2]);
  }
  auto polys = vtkSmartPointer<vtkCellArray>::New();
  polys->AllocateExact(static_cast<vtkIdType>(mesh.triangle_count()), static_cast<vtkIdType>(mesh.triangles.size()));
  for (std::size_t t = 0; t < mesh.triangle_count(); ++t) {
    const vtkIdType ids[3] = {mesh.triangles[3 * t], mesh.triangles[3 * t + 1], mesh.triangles[3 * t + 2]};
    polys->InsertNextCell(3, ids);
  }
  auto data = vtkSmartPointer<vtkPolyData>::New();
  data->SetPoints(points);
  data->SetPolys(polys);
  vtkSmartPointer<vtkPolyData> geometry;
  if (!mesh.normals.empty()) {
    // The writer's normals are kept (smooth shading as the model's author meant it).
    auto normals = vtkSmartPointer<vtkFloatArray>::New();
    normals->SetNumberOfComponents(3);
    normals->SetName("Normals");
    normals->SetNumberOfTuples(static_cast<vtkIdType>(mesh.vertex_count()));
    std::copy(mesh.normals.begin(), mesh.normals.end(), normals->GetPointer(0));
    data->GetPointData()->SetNormals(normals);
    geometry = data;
  } else {
    geometry = finish(nullptr, false, data);
  }
  if (!geometry) geometry = unit_box();
  cache_.emplace(key, geometry);
  return geometry;
}

std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> GeometryLibrary::poll_ready() {
  std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> ready;
  if (!loader_) return ready;
  for (auto& [key, geometry] : loader_->take()) {
    if (!geometry) continue;  // refused: stays a box
    cache_[key] = geometry;
    ready.emplace_back(key, geometry);
  }
  return ready;
}

std::size_t GeometryLibrary::loading() const { return loader_ ? loader_->outstanding() : 0; }

bool GeometryLibrary::wait_for_loads(std::chrono::milliseconds timeout) const {
  return !loader_ || loader_->wait(timeout);
}

}  // namespace fleetscope::render
