#include "fleetscope/render/camera_rig.hpp"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkPlaneSource.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>

#include <algorithm>
#include <cmath>

namespace fleetscope::render {
namespace {

std::array<double, 3> centre(const Bounds& b) {
  return {(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2};
}

}  // namespace

void frame_all(vtkRenderer* renderer, const Bounds& b) {
  vtkCamera* cam = renderer->GetActiveCamera();
  const auto c = centre(b);
  const double span = std::max({b[1] - b[0], b[3] - b[2], 1.0});
  cam->SetFocalPoint(c.data());
  cam->SetPosition(c[0] - 0.35 * span, c[1] - 0.95 * span, c[2] + 0.55 * span);
  cam->SetViewUp(0, 0, 1);
  renderer->ResetCamera(const_cast<double*>(b.data()));
  cam->Zoom(1.25);
}

void frame_keeping_direction(vtkRenderer* renderer, const Bounds& b) {
  vtkCamera* cam = renderer->GetActiveCamera();
  double f[3], p[3];
  cam->GetFocalPoint(f);
  cam->GetPosition(p);
  const auto c = centre(b);
  cam->SetFocalPoint(c.data());
  cam->SetPosition(c[0] + (p[0] - f[0]), c[1] + (p[1] - f[1]), c[2] + (p[2] - f[2]));
  renderer->ResetCamera(const_cast<double*>(b.data()));
}

bool follow(vtkRenderer* renderer, const Bounds& b) {
  vtkCamera* cam = renderer->GetActiveCamera();
  double f[3];
  cam->GetFocalPoint(f);
  const auto c = centre(b);
  if (std::abs(c[0] - f[0]) + std::abs(c[1] - f[1]) + std::abs(c[2] - f[2]) <= 1e-4) return false;
  double p[3];
  cam->GetPosition(p);
  cam->SetFocalPoint(c.data());
  cam->SetPosition(p[0] + c[0] - f[0], p[1] + c[1] - f[1], p[2] + c[2] - f[2]);
  return true;
}

void look_from(vtkRenderer* renderer, const std::array<double, 3>& eye, const std::array<double, 3>& target) {
  vtkCamera* cam = renderer->GetActiveCamera();
  cam->SetPosition(eye.data());
  cam->SetFocalPoint(target.data());
  cam->SetViewUp(0, 0, 1);
  cam->OrthogonalizeViewUp();
  renderer->ResetCameraClippingRange();
}

struct Ground::Impl {
  vtkSmartPointer<vtkRenderer> renderer;
  vtkSmartPointer<vtkPlaneSource> source = vtkSmartPointer<vtkPlaneSource>::New();
  vtkSmartPointer<vtkActor> actor = vtkSmartPointer<vtkActor>::New();
  bool fitted = false;
  bool wanted = true;
  void apply() { actor->SetVisibility(fitted && wanted); }
};

Ground::Ground(vtkRenderer* renderer) : impl_(std::make_unique<Impl>()) {
  impl_->renderer = renderer;
  auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  mapper->SetInputConnection(impl_->source->GetOutputPort());
  impl_->actor->SetMapper(mapper);
  impl_->actor->GetProperty()->SetColor(0.36, 0.38, 0.40);
  impl_->actor->GetProperty()->SetAmbient(0.3);
  impl_->actor->PickableOff();
  impl_->actor->VisibilityOff();  // until fitted to something
  renderer->AddActor(impl_->actor);
}

Ground::~Ground() { impl_->renderer->RemoveActor(impl_->actor); }

void Ground::fit(const Bounds& b) {
  const double margin = 1.5;
  impl_->source->SetOrigin(b[0] - margin, b[2] - margin, 0.0);
  impl_->source->SetPoint1(b[1] + margin, b[2] - margin, 0.0);
  impl_->source->SetPoint2(b[0] - margin, b[3] + margin, 0.0);
  impl_->fitted = true;
  impl_->apply();
}

void Ground::set_visible(bool visible) {
  impl_->wanted = visible;
  impl_->apply();
}

bool Ground::visible() const { return impl_->actor->GetVisibility() != 0; }

}  // namespace fleetscope::render
