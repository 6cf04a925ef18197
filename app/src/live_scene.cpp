#include "live_scene.h"

#include <vtkRenderer.h>

#include <cmath>

#include <spdlog/spdlog.h>

#include "fleetscope/ipc/process_liveness.hpp"
#include "vtk_host_widget.h"

namespace fleetscope::app {
namespace {
// Segment polling: every 4 ms while poses change (latency), every 20 ms once nothing has changed
// for a second (idle CPU). An unchanged segment costs ~1 us to poll.
constexpr int kPollMs = 4;
constexpr int kIdlePollMs = 20;
constexpr std::uint64_t kIdleAfterNs = 1'000'000'000ULL;
}  // namespace

LiveScene::LiveScene(VtkHostWidget* view, ipc::SourceRegistry& registry, const render::SceneSettings& settings,
                     double max_fps, QObject* parent)
    : QObject(parent),
      view_(view),
      scene_(std::make_unique<render::FleetScene>(view->renderer(), registry, settings)),
      ground_(view->renderer()) {
  pacer_.set_max_fps(max_fps);
  view_->renderer()->SetBackground(0.11, 0.12, 0.14);
  view_->renderer()->SetBackground2(0.28, 0.30, 0.34);
  view_->renderer()->GradientBackgroundOn();
  poll_timer_.setTimerType(Qt::PreciseTimer);
  connect(&poll_timer_, &QTimer::timeout, this, &LiveScene::poll);
  poll_timer_.start(kPollMs);
  render_timer_.setSingleShot(true);
  render_timer_.setTimerType(Qt::PreciseTimer);
  connect(&render_timer_, &QTimer::timeout, this, &LiveScene::schedule);
  connect(&summary_timer_, &QTimer::timeout, this, [this] {
    const std::uint64_t now = ipc::monotonic_ns();
    const double seconds = (now - summary_start_ns_) / 1e9;
    summary_ = stats_.take(seconds);
    polls_per_second_ = seconds > 0 ? double(polls_ - summary_polls_) / seconds : 0.0;
    summary_polls_ = polls_;
    summary_start_ns_ = now;
    emit summaryUpdated(summary_);
  });
  summary_start_ns_ = ipc::monotonic_ns();
  summary_timer_.start(1000);
  connect(view_, &VtkHostWidget::frameRendered, this, &LiveScene::onFrameRendered);
  connect(view_, &QOpenGLWidget::frameSwapped, this, &LiveScene::onFrameSwapped);
  connect(view_, &VtkHostWidget::cameraChanged, this, &LiveScene::requestFrame);
  connect(view_, &VtkHostWidget::clicked, this, &LiveScene::onClicked);
}

LiveScene::~LiveScene() = default;

void LiveScene::requestFrame() {
  spdlog::trace("frame requested");
  pacer_.request(ipc::monotonic_ns());
  schedule();
}

void LiveScene::poll() {
  ++polls_;
  const render::UpdateResult r = scene_->update();
  stats_.add_ingest(r.ingest_us);
  if (r.layout_changed) {
    applyGroundMode();
    emit layoutChanged();
  }
  if (!camera_framed_ && scene_->scene_bounds()) {
    applyInitialCamera();
    camera_framed_ = true;
  }
  if (follow_) {
    if (const auto sel = scene_->selection()) {
      if (const auto b = scene_->robot_bounds(sel->segment, sel->slot)) render::follow(view_->renderer(), *b);
    }
  }
  const std::uint64_t now_ns = ipc::monotonic_ns();
  if (r.changed) last_change_ns_ = now_ns;
  const int interval = now_ns - last_change_ns_ > kIdleAfterNs ? kIdlePollMs : kPollMs;
  if (poll_timer_.interval() != interval) poll_timer_.setInterval(interval);
  if (r.changed) {
    spdlog::trace("poll: changed, dirty {} layout {}", r.dirty_links, r.layout_changed);
    if (frame_requested_) {
      // The frame already asked for has not been painted yet: these poses go into it.
      drawn_publish_ns_ = std::max(drawn_publish_ns_, r.newest_publish_ns);
    } else {
      pending_publish_ns_ = std::max(pending_publish_ns_, r.newest_publish_ns);
      pacer_.request(ipc::monotonic_ns());
    }
  }
  schedule();
}

void LiveScene::schedule() {
  if (frame_requested_ || !pacer_.pending()) return;
  const std::int64_t wait = pacer_.wait_ns(ipc::monotonic_ns());
  if (wait == 0) {
    frame_requested_ = true;
    frame_start_ns_ = ipc::monotonic_ns();
    drawn_publish_ns_ = pending_publish_ns_;
    pending_publish_ns_ = 0;
    view_->setCameraSignalsBlocked(true);
    view_->renderer()->ResetCameraClippingRange();
    view_->setCameraSignalsBlocked(false);
    view_->update();
  } else if (wait > 0 && !render_timer_.isActive()) {
    render_timer_.start(static_cast<int>(std::ceil(wait / 1e6)));
  }
}

void LiveScene::onFrameRendered(double render_ms) {
  if (!frame_requested_) spdlog::debug("frame painted at Qt's request (expose or resize)");
  // The links this frame shows changed: each counted once, however many writer frames moved it.
  drawn_dirty_ = scene_->take_changed_links();
  last_render_ms_ = render_ms;
  paint_start_ns_ = ipc::monotonic_ns() - static_cast<std::uint64_t>(render_ms * 1e6);
  awaiting_swap_ = true;
}

void LiveScene::onFrameSwapped() {
  // Qt emits frameSwapped for every composition of the window (a status bar update too); only
  // a swap that follows our own paintGL is a frame.
  if (!awaiting_swap_) {
    spdlog::trace("window composed without a new frame");
    return;
  }
  awaiting_swap_ = false;
  const std::uint64_t now = ipc::monotonic_ns();
  frame_requested_ = false;
  // The frame's cost runs from paintGL to the end of the swap: Mesa rasterises asynchronously,
  // so the swap is where the rest of the frame's work is waited for.
  const std::uint64_t cost_ns = now > paint_start_ns_ ? now - paint_start_ns_ : 0;
  pacer_.rendered(frame_start_ns_, cost_ns);
  render::FrameSample sample;
  sample.frame_ms = cost_ns / 1e6;
  sample.dirty_links = drawn_dirty_;
  sample.instances = scene_->instance_count();
  if (drawn_publish_ns_ != 0 && now > drawn_publish_ns_) sample.latency_ms = (now - drawn_publish_ns_) / 1e6;
  stats_.add(sample);
  ++frames_;
  emit frameDone(frames_);
  schedule();
}

void LiveScene::setGroundMode(GroundMode mode) {
  ground_mode_ = mode;
  applyGroundMode();
  requestFrame();
}

void LiveScene::applyGroundMode() {
  const bool show = ground_mode_ == GroundMode::kOn || (ground_mode_ == GroundMode::kAuto && !scene_->has_ground_plane());
  ground_.set_visible(show);
}

void LiveScene::resetCamera() {
  if (const auto b = scene_->scene_bounds()) {
    ground_.fit(*b);
    render::frame_all(view_->renderer(), *b);
  } else {
    view_->renderer()->ResetCamera();
  }
  requestFrame();
}

void LiveScene::applyInitialCamera() {
  resetCamera();  // also sizes the ground to the fleet
  if (initial_camera_.kind == CameraSpec::Kind::kRobot) {
    for (const auto& robot : scene_->robots()) {
      if (robot.segment == initial_camera_.segment.toStdString() && robot.name == initial_camera_.robot.toStdString()) {
        focusRobot(robot.segment, robot.slot);
        break;
      }
    }
  } else if (initial_camera_.kind == CameraSpec::Kind::kEyeTarget) {
    render::look_from(view_->renderer(), initial_camera_.eye, initial_camera_.target);
    requestFrame();
  }
}

void LiveScene::focusRobot(const std::string& segment, std::uint32_t slot) {
  const auto b = scene_->robot_bounds(segment, slot);
  if (!b) return;
  render::frame_keeping_direction(view_->renderer(), *b);
  requestFrame();
}

void LiveScene::setFollowSelection(bool follow) { follow_ = follow; }

void LiveScene::detach(const std::string& segment) {
  scene_->detach(segment);
  emit layoutChanged();
  requestFrame();
}

void LiveScene::onClicked(int x, int y) {
  const auto pick = scene_->pick(x, y);
  scene_->select(pick);
  emit selectionChanged(pick);
  requestFrame();
}

}  // namespace fleetscope::app
