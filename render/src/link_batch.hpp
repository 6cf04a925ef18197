// A set of link visuals that share one geometry. Two implementations: InstancedBatch (one
// vtkGlyph3DMapper for all its instances, the real renderer) and ActorBatch (one vtkActor per
// link, the seeds' design, kept as the benchmark baseline). Handles are stable ids.
#pragma once

#include <vtkSmartPointer.h>

#include <array>
#include <cstdint>
#include <memory>

#include "geometry_library.hpp"

class vtkRenderer;
class vtkPolyData;

namespace fleetscope::render {

// What the level-of-detail decision needs from the camera, computed once per frame. An
// instance of bounding radius r at distance d covers about r * pixels_per_unit / d pixels
// (perspective) or r * pixels_per_unit (parallel projection).
struct LodContext {
  std::array<double, 3> camera{0, 0, 0};
  bool parallel = false;
  double pixels_per_unit = 0.0;
  double point_radius_px = 0.0;  // below this projected radius an instance is drawn as a point
};

struct InstancePose {
  std::array<float, 3> position;
  std::array<float, 4> orientation;  // qx, qy, qz, qw
  std::array<float, 3> scale;
};

class LinkBatch {
 public:
  virtual ~LinkBatch() = default;
  virtual std::uint32_t add(const InstancePose& pose, std::array<std::uint8_t, 4> rgba) = 0;
  virtual void remove(std::uint32_t handle) = 0;
  virtual void set_pose(std::uint32_t handle, const InstancePose& pose) = 0;
  virtual void set_color(std::uint32_t handle, std::array<std::uint8_t, 4> rgba) = 0;
  virtual void set_visible(std::uint32_t handle, bool visible) = 0;
  // Replaces the unit geometry every instance draws (a mesh read in the background replaces
  // its placeholder box); instances, poses and colours stay.
  virtual void set_geometry(vtkSmartPointer<vtkPolyData> geometry) = 0;
  // Pushes this frame's changes to VTK (marks arrays modified once, not per instance).
  virtual void commit() = 0;
  virtual std::uint64_t visible_count() const = 0;
  // Chooses, per instance, the mesh or a point (far and small on screen). Default: always mesh.
  virtual void apply_lod(const LodContext&) {}
  virtual std::uint64_t point_count() const { return 0; }
  virtual std::size_t actor_count() const = 0;
  virtual std::size_t mapper_count() const = 0;
};

struct BatchSettings {
  bool culling_and_lod = false;
  float lod_distance = 60.0f;
  float lod_reduction = 0.85f;
};

std::unique_ptr<LinkBatch> make_instanced_batch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry,
                                                const BatchSettings& settings);
std::unique_ptr<LinkBatch> make_actor_batch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry);


}  // namespace fleetscope::render
