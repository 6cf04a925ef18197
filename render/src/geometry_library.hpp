// Unit geometry for every link visual, shared by all instances that can use it: one unit box,
// sphere and cylinder (scaled per instance), a capsule per radius and length (its caps must not
// be stretched), and a mesh per file (read once with VTK's STL/OBJ/PLY readers).
#pragma once

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include <array>
#include <map>
#include <string>

#include "fleetscope/ipc/format.hpp"

namespace fleetscope::render {

struct GeometryKey {
  std::uint32_t shape = 0;
  float a = 0.0f, b = 0.0f;  // capsule radius and length
  std::string mesh;
  auto operator<=>(const GeometryKey&) const = default;
};

// How one link visual maps to shared geometry: the key and the per-instance scale.
struct GeometryUse {
  GeometryKey key;
  std::array<float, 3> scale{1.0f, 1.0f, 1.0f};
};

GeometryUse geometry_for(const ipc::LinkVisual& visual);

class GeometryLibrary {
 public:
  // The unit geometry for `key`, created on first use. A mesh that cannot be read is replaced
  // by a unit box (logged once), so a bad path never takes the scene down.
  vtkSmartPointer<vtkPolyData> get(const GeometryKey& key);
  std::size_t size() const { return cache_.size(); }

 private:
  std::map<GeometryKey, vtkSmartPointer<vtkPolyData>> cache_;
};

}  // namespace fleetscope::render
