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
  if (c.telemetry && c.history_tags != 0) {
    o.history = ipc::HistoryCapacities{std::min(c.history_tags, c.telemetry->tags), c.history_buckets};
  }
  if (!o.telemetry_only) {
    // Format 1.3: every pose segment has a geometry section (visuals of any shape; meshes only
    // when mesh_bytes reserves room for them).
    o.geometry = ipc::GeometryCapacities{c.max_geometry_visuals != 0 ? c.max_geometry_visuals : c.max_visuals,
                                         std::max(c.max_meshes, 1u), c.mesh_bytes};
  }
  return o;
}

// FNV-1a over the mesh's arrays: with the CRC and counts, the key identical meshes share.
std::uint64_t content_hash(const MeshData& m) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  mix(m.vertices.data(), m.vertices.size() * sizeof(float));
  mix(m.triangles.data(), m.triangles.size() * sizeof(std::uint32_t));
  mix(m.normals.data(), m.normals.size() * sizeof(float));
  return h;
}

ipc::LinkVisual to_record(const LinkVisualDesc& d) {
  // Sizes, scales and offsets a reader can draw: finite and within 100 km (a float of 1e39 is
  // inf in the segment, and one such visual would blank the viewer's fit view).
  auto bad = [](float x) { return !(std::fabs(x) <= 1.0e5f); };
  for (int i = 0; i < 3; ++i) {
    if (bad(d.dims[i]) || bad(d.scale[i]) || bad(d.offset_position[i])) {
      throw SegmentError(ErrorCode::kInvalidArgument, "link '" + d.name +
                                                          "' has a size, scale or offset that is not finite or beyond 100 km");
    }
  }
  for (const float q : d.offset_orientation) {
    if (!std::isfinite(q)) throw SegmentError(ErrorCode::kInvalidArgument, "link '" + d.name + "' has a non-finite orientation");
  }
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
  if (d.shape != ipc::Shape::kMesh && !d.mesh_path.empty()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "link '" + d.name + "' has a mesh path but is not a mesh");
  }
  ipc::copy_fixed_text(v.mesh_path, d.mesh_path, "mesh path");
  return v;
}

// v rotated by the unit quaternion q (qx, qy, qz, qw): v + 2w(u x v) + 2u x (u x v).
std::array<float, 3> rotate(const std::array<float, 4>& q, const std::array<float, 3>& v) {
  const float n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  const float x = q[0] / n, y = q[1] / n, z = q[2] / n, w = q[3] / n;
  const std::array<float, 3> t{2 * (y * v[2] - z * v[1]), 2 * (z * v[0] - x * v[2]), 2 * (x * v[1] - y * v[0])};
  return {v[0] + w * t[0] + (y * t[2] - z * t[1]), v[1] + w * t[1] + (z * t[0] - x * t[2]),
          v[2] + w * t[2] + (x * t[1] - y * t[0])};
}

// What a format 1.2 reader draws for a link (shapes 0..4 only): its first visual, with a plane,
// an ellipsoid or a stored mesh as the box around it; a link without visuals as an empty box.
ipc::LinkVisual per_link_record(const std::string& link, const std::vector<LinkVisualDesc>& visuals,
                                const std::vector<ipc::MeshRecord>& meshes) {
  LinkVisualDesc d;
  d.name = link;
  if (visuals.empty()) {
    d.dims = {0.0f, 0.0f, 0.0f};
    return to_record(d);
  }
  const LinkVisualDesc& first = visuals.front();
  d = first;
  d.name = link;
  switch (first.shape) {
    case ipc::Shape::kPlane:
      d.shape = ipc::Shape::kBox;
      d.dims = {first.dims[0], first.dims[1], 0.001f};
      break;
    case ipc::Shape::kEllipsoid:
      d.shape = ipc::Shape::kBox;
      d.dims = {2 * first.dims[0], 2 * first.dims[1], 2 * first.dims[2]};
      break;
    case ipc::Shape::kInlineMesh: {
      const ipc::MeshRecord& m = meshes.at(first.mesh);
      std::array<float, 3> centre{}, size{};
      for (int a = 0; a < 3; ++a) {
        centre[a] = 0.5f * (m.bounds_min[a] + m.bounds_max[a]) * first.scale[a];
        size[a] = (m.bounds_max[a] - m.bounds_min[a]) * std::fabs(first.scale[a]);
      }
      const auto at = rotate(first.offset_orientation, centre);
      d.shape = ipc::Shape::kBox;
      d.dims = size;
      d.scale = {1.0f, 1.0f, 1.0f};
      for (int a = 0; a < 3; ++a) d.offset_position[a] = first.offset_position[a] + at[a];
      d.mesh = kNoMesh;
      break;
    }
    default:
      break;
  }
  return to_record(d);
}

}  // namespace

SimWriter::SimWriter(const WriterConfig& config)
    : segment_(writer_options(config)),
      epsilon_(config.epsilon),
      detect_changes_(config.detect_changes),
      robots_allowed_(config.max_robots != 0) {
  compress_meshes_ = config.compress_meshes;
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

std::uint32_t SimWriter::add_model(const RobotModelDesc& model) {
  std::vector<ipc::LinkVisual> links;
  std::vector<ipc::VisualRecord> visuals;
  links.reserve(model.links.size());
  for (std::size_t l = 0; l < model.links.size(); ++l) {
    const LinkDesc& link = model.links[l];
    for (const LinkVisualDesc& v : link.visuals) {
      ipc::VisualRecord r{};
      LinkVisualDesc named = v;
      named.name = link.name;
      if (v.shape == ipc::Shape::kInlineMesh) {
        if (v.mesh >= mesh_records_.size()) {
          throw SegmentError(ErrorCode::kInvalidArgument, "link '" + link.name + "' refers to mesh " +
                                                              std::to_string(v.mesh) + ", which was not added");
        }
        r.mesh = v.mesh;
      } else if (v.mesh != kNoMesh) {
        throw SegmentError(ErrorCode::kInvalidArgument, "link '" + link.name + "' has a mesh id but is not an inline mesh");
      }
      if (static_cast<std::uint32_t>(v.shape) >= ipc::kExtendedShapeCount) {
        throw SegmentError(ErrorCode::kInvalidArgument, "link '" + link.name + "' has unknown shape " +
                                                            std::to_string(static_cast<std::uint32_t>(v.shape)));
      }
      r.visual = to_record(named);
      r.link = static_cast<std::uint32_t>(l);
      visuals.push_back(r);
    }
    links.push_back(per_link_record(link.name, link.visuals, mesh_records_));
  }
  const std::uint32_t id = segment_.add_model(model.name, links, visuals);
  model_count_ = id + 1;
  return id;
}

std::uint32_t SimWriter::add_mesh(const MeshData& mesh) {
  ipc::EncodedMesh encoded = ipc::encode_mesh(mesh, compress_meshes_);
  const auto key = std::make_tuple(content_hash(mesh), encoded.record.crc32, mesh.vertices.size(), mesh.triangles.size());
  if (const auto it = mesh_ids_.find(key); it != mesh_ids_.end()) return it->second;
  const std::uint32_t id = segment_.add_mesh(encoded);
  mesh_ids_.emplace(key, id);
  mesh_records_.push_back(encoded.record);
  return id;
}

std::uint32_t SimWriter::model_link_count(std::uint32_t model) const {
  return segment_.model_link_count(model);  // throws kInvalidArgument for an unknown model
}

std::uint32_t SimWriter::spawn_robot(std::string_view name, std::uint32_t model) {
  return spawn(name, model, {});
}

std::uint32_t SimWriter::spawn_static(std::string_view name, std::uint32_t model, std::span<const double> poses) {
  const std::uint32_t links = segment_.model_link_count(model);
  if (poses.size() != std::size_t{links} * kPoseValues) {
    throw SegmentError(ErrorCode::kInvalidArgument, "static robot '" + std::string(name) + "' has " +
                                                        std::to_string(links) + " links: expected " +
                                                        std::to_string(links * kPoseValues) + " values, got " +
                                                        std::to_string(poses.size()));
  }
  ipc::RobotAttributeWords attributes;
  attributes.color_and_flags = std::uint64_t{ipc::kRobotStatic} << 32;
  const std::uint32_t id = spawn(name, model, attributes);
  Robot& r = robot(id);
  try {
    stage(r, poses.data());
  } catch (...) {
    remove_robot(id);
    throw;
  }
  // Published now, once: later frames never touch it.
  segment_.write_robot(r.slot, r.staged, r.dirty);
  segment_.end_frame(last_sim_time_, r.links, 1);
  std::fill(r.dirty.begin(), r.dirty.end(), 0);
  r.any_dirty = false;
  r.is_static = true;
  total_links_ -= r.links;
  return id;
}

void SimWriter::set_robot_color(std::uint32_t id, std::optional<std::array<std::uint8_t, 4>> rgba) {
  Robot& r = robot(id);
  std::uint64_t word = r.attributes.color_and_flags;
  std::uint32_t flags = static_cast<std::uint32_t>(word >> 32) & ~ipc::kRobotColorOverride;
  std::uint32_t color = 0;
  if (rgba) {
    flags |= ipc::kRobotColorOverride;
    color = std::uint32_t{(*rgba)[0]} | std::uint32_t{(*rgba)[1]} << 8 | std::uint32_t{(*rgba)[2]} << 16 |
            std::uint32_t{(*rgba)[3]} << 24;
  }
  r.attributes.color_and_flags = std::uint64_t{flags} << 32 | color;
  r.attributes_dirty = true;
}

void SimWriter::set_robot_attributes(std::uint32_t id, const RobotAttributes& a) {
  Robot& r = robot(id);
  // Checked before anything changes: a refused call leaves the robot as it was.
  if (a.scalar && !std::isfinite(*a.scalar)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot " + std::to_string(id) + ": the scalar must be finite");
  }
  if ((a.worker && *a.worker == ~0u) || (a.environment && *a.environment == ~0u)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot " + std::to_string(id) + ": worker and environment must be below 2^32 - 1");
  }
  ipc::RobotAttributeWords next = r.attributes;
  std::uint32_t flags = next.flags() & ~(ipc::kRobotHasProducer | ipc::kRobotHasScalar | ipc::kRobotHasEpisode);
  next.producer = 0;
  next.scalar_bits = 0;
  next.episode = 0;
  if (a.episode) {
    flags |= ipc::kRobotHasEpisode;
    next.episode = std::uint64_t{a.episode->first} | std::uint64_t{a.episode->second} << 32;
  }
  if (a.worker || a.environment) {
    flags |= ipc::kRobotHasProducer;
    // An unset half is all ones ("none"), as FORMAT.md says.
    next.producer = std::uint64_t{a.worker.value_or(~0u)} | std::uint64_t{a.environment.value_or(~0u)} << 32;
  }
  if (a.scalar) {
    flags |= ipc::kRobotHasScalar;
    next.scalar_bits = std::bit_cast<std::uint64_t>(*a.scalar);
  }
  next.color_and_flags = (next.color_and_flags & 0xFFFFFFFFULL) | std::uint64_t{flags} << 32;
  r.attributes = next;
  r.attributes_dirty = true;
}

RobotAttributes SimWriter::robot_attributes(std::uint32_t id) {
  const ipc::RobotAttributeWords& w = robot(id).attributes;
  RobotAttributes a;
  const std::uint32_t flags = w.flags();
  if ((flags & ipc::kRobotHasProducer) != 0) {
    if (static_cast<std::uint32_t>(w.producer) != ~0u) a.worker = static_cast<std::uint32_t>(w.producer);
    if (static_cast<std::uint32_t>(w.producer >> 32) != ~0u) a.environment = static_cast<std::uint32_t>(w.producer >> 32);
  }
  if ((flags & ipc::kRobotHasScalar) != 0) a.scalar = std::bit_cast<double>(w.scalar_bits);
  if ((flags & ipc::kRobotHasEpisode) != 0) {
    a.episode = std::pair{static_cast<std::uint32_t>(w.episode), static_cast<std::uint32_t>(w.episode >> 32)};
  }
  return a;
}

void SimWriter::set_robot_episode(std::uint32_t id, std::optional<std::pair<std::uint32_t, std::uint32_t>> episode) {
  Robot& r = robot(id);
  std::uint32_t flags = r.attributes.flags() & ~ipc::kRobotHasEpisode;
  r.attributes.episode = 0;
  if (episode) {
    flags |= ipc::kRobotHasEpisode;
    r.attributes.episode = std::uint64_t{episode->first} | std::uint64_t{episode->second} << 32;
  }
  r.attributes.color_and_flags = (r.attributes.color_and_flags & 0xFFFFFFFFULL) | std::uint64_t{flags} << 32;
  r.attributes_dirty = true;
}

std::uint32_t SimWriter::spawn(std::string_view name, std::uint32_t model, const ipc::RobotAttributeWords& attributes) {
  if (!robots_allowed_) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + segment_.name() + "' is telemetry-only");
  }
  const std::uint32_t links = segment_.model_link_count(model);
  const std::uint32_t slot = segment_.spawn_robot(name, model, attributes);
  std::vector<float> identity(std::size_t{links} * kPoseValues, 0.0f);
  for (std::uint32_t l = 0; l < links; ++l) identity[l * kPoseValues + 6] = 1.0f;
  Robot r{next_id_++, slot, links, identity, identity,
          std::vector<std::uint64_t>(segment_.layout().dirty_words, 0), false, false, false, attributes};
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
  if (!robots_[index].is_static) total_links_ -= robots_[index].links;
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
  if (r.is_static) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot " + std::to_string(id) + " is static world geometry");
  }
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
    if (r.is_static) continue;
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
    if (r.attributes_dirty) {
      segment_.write_robot_attributes(r.slot, r.attributes);
      r.attributes_dirty = false;
      if (!r.any_dirty) ++stats.changed_robots;
    }
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
  last_sim_time_ = sim_time;
  stats.frame = segment_.frame();
  return stats;
}

}  // namespace fleetscope
