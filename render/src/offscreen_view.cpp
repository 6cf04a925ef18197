#include "fleetscope/render/offscreen_view.hpp"

#include <vtkCamera.h>
#include <vtkImageData.h>
#include <vtkLight.h>
#include <vtkPNGWriter.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowToImageFilter.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace fleetscope::render {

struct OffscreenView::Impl {
  vtkSmartPointer<vtkRenderWindow> window = vtkSmartPointer<vtkRenderWindow>::New();
  vtkSmartPointer<vtkRenderer> renderer = vtkSmartPointer<vtkRenderer>::New();
};

OffscreenView::OffscreenView(int width, int height, std::array<double, 3> background)
    : impl_(std::make_unique<Impl>()), width_(width), height_(height) {
  impl_->window->SetOffScreenRendering(1);
  impl_->window->SetSize(width, height);
  impl_->window->SetMultiSamples(0);
  impl_->window->AddRenderer(impl_->renderer);
  impl_->renderer->SetBackground(background[0], background[1], background[2]);
}

OffscreenView::~OffscreenView() = default;

vtkRenderer* OffscreenView::renderer() const { return impl_->renderer; }

void OffscreenView::frame_bounds(const std::array<double, 6>& b, bool top) {
  vtkCamera* cam = impl_->renderer->GetActiveCamera();
  const double cx = (b[0] + b[1]) / 2, cy = (b[2] + b[3]) / 2, cz = (b[4] + b[5]) / 2;
  const double span = std::max({b[1] - b[0], b[3] - b[2], b[5] - b[4], 0.1});
  if (top) {
    cam->SetParallelProjection(true);
    cam->SetFocalPoint(cx, cy, cz);
    cam->SetPosition(cx, cy, cz + 10 * span);
    cam->SetViewUp(0, 1, 0);
    cam->SetParallelScale(std::max(b[3] - b[2], (b[1] - b[0]) * height_ / width_) / 2 * 1.1);
    impl_->renderer->ResetCameraClippingRange();
    return;
  }
  cam->SetParallelProjection(false);
  cam->SetFocalPoint(cx, cy, cz);
  cam->SetPosition(cx - 0.2 * span, cy - 0.9 * span, cz + 0.6 * span);
  cam->SetViewUp(0, 0, 1);
  impl_->renderer->ResetCamera(const_cast<double*>(b.data()));
}

double OffscreenView::render() {
  const auto start = std::chrono::steady_clock::now();
  impl_->window->Render();
  // Mesa renders asynchronously: wait for the frame, or the cost lands in a later call.
  impl_->window->WaitForCompletion();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::vector<Rgb> OffscreenView::pixels() const {
  auto data = vtkSmartPointer<vtkUnsignedCharArray>::New();
  impl_->window->GetPixelData(0, 0, width_ - 1, height_ - 1, 0, data);
  std::vector<Rgb> out(static_cast<std::size_t>(width_) * height_);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = {data->GetValue(3 * i), data->GetValue(3 * i + 1), data->GetValue(3 * i + 2)};
  }
  return out;
}

Rgb OffscreenView::pixel(int x, int y) const { return pixels()[static_cast<std::size_t>(y) * width_ + x]; }

void OffscreenView::write_png(const std::string& path) const {
  auto grab = vtkSmartPointer<vtkWindowToImageFilter>::New();
  grab->SetInput(impl_->window);
  grab->SetInputBufferTypeToRGB();
  grab->ReadFrontBufferOff();
  grab->Update();
  auto writer = vtkSmartPointer<vtkPNGWriter>::New();
  writer->SetFileName(path.c_str());
  writer->SetInputConnection(grab->GetOutputPort());
  writer->Write();
  if (writer->GetErrorCode() != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace fleetscope::render
