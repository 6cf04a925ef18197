// An offscreen VTK render window for tests, benchmarks and screenshots: render, read the pixels
// back, write a PNG. Needs an X display (Xvfb on machines without one). Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

class vtkRenderer;

namespace fleetscope::render {

struct Rgb {
  std::uint8_t r, g, b;
  bool operator==(const Rgb&) const = default;
};

class OffscreenView {
 public:
  OffscreenView(int width, int height, std::array<double, 3> background = {0.1, 0.1, 0.12});
  ~OffscreenView();
  OffscreenView(const OffscreenView&) = delete;
  OffscreenView& operator=(const OffscreenView&) = delete;

  vtkRenderer* renderer() const;
  int width() const { return width_; }
  int height() const { return height_; }
  // Looks at `bounds` from above-front, or straight down the -z axis (orthographic) if `top`.
  void frame_bounds(const std::array<double, 6>& bounds, bool top = false);
  // Renders one frame; returns its duration in milliseconds (Render() until finished).
  double render();
  // Pixels of the last frame, row 0 at the bottom (VTK display coordinates).
  std::vector<Rgb> pixels() const;
  Rgb pixel(int x, int y) const;
  void write_png(const std::string& path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int width_, height_;
};

}  // namespace fleetscope::render
