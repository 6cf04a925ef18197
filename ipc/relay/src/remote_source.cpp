#include "fleetscope/relay/remote_source.hpp"

#include <algorithm>
#include <bit>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::relay {

RemoteSource::RemoteSource(std::shared_ptr<RelayClient> client, std::string segment)
    : client_(std::move(client)), segment_(std::move(segment)) {
  name_ = client_->endpoint().source_name(segment_);
  update();
  reported_generation_ = generation_;
}

const RemoteStream* RemoteSource::update() {
  client_->poll();
  RemoteStream* s = client_->find(segment_);
  if (!client_->reachable()) {
    state_ = ipc::WriterState::kUnreachable;
    error_ = "relay " + client_->endpoint().snapshot() + " unreachable";
    return s;
  }
  if (!s) {
    state_ = ipc::WriterState::kUnreachable;
    error_ = client_->synced() ? "relay " + client_->endpoint().snapshot() + " does not carry '" + segment_ + "'"
                               : "waiting for relay " + client_->endpoint().snapshot();
    return nullptr;
  }
  if (s->generation != stream_generation_) {
    stream_generation_ = s->generation;
    ++generation_;
    layout_ = {};
    poses_.clear();
    attributes_.clear();
    layout_serial_ = 0;
    frame_ = {};
  }
  pid_ = s->info.writer_pid;
  state_ = s->removed ? ipc::WriterState::kClosed : s->info.state;
  error_ = s->removed ? "no longer carried by relay " + client_->endpoint().snapshot() : s->info.error;
  has_poses_ = s->info.has_poses;
  has_telemetry_ = s->info.has_telemetry;
  return s;
}

ipc::IngestStats RemoteSource::ingest() {
  ipc::IngestStats stats;
  changes_.clear();
  attribute_changes_.clear();
  RemoteStream* s = const_cast<RemoteStream*>(update());
  if (!s || !s->have_layout) return stats;
  if (s->layout_serial != layout_serial_) {
    layout_serial_ = s->layout_serial;
    stats.layout_changed = true;
    // Keep the poses of robots still there (same slot and spawn); the rest start from the stream.
    std::vector<std::vector<ipc::PoseRecord>> poses(s->poses.size());
    std::vector<ipc::RobotAttributeWords> attributes(s->poses.size());
    std::vector<std::uint64_t> old_spawn(poses_.size(), 0);
    for (const auto& r : layout_.robots) {
      if (r.slot < old_spawn.size()) old_spawn[r.slot] = r.spawn_id;
    }
    for (const auto& r : s->layout.robots) {
      if (r.slot < old_spawn.size() && old_spawn[r.slot] == r.spawn_id && poses_[r.slot].size() == r.link_count) {
        poses[r.slot] = std::move(poses_[r.slot]);
        attributes[r.slot] = attributes_[r.slot];
      } else {
        poses[r.slot] = s->poses[r.slot];
        attributes[r.slot] = s->attributes[r.slot];
        for (std::uint32_t l = 0; l < r.link_count; ++l) changes_.push_back({r.slot, l});
        if (attributes[r.slot] != ipc::RobotAttributeWords{}) attribute_changes_.push_back(r.slot);
      }
    }
    poses_ = std::move(poses);
    attributes_ = std::move(attributes);
    layout_ = s->layout;
  }
  std::sort(s->pending_slots.begin(), s->pending_slots.end());
  for (const std::uint32_t slot : s->pending_slots) {
    auto& mask = s->pending[slot];
    if (slot < poses_.size() && poses_[slot].size() == s->poses[slot].size()) {
      std::uint32_t robots_links = 0;
      for (std::size_t w = 0; w < mask.size(); ++w) {
        std::uint64_t bits = mask[w];
        while (bits) {
          const auto link = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
          bits &= bits - 1;
          poses_[slot][link] = s->poses[slot][link];
          changes_.push_back({slot, link});
          ++robots_links;
        }
      }
      if (robots_links > 0) ++stats.robots_read;
    }
    mask.clear();
  }
  s->pending_slots.clear();
  for (const std::uint32_t slot : s->pending_attributes) {
    if (slot < attributes_.size()) {
      attributes_[slot] = s->attributes[slot];
      attribute_changes_.push_back(slot);
    }
  }
  s->pending_attributes.clear();
  // A robot first read above may also be in the pending lists: one entry each.
  std::sort(changes_.begin(), changes_.end(), [](const ipc::LinkChange& a, const ipc::LinkChange& b) {
    return a.slot != b.slot ? a.slot < b.slot : a.link < b.link;
  });
  changes_.erase(std::unique(changes_.begin(), changes_.end(),
                             [](const ipc::LinkChange& a, const ipc::LinkChange& b) { return a.slot == b.slot && a.link == b.link; }),
                 changes_.end());
  std::sort(attribute_changes_.begin(), attribute_changes_.end());
  attribute_changes_.erase(std::unique(attribute_changes_.begin(), attribute_changes_.end()), attribute_changes_.end());
  frame_ = s->frame;
  stats.frame = frame_.frame;
  stats.publish_ns = frame_.publish_ns;
  stats.links_changed = changes_.size();
  return stats;
}

std::span<const ipc::PoseRecord> RemoteSource::poses(std::uint32_t slot) const noexcept {
  if (slot >= poses_.size()) return {};
  return poses_[slot];
}

ipc::RobotAttributeWords RemoteSource::attributes(std::uint32_t slot) const noexcept {
  return slot < attributes_.size() ? attributes_[slot] : ipc::RobotAttributeWords{};
}

std::shared_ptr<const ipc::MeshData> RemoteSource::mesh(std::uint32_t index) {
  const RemoteStream* s = client_->find(segment_);
  if (s) {
    auto it = s->meshes.find(index);
    if (it != s->meshes.end()) return it->second;
  }
  throw ipc::SegmentError(ipc::ErrorCode::kNotFound, "'" + name_ + "': mesh " + std::to_string(index) + " not received from the relay");
}

std::uint32_t RemoteSource::tag_count() const {
  const RemoteStream* s = client_->find(segment_);
  return s ? static_cast<std::uint32_t>(s->tags.size()) : 0;
}

std::vector<std::string> RemoteSource::tags_from(std::uint32_t first) const {
  const RemoteStream* s = client_->find(segment_);
  if (!s || first >= s->tags.size()) return {};
  return {s->tags.begin() + first, s->tags.end()};
}

std::uint64_t RemoteSource::read_scalars(ipc::ScalarCursor& cursor, std::vector<ipc::ScalarSample>& out, std::size_t max) const {
  const RemoteStream* s = client_->find(segment_);
  if (!s) return 0;
  if (!cursor.started) {
    cursor.started = true;
    cursor.next = s->samples_first;
  }
  std::uint64_t lost = 0;
  if (cursor.next < s->samples_first) {
    lost = s->samples_first - cursor.next;
    cursor.next = s->samples_first;
  }
  if (cursor.next > s->samples_end) cursor.next = s->samples_end;  // a new relay session numbers anew
  std::size_t taken = 0;
  for (std::uint64_t i = cursor.next; i < s->samples_end && taken < max; ++i, ++taken) {
    out.push_back(s->samples[static_cast<std::size_t>(i - s->samples_first)]);
  }
  cursor.next += taken;
  cursor.lost += lost;
  return lost;
}

std::vector<ipc::WorkerRowRead> RemoteSource::workers() const {
  const RemoteStream* s = client_->find(segment_);
  return s ? s->workers : std::vector<ipc::WorkerRowRead>{};
}

std::vector<ipc::JobRowRead> RemoteSource::jobs() const {
  const RemoteStream* s = client_->find(segment_);
  return s ? s->jobs : std::vector<ipc::JobRowRead>{};
}

void RemoteSource::refresh_state(std::uint64_t) { update(); }

bool RemoteSource::follow_restart() {
  update();
  if (generation_ == reported_generation_) return false;
  reported_generation_ = generation_;
  return true;
}

}  // namespace fleetscope::relay
