// Where the camera looks and the floor under the fleet: the framing rules every view shares (the
// Qt viewer, screenshots, the offscreen view of tests and benchmarks). No Qt; VTK stays in the .cpp.
#pragma once

#include <array>
#include <memory>

class vtkRenderer;

namespace fleetscope::render {

// World-space {xmin, xmax, ymin, ymax, zmin, zmax}.
using Bounds = std::array<double, 6>;

// Looks at `b` from the front-left and above (z up), the whole box in view.
void frame_all(vtkRenderer* renderer, const Bounds& b);
// Centres `b` and fits it in view, keeping the direction the camera looks from.
void frame_keeping_direction(vtkRenderer* renderer, const Bounds& b);
// Moves the focal point, and the eye with it, to the centre of `b` without zooming (following a
// robot). Returns false when the camera already looks there.
bool follow(vtkRenderer* renderer, const Bounds& b);
// An explicit eye and target (z up).
void look_from(vtkRenderer* renderer, const std::array<double, 3>& eye, const std::array<double, 3>& target);

// A flat floor at z = 0 under the fleet, for depth cues; not pickable.
class Ground {
 public:
  explicit Ground(vtkRenderer* renderer);
  ~Ground();
  Ground(const Ground&) = delete;
  Ground& operator=(const Ground&) = delete;
  // Spans the x-y extent of `b` plus a margin; shown from the first fit on unless hidden.
  void fit(const Bounds& b);
  // Hides or shows it (a simulation with its own floor: the two would fight at z = 0).
  void set_visible(bool visible);
  bool visible() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetscope::render
