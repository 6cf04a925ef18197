// A Qt 6 widget hosting a vtkGenericOpenGLRenderWindow. VTK's own Qt module is Qt 5 only on
// Debian bookworm, so this is our small equivalent of QVTKOpenGLNativeWidget; the traps it
// avoids are recorded in shared/notes/vtk-in-qt6.md. Mouse and keyboard go to VTK's interactor
// (trackball camera). Lives on the GUI thread.
#pragma once

#include <QOpenGLWidget>
#include <vtkNew.h>
#include <vtkSmartPointer.h>

class vtkGenericOpenGLRenderWindow;
class vtkGenericRenderWindowInteractor;
class vtkRenderer;
class vtkObject;

namespace fleetscope::app {

class VtkHostWidget : public QOpenGLWidget {
  Q_OBJECT
 public:
  explicit VtkHostWidget(QWidget* parent = nullptr);
  ~VtkHostWidget() override;

  vtkRenderer* renderer() const;
  vtkGenericOpenGLRenderWindow* renderWindow() const;
  // The surface format VTK needs (OpenGL 3.2 core); set as default before QApplication exists.
  static void setDefaultSurfaceFormat();
  // Result of glCheckFramebufferStatus on VTK's render framebuffer (checked on the first frames).
  unsigned lastFramebufferStatus() const { return framebuffer_status_; }
  // Camera changes made by the program itself (clipping range, rendering) are not user
  // interaction and must not ask for another frame, or every frame would order the next.
  void setCameraSignalsBlocked(bool blocked) { camera_signals_blocked_ = blocked; }

 signals:
  // The camera moved (interaction): a frame is owed.
  void cameraChanged();
  // A frame was rendered; its render cost in milliseconds.
  void frameRendered(double render_ms);
  // A click without drag at device pixel (x, y), VTK display coordinates (origin bottom-left).
  void clicked(int x, int y);

 protected:
  void initializeGL() override;
  void resizeGL(int w, int h) override;
  void paintGL() override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;

 private:
  void forwardMouse(QMouseEvent* e, unsigned long event);
  static void onMakeCurrent(vtkObject* caller, unsigned long, void* clientData, void* callData);
  static void onIsCurrent(vtkObject* caller, unsigned long, void* clientData, void* callData);
  static void onCameraModified(vtkObject* caller, unsigned long, void* clientData, void* callData);

  vtkSmartPointer<vtkGenericOpenGLRenderWindow> window_;
  vtkSmartPointer<vtkGenericRenderWindowInteractor> interactor_;
  vtkSmartPointer<vtkRenderer> renderer_;
  QPoint press_position_;
  bool dragged_ = false;
  unsigned framebuffer_status_ = 0;
  int frames_checked_ = 0;
  bool camera_signals_blocked_ = false;
};

}  // namespace fleetscope::app
