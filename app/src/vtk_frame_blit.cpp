#include "vtk_frame_blit.h"

#include <vtk_glew.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkOpenGLFramebufferObject.h>
#include <vtkOpenGLState.h>

namespace fleetscope::app {

void render_vtk_frame(vtkGenericOpenGLRenderWindow* window) {
  vtkOpenGLState* state = window->GetState();
  state->Reset();
  state->Push();
  state->vtkglDepthFunc(GL_LEQUAL);  // Qt leaves GL_LESS; VTK expects GL_LEQUAL
  window->Render();
  state->Pop();
}

unsigned vtk_framebuffer_status(vtkGenericOpenGLRenderWindow* window) {
  vtkOpenGLFramebufferObject* fbo = window->GetRenderFramebuffer();
  if (!fbo) return 0;
  vtkOpenGLState* state = window->GetState();
  state->PushFramebufferBindings();
  fbo->Bind();
  const unsigned status = glCheckFramebufferStatus(GL_FRAMEBUFFER);
  state->PopFramebufferBindings();
  return status;
}

void blit_vtk_frame(vtkGenericOpenGLRenderWindow* window, unsigned target, int w, int h) {
  vtkOpenGLState* state = window->GetState();
  state->PushDrawFramebufferBinding();
  state->vtkglBindFramebuffer(GL_DRAW_FRAMEBUFFER, target);
  state->vtkglDrawBuffer(GL_COLOR_ATTACHMENT0);
  window->BlitDisplayFramebuffer(0, 0, 0, w, h, 0, 0, w, h, GL_COLOR_BUFFER_BIT, GL_NEAREST);
  GLboolean mask[4];
  state->vtkglGetBooleanv(GL_COLOR_WRITEMASK, mask);
  float clear[4];
  state->vtkglGetFloatv(GL_COLOR_CLEAR_VALUE, clear);
  state->vtkglColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
  state->vtkglClearColor(0, 0, 0, 1);
  state->vtkglClear(GL_COLOR_BUFFER_BIT);
  state->vtkglColorMask(mask[0], mask[1], mask[2], mask[3]);
  state->vtkglClearColor(clear[0], clear[1], clear[2], clear[3]);
  state->PopDrawFramebufferBinding();
}

}  // namespace fleetscope::app
