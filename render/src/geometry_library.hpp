// Unit geometry for every link visual, shared by all instances that can use it: one unit box,
// sphere and cylinder (scaled per instance), a capsule per radius and length (its caps must not
// be stretched), and a mesh per file (read once with VTK's STL/OBJ/PLY readers, checked first
// and after: see mesh_check.hpp).
//
// Mesh files are read off the calling thread, by one worker thread of the library, one file at
// a time: until a mesh is ready its key draws a unit box, and poll_ready() hands over the meshes
// finished since the last call, for the batches to swap in. A mesh that is refused or cannot be
// read stays a unit box, with one warning naming the file and the reason.
#pragma once

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/mesh_data.hpp"

namespace fleetscope::render {

struct GeometryKey {
  std::uint32_t shape = 0;
  float a = 0.0f, b = 0.0f;  // capsule radius and length
  std::string mesh;           // a mesh file's path
  std::uint64_t content = 0;  // a stored mesh: its content (mesh_content_key), whatever segment holds it
  auto operator<=>(const GeometryKey&) const = default;
};

// How one link visual maps to shared geometry: the key and the per-instance scale.
struct GeometryUse {
  GeometryKey key;
  std::array<float, 3> scale{1.0f, 1.0f, 1.0f};
};

// `content`: for a stored mesh (kInlineMesh), its mesh_content_key.
GeometryUse geometry_for(const ipc::LinkVisual& visual, std::uint64_t content = 0);

// Identical stored meshes (from any segment) get the same key: one geometry, one batch.
std::uint64_t mesh_content_key(const ipc::MeshData& mesh);

class GeometryLibrary {
 public:
  GeometryLibrary();
  // Stops the worker: a file being read is abandoned at its next stage.
  ~GeometryLibrary();
  GeometryLibrary(const GeometryLibrary&) = delete;
  GeometryLibrary& operator=(const GeometryLibrary&) = delete;

  // The unit geometry for `key`, created on first use. A mesh is queued for the worker and is a
  // unit box until poll_ready() hands it over; one that cannot be read stays a box.
  vtkSmartPointer<vtkPolyData> get(const GeometryKey& key);
  // The geometry of a stored mesh (key.shape kInlineMesh), built from `mesh` on first use.
  vtkSmartPointer<vtkPolyData> get(const GeometryKey& key, const ipc::MeshData& mesh);
  // Meshes read since the last call, now in the cache: each key with its new geometry.
  std::vector<std::pair<GeometryKey, vtkSmartPointer<vtkPolyData>>> poll_ready();
  // Mesh files queued or being read, not yet handed over by poll_ready().
  std::size_t loading() const;
  // Waits until every queued mesh is finished (tests, benchmarks); false on timeout.
  bool wait_for_loads(std::chrono::milliseconds timeout) const;
  std::size_t size() const { return cache_.size(); }

 private:
  class Loader;
  std::unique_ptr<Loader> loader_;  // started with the first mesh
  std::map<GeometryKey, vtkSmartPointer<vtkPolyData>> cache_;
};

}  // namespace fleetscope::render
