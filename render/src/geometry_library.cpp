#include "geometry_library.hpp"

#include <spdlog/spdlog.h>
#include <vtkAppendPolyData.h>
#include <vtkCleanPolyData.h>
#include <vtkCubeSource.h>
#include <vtkCylinderSource.h>
#include <vtkOBJReader.h>
#include <vtkPLYReader.h>
#include <vtkPolyDataNormals.h>
#include <vtkSTLReader.h>
#include <vtkSphereSource.h>
#include <vtkTransform.h>
#include <vtkTransformPolyDataFilter.h>
#include <vtkTriangleFilter.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fleetscope::render {
namespace {

// Facets around round shapes: enough to read as round at robot scale, few enough for a
// software rasteriser (see render_bench).
constexpr int kRoundResolution = 10;

// Round to 0.1 mm so capsules that differ by float noise share one batch.
float quantise(float v) { return std::round(v * 1e4f) / 1e4f; }

vtkSmartPointer<vtkPolyData> finish(vtkAlgorithm* source, bool y_to_z) {
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
  auto triangles = vtkSmartPointer<vtkTriangleFilter>::New();
  triangles->SetInputConnection(last->GetOutputPort());
  auto normals = vtkSmartPointer<vtkPolyDataNormals>::New();
  normals->SetInputConnection(triangles->GetOutputPort());
  normals->SetFeatureAngle(60.0);
  normals->Update();
  auto out = vtkSmartPointer<vtkPolyData>::New();
  out->DeepCopy(normals->GetOutput());
  return out;
}

vtkSmartPointer<vtkPolyData> read_mesh(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  vtkSmartPointer<vtkAbstractPolyDataReader> reader;
  if (ext == ".stl") reader = vtkSmartPointer<vtkSTLReader>::New();
  else if (ext == ".obj") reader = vtkSmartPointer<vtkOBJReader>::New();
  else if (ext == ".ply") reader = vtkSmartPointer<vtkPLYReader>::New();
  if (!reader || !std::filesystem::is_regular_file(path)) return nullptr;
  reader->SetFileName(path.c_str());
  auto out = finish(reader, false);
  return out->GetNumberOfPoints() > 0 ? out : nullptr;
}

}  // namespace

GeometryUse geometry_for(const ipc::LinkVisual& v) {
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
  }
  return use;
}

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
    case ipc::Shape::kMesh:
      geometry = read_mesh(key.mesh);
      if (!geometry) spdlog::warn("cannot read mesh '{}'; drawing a unit box instead", key.mesh);
      break;
    case ipc::Shape::kBox:
      break;
  }
  if (!geometry) {
    auto s = vtkSmartPointer<vtkCubeSource>::New();
    s->SetXLength(1.0);
    s->SetYLength(1.0);
    s->SetZLength(1.0);
    geometry = finish(s, false);
  }
  cache_.emplace(key, geometry);
  return geometry;
}

}  // namespace fleetscope::render
