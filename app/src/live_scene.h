// The viewer's frame loop: polls the attached segments, feeds the FleetScene, asks the view
// for a frame only when something changed and the frame pacer allows it, and measures every
// frame (render cost, ingest, dirty links, pose-to-photon latency). Redraws are coalesced: many
// publishes between two frames become one frame. GUI thread only.
#pragma once

#include <vtkSmartPointer.h>

#include <QObject>
#include <QTimer>
#include <array>
#include <memory>
#include <optional>

#include "app_options.h"
#include "fleetscope/render/camera_rig.hpp"
#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/frame_pacer.hpp"
#include "fleetscope/render/frame_statistics.hpp"


namespace fleetscope::app {

class VtkHostWidget;

class LiveScene : public QObject {
  Q_OBJECT
 public:
  // Draws the sources of `registry` (borrowed; it outlives this object).
  LiveScene(VtkHostWidget* view, ipc::SourceRegistry& registry, const render::SceneSettings& settings,
            double max_fps, QObject* parent = nullptr);
  ~LiveScene() override;

  render::FleetScene& scene() { return *scene_; }
  render::FramePacer& pacer() { return pacer_; }
  std::uint64_t framesRendered() const { return frames_; }
  // Reads of the attached segments so far, and per second over the latest summary's second.
  std::uint64_t polls() const { return polls_; }
  double pollsPerSecond() const { return polls_per_second_; }
  // Latest one-second summary.
  const render::FrameSummary& summary() const { return summary_; }

  void resetCamera();
  // How the camera is placed when the first robots appear (default: fit everything).
  void setInitialCamera(const CameraSpec& spec) { initial_camera_ = spec; }
  void focusRobot(const std::string& segment, std::uint32_t slot);
  void setFollowSelection(bool follow);
  void detach(const std::string& segment);
  // Asks for a frame even without changes (e.g. after a visibility toggle).
  void requestFrame();
  // The viewer's ground plane: auto hides it while a source draws its own floor.
  void setGroundMode(GroundMode mode);
  GroundMode groundMode() const { return ground_mode_; }
  bool groundVisible() const { return ground_.visible(); }

 signals:
  void layoutChanged();
  void summaryUpdated(const fleetscope::render::FrameSummary& summary);
  void selectionChanged(const std::optional<fleetscope::render::PickResult>& pick);
  void frameDone(std::uint64_t frames);

 private:
  void poll();
  void onFrameRendered(double render_ms);
  void onFrameSwapped();
  void onClicked(int x, int y);
  void schedule();
  void applyInitialCamera();
  void applyGroundMode();

  VtkHostWidget* view_;
  std::unique_ptr<render::FleetScene> scene_;
  render::FramePacer pacer_;
  render::FrameStatistics stats_;
  render::FrameSummary summary_;
  QTimer poll_timer_;
  QTimer render_timer_;
  QTimer summary_timer_;
  std::uint64_t summary_start_ns_ = 0;
  bool frame_requested_ = false;   // update() called, paintGL not yet run
  bool awaiting_swap_ = false;     // paintGL ran, its swap not yet seen
  bool camera_framed_ = false;     // the camera was fitted to the first robots
  CameraSpec initial_camera_;
  GroundMode ground_mode_ = GroundMode::kAuto;
  std::uint64_t pending_publish_ns_ = 0;   // newest publish not yet drawn
  std::uint64_t drawn_publish_ns_ = 0;     // newest publish in the frame being presented
  std::uint64_t drawn_dirty_ = 0;  // distinct links changed in the frame being presented
  std::uint64_t frame_start_ns_ = 0;
  double last_render_ms_ = 0.0;
  std::uint64_t paint_start_ns_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t polls_ = 0;
  std::uint64_t summary_polls_ = 0;  // polls_ when the current second began
  double polls_per_second_ = 0.0;
  std::uint64_t last_change_ns_ = 0;
  bool follow_ = false;
  render::Ground ground_;
};

}  // namespace fleetscope::app
