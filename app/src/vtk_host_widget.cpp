#include "vtk_host_widget.h"

#include <QMouseEvent>
#include <QOpenGLContext>
#include <QSurfaceFormat>
#include <QWheelEvent>
#include <chrono>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkGenericRenderWindowInteractor.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkRenderer.h>

#include "vtk_frame_blit.h"

namespace fleetscope::app {

void VtkHostWidget::setDefaultSurfaceFormat() {
  QSurfaceFormat format;
  format.setRenderableType(QSurfaceFormat::OpenGL);
  format.setVersion(3, 2);
  format.setProfile(QSurfaceFormat::CoreProfile);
  format.setSwapBehavior(QSurfaceFormat::DoubleBuffer);
  format.setRedBufferSize(8);
  format.setGreenBufferSize(8);
  format.setBlueBufferSize(8);
  format.setDepthBufferSize(8);
  format.setAlphaBufferSize(8);
  format.setStencilBufferSize(0);
  format.setSwapInterval(0);  // our frame pacer decides the rate, not vsync
  QSurfaceFormat::setDefaultFormat(format);
}

VtkHostWidget::VtkHostWidget(QWidget* parent)
    : QOpenGLWidget(parent),
      window_(vtkSmartPointer<vtkGenericOpenGLRenderWindow>::New()),
      interactor_(vtkSmartPointer<vtkGenericRenderWindowInteractor>::New()),
      renderer_(vtkSmartPointer<vtkRenderer>::New()) {
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(false);
  window_->AddRenderer(renderer_);
  window_->SetReadyForRendering(false);
  window_->SetFrameBlitModeToNoBlit();
  window_->SetMultiSamples(0);
  interactor_->SetRenderWindow(window_);
  // Interaction must not render by itself: it marks a frame owed, the frame pacer decides.
  interactor_->EnableRenderOff();
  auto style = vtkSmartPointer<vtkInteractorStyleTrackballCamera>::New();
  interactor_->SetInteractorStyle(style);
  // Observers before OpenGLInitContext() (see the notes).
  auto make_current = vtkSmartPointer<vtkCallbackCommand>::New();
  make_current->SetCallback(&VtkHostWidget::onMakeCurrent);
  make_current->SetClientData(this);
  window_->AddObserver(vtkCommand::WindowMakeCurrentEvent, make_current);
  auto is_current = vtkSmartPointer<vtkCallbackCommand>::New();
  is_current->SetCallback(&VtkHostWidget::onIsCurrent);
  is_current->SetClientData(this);
  window_->AddObserver(vtkCommand::WindowIsCurrentEvent, is_current);
  auto camera = vtkSmartPointer<vtkCallbackCommand>::New();
  camera->SetCallback(&VtkHostWidget::onCameraModified);
  camera->SetClientData(this);
  renderer_->GetActiveCamera()->AddObserver(vtkCommand::ModifiedEvent, camera);
}

VtkHostWidget::~VtkHostWidget() {
  makeCurrent();
  window_->Finalize();
  doneCurrent();
}

vtkRenderer* VtkHostWidget::renderer() const { return renderer_; }
vtkGenericOpenGLRenderWindow* VtkHostWidget::renderWindow() const { return window_; }

void VtkHostWidget::onMakeCurrent(vtkObject*, unsigned long, void* clientData, void*) {
  auto* self = static_cast<VtkHostWidget*>(clientData);
  // Re-binding our own current context would re-bind Qt's FBO behind VTK's state cache and
  // leave VTK's framebuffers incomplete (a black view): only switch from another context.
  QOpenGLContext* ctx = self->context();
  if (ctx && QOpenGLContext::currentContext() != ctx) ctx->makeCurrent(ctx->surface());
}

void VtkHostWidget::onIsCurrent(vtkObject*, unsigned long, void* clientData, void* callData) {
  auto* self = static_cast<VtkHostWidget*>(clientData);
  *static_cast<bool*>(callData) = self->context() && QOpenGLContext::currentContext() == self->context();
}

void VtkHostWidget::onCameraModified(vtkObject*, unsigned long, void* clientData, void*) {
  auto* self = static_cast<VtkHostWidget*>(clientData);
  if (!self->camera_signals_blocked_) emit self->cameraChanged();
}

void VtkHostWidget::initializeGL() {
  window_->SetOwnContext(false);
  window_->SetReadyForRendering(true);
  const qreal dpr = devicePixelRatioF();
  window_->SetSize(static_cast<int>(width() * dpr), static_cast<int>(height() * dpr));
  window_->OpenGLInitContext();
  interactor_->Initialize();
}

void VtkHostWidget::resizeGL(int w, int h) {
  const qreal dpr = devicePixelRatioF();
  const int pw = static_cast<int>(w * dpr), ph = static_cast<int>(h * dpr);
  window_->SetSize(pw, ph);
  interactor_->UpdateSize(pw, ph);
  emit cameraChanged();
}

void VtkHostWidget::paintGL() {
  const auto start = std::chrono::steady_clock::now();
  camera_signals_blocked_ = true;
  render_vtk_frame(window_);
  camera_signals_blocked_ = false;
  // glCheckFramebufferStatus makes Mesa finish the frame first: check only the first frames.
  if (frames_checked_ < 3) {
    framebuffer_status_ = vtk_framebuffer_status(window_);
    ++frames_checked_;
  }
  const qreal dpr = devicePixelRatioF();
  blit_vtk_frame(window_, defaultFramebufferObject(), static_cast<int>(width() * dpr), static_cast<int>(height() * dpr));
  emit frameRendered(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
}

void VtkHostWidget::forwardMouse(QMouseEvent* e, unsigned long event) {
  const qreal dpr = devicePixelRatioF();
  const QPointF p = e->position();
  const int x = static_cast<int>(p.x() * dpr);
  const int y = static_cast<int>((height() - p.y() - 1) * dpr);  // VTK's y grows upwards
  interactor_->SetEventInformation(x, y, (e->modifiers() & Qt::ControlModifier) ? 1 : 0,
                                   (e->modifiers() & Qt::ShiftModifier) ? 1 : 0);
  interactor_->InvokeEvent(event, e);
}

void VtkHostWidget::mousePressEvent(QMouseEvent* e) {
  press_position_ = e->position().toPoint();
  dragged_ = false;
  switch (e->button()) {
    case Qt::LeftButton: forwardMouse(e, vtkCommand::LeftButtonPressEvent); break;
    case Qt::MiddleButton: forwardMouse(e, vtkCommand::MiddleButtonPressEvent); break;
    case Qt::RightButton: forwardMouse(e, vtkCommand::RightButtonPressEvent); break;
    default: break;
  }
}

void VtkHostWidget::mouseMoveEvent(QMouseEvent* e) {
  if ((e->position().toPoint() - press_position_).manhattanLength() > 3) dragged_ = true;
  forwardMouse(e, vtkCommand::MouseMoveEvent);
}

void VtkHostWidget::mouseReleaseEvent(QMouseEvent* e) {
  switch (e->button()) {
    case Qt::LeftButton: forwardMouse(e, vtkCommand::LeftButtonReleaseEvent); break;
    case Qt::MiddleButton: forwardMouse(e, vtkCommand::MiddleButtonReleaseEvent); break;
    case Qt::RightButton: forwardMouse(e, vtkCommand::RightButtonReleaseEvent); break;
    default: break;
  }
  if (e->button() == Qt::LeftButton && !dragged_) {
    const qreal dpr = devicePixelRatioF();
    emit clicked(static_cast<int>(e->position().x() * dpr), static_cast<int>((height() - e->position().y() - 1) * dpr));
  }
}

void VtkHostWidget::wheelEvent(QWheelEvent* e) {
  const qreal dpr = devicePixelRatioF();
  interactor_->SetEventInformation(static_cast<int>(e->position().x() * dpr),
                                   static_cast<int>((height() - e->position().y() - 1) * dpr));
  interactor_->InvokeEvent(e->angleDelta().y() > 0 ? vtkCommand::MouseWheelForwardEvent
                                                   : vtkCommand::MouseWheelBackwardEvent,
                           e);
}



}  // namespace fleetscope::app
