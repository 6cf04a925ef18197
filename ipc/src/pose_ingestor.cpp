#include "fleetscope/ipc/pose_ingestor.hpp"

#include <algorithm>
#include <bit>

namespace fleetscope::ipc {

PoseIngestor::PoseIngestor(const SegmentReader& reader) : reader_(reader) {
  const Layout& l = reader_.info().layout;
  scratch_.resize(l.capacities.links_per_robot);
  dirty_.resize(l.dirty_words);
}

std::span<const PoseRecord> PoseIngestor::poses(std::uint32_t slot) const noexcept {
  if (slot >= tracked_.size()) return {};
  return tracked_[slot].poses;
}

RobotAttributeWords PoseIngestor::attributes(std::uint32_t slot) const noexcept {
  if (slot >= tracked_.size()) return {};
  return tracked_[slot].attributes;
}

void PoseIngestor::refresh_layout() {
  if (failed_layout_) throw *failed_layout_;
  try {
    layout_ = reader_.read_layout();
  } catch (const SegmentError& e) {
    // A writer that is gone never repairs its layout: remember the verdict instead of reading
    // (and copying) the same broken layout on every poll.
    if (reader_.writer_gone() && e.code() != ErrorCode::kNotReady) failed_layout_ = e;
    throw;
  }
  have_layout_ = true;
  std::uint32_t slots = 0;
  for (const RobotSnapshot& robot : layout_.robots) slots = std::max(slots, robot.slot + 1);
  tracked_.resize(slots);
  std::vector<std::uint8_t> in_use(slots, 0);
  PoseRecord identity{};
  identity.orientation[3] = 1.0f;
  for (const RobotSnapshot& robot : layout_.robots) {
    in_use[robot.slot] = 1;
    Tracked& t = tracked_[robot.slot];
    if (t.spawn_id != robot.spawn_id || t.poses.size() != robot.link_count) {
      t = Tracked{robot.spawn_id, std::nullopt, std::vector<PoseRecord>(robot.link_count, identity), {}};
    }
  }
  for (std::size_t slot = 0; slot < slots; ++slot) {
    if (!in_use[slot]) tracked_[slot] = Tracked{};
  }
}

IngestStats PoseIngestor::ingest() {
  IngestStats stats;
  changes_.clear();
  attribute_changes_.clear();
  reader_.check_mapping();
  if (failed_layout_) throw *failed_layout_;
  if (!have_layout_ || reader_.layout_epoch() != layout_.epoch) {
    refresh_layout();
    stats.layout_changed = true;
    last_frame_ = ~0ULL;
  }
  const FrameInfo frame = reader_.frame();
  stats.frame = frame.frame;
  stats.publish_ns = frame.publish_ns;
  // Robot blocks are written before the frame counter moves, so an unchanged counter means
  // nothing new to take (anything written since is taken when the counter moves).
  if (frame.frame == last_frame_) return stats;

  bool all_taken = true;
  for (const RobotSnapshot& robot : layout_.robots) {
    Tracked& t = tracked_[robot.slot];
    if (t.seen_changes && reader_.change_count(robot.slot) == *t.seen_changes) continue;
    const auto link_count = static_cast<std::uint32_t>(t.poses.size());
    const auto read = reader_.read_robot(robot.slot, t.seen_changes, link_count, dirty_, scratch_);
    if (!read) {
      ++stats.robots_deferred;
      all_taken = false;
      continue;
    }
    // A respawned slot: the layout we hold is stale; the next ingest refreshes it.
    if (read->spawn_id != t.spawn_id) {
      all_taken = false;
      continue;
    }
    const bool first_read = !t.seen_changes;
    t.seen_changes = read->change_count;
    if (read->torn) {
      ++stats.robots_torn;
      // Keep the last consistent poses; a robot never read before shows what the writer left.
      if (!first_read) continue;
    }
    if (read->attributes != t.attributes) {
      t.attributes = read->attributes;
      attribute_changes_.push_back(robot.slot);
    }
    std::uint64_t links = 0;
    for (std::size_t w = 0; w < dirty_.size(); ++w) {
      std::uint64_t bits = dirty_[w];
      while (bits != 0) {
        const auto link = static_cast<std::uint32_t>(w * 64 + std::countr_zero(bits));
        bits &= bits - 1;
        t.poses[link] = scratch_[link];
        changes_.push_back({robot.slot, link});
        ++links;
      }
    }
    if (links > 0) ++stats.robots_read;
    stats.links_changed += links;
  }
  if (all_taken) last_frame_ = frame.frame;
  return stats;
}

}  // namespace fleetscope::ipc
