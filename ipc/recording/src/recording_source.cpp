#include "fleetscope/recording/recording_source.hpp"

#include <algorithm>
#include <iterator>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::recording {

namespace {

std::string topic(const std::string& segment, std::string_view kind) { return segment + "/" + std::string(kind); }

// Index of the first ref with log_time > t.
std::size_t upper(const std::vector<McapMessageRef>& refs, std::uint64_t t) {
  return static_cast<std::size_t>(std::upper_bound(refs.begin(), refs.end(), t,
                                                   [](std::uint64_t v, const McapMessageRef& r) { return v < r.log_time; }) -
                                  refs.begin());
}

template <typename T>
std::size_t upper_pairs(const std::vector<std::pair<std::uint64_t, T>>& v, std::uint64_t t) {
  return static_cast<std::size_t>(
      std::upper_bound(v.begin(), v.end(), t, [](std::uint64_t x, const auto& p) { return x < p.first; }) - v.begin());
}

}  // namespace

std::shared_ptr<Recording> Recording::open(const std::filesystem::path& path) {
  McapReader reader = McapReader::open(path);
  const std::uint32_t major = check_recording_version(reader);
  return std::shared_ptr<Recording>(new Recording(std::move(reader), path, major));
}

std::vector<std::string> Recording::segments() const {
  std::vector<std::string> out;
  for (const auto& [id, c] : reader_.channels()) {
    const auto kind = c.metadata.find("kind");
    const auto segment = c.metadata.find("segment");
    if (kind != c.metadata.end() && segment != c.metadata.end() && kind->second == kLayoutKind) out.push_back(segment->second);
  }
  return out;
}

RecordingSource::RecordingSource(std::shared_ptr<Recording> recording, std::string segment)
    : recording_(std::move(recording)), name_(std::move(segment)), pose_decoder_(recording_->major()) {
  McapReader& r = recording_->reader();
  auto channel = [&](std::string_view kind) -> std::uint16_t {
    const McapChannel* c = r.channel_by_topic(topic(name_, kind));
    return c ? c->id : 0;
  };
  layout_channel_ = channel(kLayoutKind);
  if (layout_channel_ == 0) throw McapError("the recording has no segment '" + name_ + "'");
  poses_channel_ = channel(kPosesKind);
  keyframe_channel_ = channel(kKeyframeKind);
  attributes_channel_ = channel(kAttributesKind);
  for (const auto& ref : r.message_index(layout_channel_)) layouts_.emplace_back(ref.log_time, decode_layout(r.read(ref).data));
  if (layouts_.empty()) throw McapError("segment '" + name_ + "' has no layout in the recording");
  if (poses_channel_) frames_ = r.message_index(poses_channel_);
  if (keyframe_channel_) keyframes_ = r.message_index(keyframe_channel_);
  if (attributes_channel_) attribute_refs_ = r.message_index(attributes_channel_);
  has_poses_ = layouts_.front().second.has_poses;
  has_telemetry_ = layouts_.front().second.has_telemetry;
  // Telemetry, whole.
  if (const auto c = channel(kTagsKind)) {
    for (const auto& ref : r.message_index(c)) {
      const TagsMessage m = decode_tags(r.read(ref).data);
      // A restarted writer's tags start again at 0: they replace the old names from `first` on.
      if (m.first > tags_.size()) throw McapError("tags message skips tags");
      tags_.resize(m.first);
      for (const auto& n : m.names) tags_.emplace_back(ref.log_time, n);
    }
  }
  if (const auto c = channel(kScalarsKind)) {
    for (const auto& ref : r.message_index(c)) {
      for (const auto& s : decode_scalars(r.read(ref).data).samples) scalars_.emplace_back(ref.log_time, s);
    }
  }
  if (const auto c = channel(kWorkersKind)) {
    for (const auto& ref : r.message_index(c)) workers_.emplace_back(ref.log_time, decode_workers(r.read(ref).data));
  }
  if (const auto c = channel(kMeshesKind)) {
    for (const auto& ref : r.message_index(c)) {
      MeshMessage m = decode_mesh_message(r.read(ref).data);
      meshes_.try_emplace({m.generation, m.index}, std::make_shared<const ipc::MeshData>(std::move(m.mesh)));
    }
  }
  if (const auto c = channel(kJobsKind)) {
    for (const auto& ref : r.message_index(c)) jobs_.emplace_back(ref.log_time, decode_jobs(r.read(ref).data));
  }
  start_ = layouts_.front().first;
  end_ = std::max(start_, recording_->end_time());
  seek(start_);
}

RecordingSource::~RecordingSource() = default;

std::vector<std::uint64_t> RecordingSource::keyframe_times() const {
  std::vector<std::uint64_t> out;
  out.reserve(keyframes_.size());
  for (const auto& k : keyframes_) out.push_back(k.log_time);
  return out;
}

std::optional<std::uint64_t> RecordingSource::frame_after(std::uint64_t t) const {
  const std::size_t f = upper(frames_, t);
  if (f >= frames_.size()) return std::nullopt;
  return frames_[f].log_time;
}

std::optional<std::uint64_t> RecordingSource::frame_before(std::uint64_t t) const {
  const auto first_not_before = std::lower_bound(frames_.begin(), frames_.end(), t,
                                                 [](const McapMessageRef& r, std::uint64_t v) { return r.log_time < v; });
  if (first_not_before == frames_.begin()) return std::nullopt;
  return std::prev(first_not_before)->log_time;
}

void RecordingSource::apply_layout(const LayoutMessage& m) {
  const bool same_writer = recorded_generation_ == m.generation;
  if (recorded_generation_ != UINT64_MAX && !same_writer) ++generation_;  // consumers start again
  recorded_generation_ = m.generation;
  pose_decoder_.reset();  // as the recorder's encoder after writing a layout
  layout_.epoch = m.epoch;
  layout_.torn = false;
  layout_.models = m.models;
  layout_.robots = m.robots;
  writer_pid_ = m.writer_pid;
  std::uint32_t slots = 0;
  for (const auto& robot : m.robots) slots = std::max(slots, robot.slot + 1);
  std::vector<Robot> next(slots);
  ipc::PoseRecord identity{};
  identity.orientation[3] = 1.0f;
  for (const auto& robot : m.robots) {
    Robot& n = next[robot.slot];
    // A robot kept from the previous layout (same spawn) keeps its poses.
    if (same_writer && robot.slot < robots_.size() && robots_[robot.slot].poses.size() == robot.link_count &&
        layout_index_ != SIZE_MAX) {
      bool same_spawn = false;
      for (const auto& old : layouts_[layout_index_].second.robots) {
        if (old.slot == robot.slot && old.spawn_id == robot.spawn_id) same_spawn = true;
      }
      if (same_spawn) {
        n = std::move(robots_[robot.slot]);
        continue;
      }
    }
    n.poses.assign(robot.link_count, identity);
    n.dirty.assign(robot.link_count, 1);
    n.any_dirty = true;
  }
  robots_ = std::move(next);
  layout_changed_ = true;
}

void RecordingSource::apply_frame(const PoseFrameMessage& m, bool /*keyframe*/) {
  const LayoutMessage& layout = layouts_[layout_index_].second;
  if (m.generation != layout.generation || m.epoch != layout.epoch) return;  // of another layout
  std::uint64_t links = 0, robots = 0;
  for (const auto& rp : m.robots) {
    if (rp.slot >= robots_.size()) continue;
    Robot& robot = robots_[rp.slot];
    bool touched = false;
    for (std::size_t i = 0; i < rp.links.size() && i < rp.poses.size(); ++i) {
      const auto l = rp.links[i];
      if (l >= robot.poses.size()) continue;
      robot.poses[l] = rp.poses[i];
      robot.dirty[l] = 1;
      touched = true;
      ++links;
    }
    robot.any_dirty |= touched;
    robots += touched ? 1 : 0;
  }
  frame_.frame = m.frame;
  frame_.publish_ns = m.publish_ns;
  frame_.sim_time = m.sim_time;
  frame_.dirty_links = links;
  frame_.changed_robots = robots;
}

void RecordingSource::apply_attributes(const AttributesMessage& m) {
  for (const auto& [slot, words] : m.robots) {
    if (slot >= robots_.size() || robots_[slot].poses.empty()) continue;
    if (robots_[slot].attributes == words) continue;
    robots_[slot].attributes = words;
    robots_[slot].attributes_dirty = true;
  }
}

void RecordingSource::play(std::uint64_t from, std::uint64_t to) {
  McapReader& r = recording_->reader();
  // Events in (from, to]: layouts first at equal times (the recorder writes a layout before the
  // poses of the same poll), then poses, then keyframes (their poses equal the state the poses
  // before them made, so they are only decoded: the prediction of quantised poses restarts at
  // each), then attributes.
  std::size_t f = upper(frames_, from), fe = upper(frames_, to);
  std::size_t k = upper(keyframes_, from), ke = upper(keyframes_, to);
  std::size_t a = upper(attribute_refs_, from), ae = upper(attribute_refs_, to);
  std::size_t l = upper_pairs(layouts_, from), le = upper_pairs(layouts_, to);
  while (f < fe || k < ke || a < ae || l < le) {
    const std::uint64_t tf = f < fe ? frames_[f].log_time : UINT64_MAX;
    const std::uint64_t tk = k < ke ? keyframes_[k].log_time : UINT64_MAX;
    const std::uint64_t ta = a < ae ? attribute_refs_[a].log_time : UINT64_MAX;
    const std::uint64_t tl = l < le ? layouts_[l].first : UINT64_MAX;
    if (tl <= tf && tl <= tk && tl <= ta) {
      apply_layout(layouts_[l].second);
      layout_index_ = l++;
    } else if (tf <= tk && tf <= ta) {
      const PoseFrameMessage m = pose_decoder_.decode(r.read(frames_[f]).data);
      if (layout_index_ != SIZE_MAX) apply_frame(m, false);
      ++f;
    } else if (tk <= ta) {
      (void)pose_decoder_.decode(r.read(keyframes_[k]).data);
      ++k;
    } else {
      if (layout_index_ != SIZE_MAX) apply_attributes(decode_attributes(r.read(attribute_refs_[a]).data));
      ++a;
    }
  }
}

void RecordingSource::seek(std::uint64_t t) {
  t = std::clamp(t, start_, end_);
  error_.clear();
  state_ = ipc::WriterState::kPaused;
  const bool backwards = t < position_;
  try {
    McapReader& r = recording_->reader();
    const std::size_t li = upper_pairs(layouts_, t);
    if (li == 0) {
      position_ = t;
      return;  // the segment appeared later in the recording
    }
    const std::size_t previous_layout = layout_index_;
    layout_index_ = SIZE_MAX;
    robots_.clear();
    frame_ = {};  // until a frame at or before t is applied (none: the moment of the layout)
    apply_layout(layouts_[li - 1].second);
    layout_index_ = li - 1;
    if (previous_layout != layout_index_ || backwards) ++generation_;
    const std::uint64_t layout_time = layouts_[li - 1].first;
    std::uint64_t from = layout_time;
    // The last keyframe at or before t written after this layout.
    const std::size_t k = upper(keyframes_, t);
    if (k > 0 && keyframes_[k - 1].log_time >= layout_time) {
      apply_frame(pose_decoder_.decode(r.read(keyframes_[k - 1]).data), true);
      from = keyframes_[k - 1].log_time;
      // Attributes of every robot come with every keyframe (same log time).
      const std::size_t a = upper(attribute_refs_, from);
      for (std::size_t i = a; i > 0 && attribute_refs_[i - 1].log_time == from; --i) {
        apply_attributes(decode_attributes(r.read(attribute_refs_[i - 1]).data));
      }
    } else {
      // No keyframe yet for this layout: poses from the layout on.
      const std::size_t f0 = upper(frames_, layout_time);
      for (std::size_t i = f0; i > 0 && frames_[i - 1].log_time == layout_time; --i) {
        apply_frame(pose_decoder_.decode(r.read(frames_[i - 1]).data), false);
      }
    }
    play(from, t);
    for (auto& robot : robots_) {
      std::fill(robot.dirty.begin(), robot.dirty.end(), 1);
      robot.any_dirty = !robot.poses.empty();
      robot.attributes_dirty = !robot.poses.empty();
    }
    layout_changed_ = true;
  } catch (const McapError& e) {
    error_ = e.what();
  }
  position_ = t;
}

void RecordingSource::advance_to(std::uint64_t t) {
  t = std::min(t, end_);
  if (t < position_) {
    seek(t);
    return;
  }
  try {
    play(position_, t);
  } catch (const McapError& e) {
    error_ = e.what();
  }
  state_ = t > position_ && t < end_ ? ipc::WriterState::kLive : ipc::WriterState::kPaused;
  position_ = t;
}

ipc::IngestStats RecordingSource::ingest() {
  ipc::IngestStats stats;
  changes_.clear();
  attribute_changes_.clear();
  stats.layout_changed = layout_changed_;
  layout_changed_ = false;
  for (std::uint32_t slot = 0; slot < robots_.size(); ++slot) {
    Robot& robot = robots_[slot];
    if (robot.attributes_dirty) {
      attribute_changes_.push_back(slot);
      robot.attributes_dirty = false;
    }
    if (!robot.any_dirty) continue;
    for (std::uint32_t l = 0; l < robot.dirty.size(); ++l) {
      if (robot.dirty[l]) changes_.push_back({slot, l});
      robot.dirty[l] = 0;
    }
    robot.any_dirty = false;
    ++stats.robots_read;
  }
  stats.links_changed = changes_.size();
  stats.frame = frame_.frame;
  stats.publish_ns = frame_.publish_ns;
  return stats;
}

std::span<const ipc::PoseRecord> RecordingSource::poses(std::uint32_t slot) const noexcept {
  if (slot >= robots_.size()) return {};
  return robots_[slot].poses;
}

ipc::RobotAttributeWords RecordingSource::attributes(std::uint32_t slot) const noexcept {
  if (slot >= robots_.size()) return {};
  return robots_[slot].attributes;
}

std::shared_ptr<const ipc::MeshData> RecordingSource::mesh(std::uint32_t index) {
  const auto it = meshes_.find({recorded_generation_, index});
  if (it == meshes_.end()) {
    throw ipc::SegmentError(ipc::ErrorCode::kNotFound,
                            "stored mesh " + std::to_string(index) + " of '" + name_ + "' is not in the recording");
  }
  return it->second;
}

std::uint32_t RecordingSource::tag_count() const {
  return static_cast<std::uint32_t>(upper_pairs(tags_, position_));
}

std::vector<std::string> RecordingSource::tags_from(std::uint32_t first) const {
  std::vector<std::string> out;
  for (std::size_t i = first; i < tag_count(); ++i) out.push_back(tags_[i].second);
  return out;
}

std::uint64_t RecordingSource::read_scalars(ipc::ScalarCursor& cursor, std::vector<ipc::ScalarSample>& out,
                                            std::size_t max) const {
  const std::size_t n = upper_pairs(scalars_, position_);
  if (!cursor.started) {
    cursor.started = true;
    cursor.next = 0;
  }
  for (std::size_t taken = 0; cursor.next < n && taken < max; ++taken) out.push_back(scalars_[cursor.next++].second);
  return 0;
}

std::vector<ipc::WorkerRowRead> RecordingSource::workers() const {
  const std::size_t n = upper_pairs(workers_, position_);
  return n ? workers_[n - 1].second : std::vector<ipc::WorkerRowRead>{};
}

std::vector<ipc::JobRowRead> RecordingSource::jobs() const {
  const std::size_t n = upper_pairs(jobs_, position_);
  return n ? jobs_[n - 1].second : std::vector<ipc::JobRowRead>{};
}

}  // namespace fleetscope::recording
