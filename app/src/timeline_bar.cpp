#include "timeline_bar.h"

#include <QComboBox>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QStyle>
#include <algorithm>
#include <climits>
#include <cmath>

#include "replay_controller.h"

namespace fleetscope::app {
namespace {

constexpr double kSpeeds[] = {0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0};

QString seconds_text(double s) { return QString::number(s, 'f', 2) + " s"; }

}  // namespace

TimelineBar::TimelineBar(ReplayController& replay, QWidget* parent)
    : QToolBar(tr("Replay"), parent), replay_(replay) {
  setObjectName("timelineBar");
  setMovable(false);
  auto* back = addAction(style()->standardIcon(QStyle::SP_MediaSeekBackward), tr("Step back a frame"));
  back->setShortcut(QKeySequence(Qt::Key_Comma));
  play_ = addAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("Play"));
  play_->setShortcut(QKeySequence(Qt::Key_Space));
  auto* forward = addAction(style()->standardIcon(QStyle::SP_MediaSeekForward), tr("Step forward a frame"));
  forward->setShortcut(QKeySequence(Qt::Key_Period));
  connect(back, &QAction::triggered, &replay_, &ReplayController::stepBack);
  connect(play_, &QAction::triggered, &replay_, &ReplayController::togglePlay);
  connect(forward, &QAction::triggered, &replay_, &ReplayController::stepForward);

  slider_ = new QSlider(Qt::Horizontal, this);
  slider_->setObjectName("timelineSlider");
  slider_->setToolTip(tr("Drag or click to move through the recording"));
  slider_->setMinimumWidth(300);
  addWidget(slider_);
  // Dragging moves the replay as the handle moves; a click on the groove jumps there.
  connect(slider_, &QSlider::sliderMoved, this, &TimelineBar::scrubTo);
  connect(slider_, &QSlider::actionTriggered, this, [this](int action) {
    if (action != QAbstractSlider::SliderMove) scrubTo(slider_->sliderPosition());
  });

  time_ = new QLabel(this);
  time_->setObjectName("timelineTime");
  time_->setMinimumWidth(150);
  time_->setAlignment(Qt::AlignCenter);
  addWidget(time_);

  speed_ = new QComboBox(this);
  speed_->setObjectName("timelineSpeed");
  speed_->setToolTip(tr("Replay speed"));
  for (const double s : kSpeeds) speed_->addItem(QString::number(s) + "x", s);
  speed_->setCurrentIndex(3);
  addWidget(speed_);
  connect(speed_, &QComboBox::currentIndexChanged, this,
          [this](int index) { replay_.setSpeed(speed_->itemData(index).toDouble()); });

  connect(&replay_, &ReplayController::rangeChanged, this, &TimelineBar::updateRange);
  connect(&replay_, &ReplayController::positionChanged, this, &TimelineBar::updatePosition);
  connect(&replay_, &ReplayController::playingChanged, this, &TimelineBar::updatePlaying);
  updateRange();
}

void TimelineBar::updateRange() {
  const QSignalBlocker block(slider_);
  const auto ms = static_cast<int>(std::min<std::uint64_t>((replay_.end() - replay_.start()) / 1'000'000, INT_MAX));
  slider_->setRange(0, ms);
  slider_->setPageStep(std::max(1, ms / 20));
  slider_->setSingleStep(std::max(1, ms / 1000));
  // The speed box shows the nearest speed it offers.
  int nearest = 0;
  for (int i = 0; i < speed_->count(); ++i) {
    if (std::abs(kSpeeds[i] - replay_.speed()) < std::abs(kSpeeds[nearest] - replay_.speed())) nearest = i;
  }
  const QSignalBlocker block_speed(speed_);
  speed_->setCurrentIndex(nearest);
  updatePosition(replay_.position());
}

void TimelineBar::updatePosition(std::uint64_t position) {
  const double at = static_cast<double>(position - replay_.start()) / 1e9;
  const double total = static_cast<double>(replay_.end() - replay_.start()) / 1e9;
  time_->setText(seconds_text(at) + " / " + seconds_text(total));
  if (!slider_->isSliderDown()) {
    const QSignalBlocker block(slider_);
    slider_->setValue(static_cast<int>((position - replay_.start()) / 1'000'000));
  }
}

void TimelineBar::updatePlaying(bool playing) {
  play_->setIcon(style()->standardIcon(playing ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay));
  play_->setText(playing ? tr("Pause") : tr("Play"));
}

void TimelineBar::scrubTo(int ms) {
  // The bar counts whole milliseconds: its right end is the recording's very end.
  replay_.seek(ms >= slider_->maximum() ? replay_.end() : replay_.start() + static_cast<std::uint64_t>(ms) * 1'000'000);
}

}  // namespace fleetscope::app
