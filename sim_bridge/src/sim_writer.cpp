#include "fleetscope/sim_bridge/sim_writer.hpp"

#include <cmath>
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/fixed_text.hpp"

namespace fleetscope {
namespace {

using ipc::ErrorCode;
using ipc::SegmentError;

ipc::WriterOptions writer_options(const WriterConfig& c) {
  ipc::WriterOptions o;
  o.name = c.name;
  if (c.max_robots == 0) {
    if (!c.telemetry) {
      throw SegmentError(ErrorCode::kInvalidArgument,
                         "a writer without robots (max_robots 0) needs telemetry");
    }
    o.capacities = ipc::Capacities{1, 1, 1, 1, 1};  // the smallest valid pose part
    o.telemetry_only = true;
  } else {
    o.capacities.robots = c.max_robots;
    o.capacities.links_per_robot = c.max_links;
    o.capacities.models = c.max_models;
    o.capacities.visuals = c.max_visuals;
  }
  o.replace_stale = c.replace_stale;
  o.telemetry = c.telemetry;
  return o;
}

ipc::LinkVisual to_record(const LinkVisualDesc& d) {
  ipc::LinkVisual v{};
  ipc::copy_fixed_text(v.link_name, d.name, "link name");
  v.shape = static_cast<std::uint32_t>(d.shape);
  for (int i = 0; i < 3; ++i) {
    v.dims[i] = d.dims[i];
    v.scale[i] = d.scale[i];
    v.offset_position[i] = d.offset_position[i];
  }
  for (int i = 0; i < 4; ++i) {
    v.offset_orientation[i] = d.offset_orientation[i];
    v.rgba[i] = d.rgba[i];
  }
  if (d.shape == ipc::Shape::kMesh && d.mesh_path.empty()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "link '" + d.name + "' is a mesh without a path");
  }
  ipc::copy_fixed_text(v.mesh_path, d.mesh_path, "mesh path");
  return v;
}

}  // namespace

SimWriter::SimWriter(const WriterConfig& config)
    : segment_(writer_options(config)),
      epsilon_(config.epsilon),
      detect_changes_(config.detect_changes),
      robots_allowed_(config.max_robots != 0) {
  if (!(epsilon_ >= 0.0f)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "epsilon must be zero or positive");
  }
}

std::uint32_t SimWriter::add_model(const ModelDesc& model) {
  std::vector<ipc::LinkVisual> visuals;
  visuals.reserve(model.links.size());
  for (const LinkVisualDesc& link : model.links) visuals.push_back(to_record(link));
  const std::uint32_t id = segment_.add_model(model.name, visuals);
  model_count_ = id + 1;
  return id;
}

std::uint32_t SimWriter::model_link_count(std::uint32_t model) const {
  return segment_.model_link_count(model);  // throws kInvalidArgument for an unknown model
}

std::uint32_t SimWriter::spawn_robot(std::string_view name, std::uint32_t model) {
  if (!robots_allowed_) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + segment_.name() + "' is telemetry-only");
  }
  const std::uint32_t links = segment_.model_link_count(model);
  const std::uint32_t slot = segment_.spawn_robot(name, model);
  std::vector<float> identity(std::size_t{links} * kPoseValues, 0.0f);
  for (std::uint32_t l = 0; l < links; ++l) identity[l * kPoseValues + 6] = 1.0f;
  Robot r{next_id_++, slot, links, identity, identity,
          std::vector<std::uint64_t>(segment_.layout().dirty_words, 0), false};
  // A new robot's first publish carries every link.
  for (std::uint32_t l = 0; l < links; ++l) r.dirty[l / 64] |= 1ULL << (l % 64);
  r.any_dirty = true;
  index_of_[r.id] = robots_.size();
  total_links_ += links;
  robots_.push_back(std::move(r));
  return robots_.back().id;
}

SimWriter::Robot& SimWriter::robot(std::uint32_t id) {
  const auto it = index_of_.find(id);
  if (it == index_of_.end()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown robot id " + std::to_string(id));
  }
  return robots_[it->second];
}

void SimWriter::remove_robot(std::uint32_t id) {
  const std::size_t index = index_of_.at(robot(id).id);
  segment_.remove_robot(robots_[index].slot);
  total_links_ -= robots_[index].links;
  robots_.erase(robots_.begin() + static_cast<std::ptrdiff_t>(index));
  index_of_.erase(id);
  for (std::size_t i = index; i < robots_.size(); ++i) index_of_[robots_[i].id] = i;
}

std::uint32_t SimWriter::robot_link_count(std::uint32_t id) const {
  const auto it = index_of_.find(id);
  if (it == index_of_.end()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown robot id " + std::to_string(id));
  }
  return robots_[it->second].links;
}

template <typename T>
void SimWriter::stage(Robot& r, const T* v) {
  // Element-wise passes over the robot's 7*links values so the compiler vectorises them; only
  // the per-link decisions are scalar.
  const std::size_t n = std::size_t{r.links} * kPoseValues;
  if (detect_changes_) converted_.resize(n);
  float* f = detect_changes_ ? converted_.data() : r.staged.data();
  for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<float>(v[i]);
  // NaN, infinity and values beyond float range all have an all-ones exponent after conversion.
  std::uint32_t non_finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    non_finite |= (std::bit_cast<std::uint32_t>(f[i]) & 0x7f800000u) == 0x7f800000u;
  }
  bool zero_quaternion = false;
  for (std::uint32_t l = 0; l < r.links; ++l) {
    float* q = f + l * kPoseValues + 3;
    const float norm2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
    if (std::fabs(norm2 - 1.0f) > 1e-4f) {
      zero_quaternion |= !(norm2 > 1e-12f);
      const float inv = 1.0f / std::sqrt(std::max(norm2, 1e-12f));
      for (int k = 0; k < 4; ++k) q[k] *= inv;
    }
  }
  if (non_finite || zero_quaternion) {
    // Never publish what was rejected: drop this robot's unpublished changes.
    std::copy(r.published.begin(), r.published.end(), r.staged.begin());
    std::fill(r.dirty.begin(), r.dirty.end(), 0);
    r.any_dirty = false;
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "poses of robot " + std::to_string(r.id) +
                           " contain NaN, infinity, a value beyond float range or a zero quaternion");
  }
  if (!detect_changes_) {
    // Every link written is published.
    for (std::uint32_t l = 0; l < r.links; l += 64) {
      const std::uint32_t count = std::min(64u, r.links - l);
      r.dirty[l / 64] = count == 64 ? ~0ULL : (1ULL << count) - 1;
    }
    r.any_dirty = true;
    return;
  }
  moved_.resize(n + 8);
  const float eps = epsilon_;
  const float* old = r.published.data();
  std::uint8_t* moved = moved_.data();
  for (std::size_t i = 0; i < n; ++i) moved[i] = std::fabs(f[i] - old[i]) > eps;
  for (std::uint32_t l = 0; l < r.links; ++l) {
    std::uint64_t flags = 0;
    std::memcpy(&flags, moved + l * kPoseValues, sizeof flags);
    if ((flags & 0x00FFFFFFFFFFFFFFULL) == 0) continue;  // the 7 flags of this link
    std::copy_n(f + l * kPoseValues, kPoseValues, r.staged.data() + l * kPoseValues);
    r.dirty[l / 64] |= 1ULL << (l % 64);
    r.any_dirty = true;
  }
}

template <typename T>
void SimWriter::set_robot(std::uint32_t id, std::span<const T> values) {
  Robot& r = robot(id);
  if (values.size() != std::size_t{r.links} * kPoseValues) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "robot " + std::to_string(id) + " has " + std::to_string(r.links) +
                           " links: expected " + std::to_string(r.links * kPoseValues) +
                           " values, got " + std::to_string(values.size()));
  }
  stage(r, values.data());
}

void SimWriter::set_robot_poses(std::uint32_t id, std::span<const double> values) { set_robot(id, values); }
void SimWriter::set_robot_poses(std::uint32_t id, std::span<const float> values) { set_robot(id, values); }

template <typename T>
void SimWriter::set_all(std::span<const T> values) {
  if (values.size() != total_links_ * kPoseValues) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "expected " + std::to_string(total_links_) + " links x 7 = " +
                           std::to_string(total_links_ * kPoseValues) + " values, got " +
                           std::to_string(values.size()));
  }
  const T* v = values.data();
  for (Robot& r : robots_) {
    stage(r, v);
    v += std::size_t{r.links} * kPoseValues;
  }
}

void SimWriter::set_all_poses(std::span<const double> values) { set_all(values); }
void SimWriter::set_all_poses(std::span<const float> values) { set_all(values); }

PublishStats SimWriter::publish(double sim_time) {
  if (segment_.closed()) {
    throw SegmentError(ErrorCode::kClosed, "segment '" + segment_.name() + "' is closed");
  }
  PublishStats stats;
  for (Robot& r : robots_) {
    if (!r.any_dirty) continue;
    segment_.write_robot(r.slot, r.staged, r.dirty);
    for (std::uint64_t& word : r.dirty) {
      stats.dirty_links += static_cast<std::uint64_t>(std::popcount(word));
      word = 0;
    }
    // Links that did not move hold identical staged and published values: copy all at once.
    if (detect_changes_) std::copy(r.staged.begin(), r.staged.end(), r.published.begin());
    r.any_dirty = false;
    ++stats.changed_robots;
  }
  segment_.end_frame(sim_time, stats.dirty_links, stats.changed_robots);
  stats.frame = segment_.frame();
  return stats;
}

}  // namespace fleetscope
