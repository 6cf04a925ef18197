// The GL work of hosting VTK in a Qt widget, kept in its own translation unit: VTK's GL headers
// (GLEW) and Qt's OpenGL headers cannot be included together.
#pragma once

class vtkGenericOpenGLRenderWindow;

namespace fleetscope::app {

// Renders one VTK frame with the GL state VTK expects, saving and restoring Qt's.
void render_vtk_frame(vtkGenericOpenGLRenderWindow* window);
// glCheckFramebufferStatus of VTK's render framebuffer (0x8CD5 when complete; 0 if none).
unsigned vtk_framebuffer_status(vtkGenericOpenGLRenderWindow* window);
// Blits VTK's display framebuffer into framebuffer `target` (w x h device pixels) and sets the
// target's alpha to 1, since the blit copies VTK's alpha.
void blit_vtk_frame(vtkGenericOpenGLRenderWindow* window, unsigned target, int w, int h);

}  // namespace fleetscope::app
