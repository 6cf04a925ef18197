#include "fleetscope/ipc/segment_reader.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <sstream>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/history_format.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/shared_access.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace fleetscope::ipc {
namespace {

constexpr std::uint64_t kLivenessCheckNs = 100'000'000ULL;

std::string version_text(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

[[noreturn]] void corrupt(const std::string& segment, const std::string& what) {
  throw SegmentError(ErrorCode::kCorrupt, "segment '" + segment + "' is corrupt: " + what);
}

std::string hex(std::uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

// The history section header against the layout its capacities imply.
HistoryLayout validate_history_section(std::span<const std::byte> section, const std::string& seg) {
  if (section.size() < sizeof(HistoryHeader)) corrupt(seg, "scalar history section is smaller than its header");
  alignas(kCacheLine) std::byte raw[sizeof(HistoryHeader)];
  load_words(raw, section.data(), sizeof raw);
  const auto& g = *std::launder(reinterpret_cast<const HistoryHeader*>(raw));
  if (g.magic != kHistoryMagic) corrupt(seg, "scalar history section has magic " + hex(g.magic));
  HistoryLayout l;
  try {
    l = compute_history_layout(HistoryCapacities{g.tag_capacity, g.bucket_count});
  } catch (const SegmentError& e) {
    corrupt(seg, std::string("scalar history capacities out of range: ") + e.what());
  }
  if (g.blocks_offset != l.blocks_offset || g.block_stride != l.block_stride || g.size != l.size ||
      l.size != section.size()) {
    corrupt(seg, "scalar history offsets do not match its capacities");
  }
  return l;
}

// The geometry section header against the layout its capacities imply (as for the pose part).
GeometryLayout validate_geometry_section(std::span<const std::byte> section, const std::string& seg) {
  if (section.size() < sizeof(GeometryHeader)) corrupt(seg, "geometry section is smaller than its header");
  alignas(kCacheLine) std::byte raw[sizeof(GeometryHeader)];
  load_words(raw, section.data(), sizeof raw);
  const auto& g = *std::launder(reinterpret_cast<const GeometryHeader*>(raw));
  if (g.magic != kGeometryMagic) corrupt(seg, "geometry section has magic " + hex(g.magic));
  GeometryLayout l;
  try {
    l = compute_geometry_layout(GeometryCapacities{g.visual_capacity, g.mesh_capacity, g.arena_size});
  } catch (const SegmentError& e) {
    corrupt(seg, std::string("geometry capacities out of range: ") + e.what());
  }
  if (g.visuals_offset != l.visuals_offset || g.meshes_offset != l.meshes_offset ||
      g.arena_offset != l.arena_offset || g.size != l.size || l.size != section.size()) {
    corrupt(seg, "geometry section offsets do not match its capacities");
  }
  return l;
}

}  // namespace

const char* writer_state_name(WriterState state) {
  switch (state) {
    case WriterState::kLive: return "live";
    case WriterState::kPaused: return "paused";
    case WriterState::kDead: return "dead";
    case WriterState::kClosed: return "closed";
    case WriterState::kUnreachable: return "unreachable";
  }
  return "unknown";
}

void ReaderState::check_mapping() {
  const SharedMemoryMapping* m = mapping();
  if (!truncated_.load(std::memory_order_relaxed)) {
    if (!m) return;
    const std::uint64_t now = monotonic_ns();
    if (now - last_check_ns_.load(std::memory_order_relaxed) < kMappingCheckNs) return;
    last_check_ns_.store(now, std::memory_order_relaxed);
    if (m->intact()) return;
  }
  truncated_.store(true, std::memory_order_relaxed);
  throw SegmentError(ErrorCode::kCorrupt,
                     "segment '" + name + "' was truncated while mapped (its file has " +
                         std::to_string(m ? m->file_size() : 0) + " of " +
                         std::to_string(m ? m->bytes().size() : 0) + " bytes); it cannot be read any more");
}

SegmentReader::SegmentReader(std::shared_ptr<ReaderState> state, std::span<const std::byte> bytes)
    : state_(std::move(state)), bytes_(bytes) {}

SegmentReader SegmentReader::open(std::string_view name, const ReaderOptions& options) {
  SharedMemoryMapping mapping = SharedMemoryMapping::open_read_only(name, options.allow_other_users);
  const std::span<const std::byte> bytes = mapping.bytes();
  const uid_t owner = mapping.owner_uid();
  const unsigned mode = mapping.mode();
  SegmentReader reader(std::make_shared<ReaderState>(std::move(mapping), nullptr, std::string(name)), bytes);
  reader.info_.name = std::string(name);
  reader.validate();
  reader.info_.owner_uid = owner;
  reader.info_.mode = mode;
  return reader;
}

SegmentReader SegmentReader::over_bytes(std::span<const std::byte> bytes) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % kCacheLine != 0) {
    throw SegmentError(ErrorCode::kInvalidArgument, "segment image must be 64-byte aligned");
  }
  SegmentReader reader(std::make_shared<ReaderState>(std::nullopt, nullptr, "<memory>"), bytes);
  reader.info_.name = "<memory>";
  reader.validate();
  reader.state_->name = reader.info_.name;
  return reader;
}

SegmentReader SegmentReader::over_mapping(const SharedMemoryMapping& mapping, std::string_view name) {
  SegmentReader reader(std::make_shared<ReaderState>(std::nullopt, &mapping, std::string(name)), mapping.bytes());
  reader.info_.name = std::string(name);
  reader.validate();
  reader.info_.owner_uid = mapping.owner_uid();
  reader.info_.mode = mapping.mode();
  return reader;
}

bool ReaderState::liveness_check_due(std::uint64_t now_ns, std::uint64_t interval_ns) noexcept {
  std::uint64_t last = last_liveness_check_ns_.load(std::memory_order_relaxed);
  return now_ns - last >= interval_ns &&
         last_liveness_check_ns_.compare_exchange_strong(last, now_ns, std::memory_order_relaxed);
}

bool SegmentReader::learn_writer_gone() const {
  ReaderState& st = *state_;
  if (st.writer_gone()) return true;
  if (!st.liveness_check_due(monotonic_ns(), kLivenessCheckNs)) return false;
  if (closed() || !process_alive(info_.writer_pid, info_.writer_start_ticks)) st.set_writer_gone();
  return st.writer_gone();
}

const SegmentHeader& SegmentReader::header() const noexcept {
  return *std::launder(reinterpret_cast<const SegmentHeader*>(bytes_.data()));
}

const std::byte* SegmentReader::block(std::uint32_t slot) const noexcept {
  return bytes_.data() + info_.layout.blocks_offset + std::uint64_t{slot} * info_.layout.block_stride;
}

void SegmentReader::validate() {
  const std::string& seg = info_.name;
  if (bytes_.size() < sizeof(SegmentHeader)) {
    corrupt(seg, "truncated to " + std::to_string(bytes_.size()) + " bytes; the header alone needs " +
                     std::to_string(sizeof(SegmentHeader)));
  }
  // SYNC POINT READ (creation): pairs with the writer's release store of kOpen.
  const auto state = header().state.load(std::memory_order_acquire);
  // Copy the header word by word (while a segment is being created it is still written) and
  // read the immutable fields from the copy.
  alignas(kCacheLine) std::byte raw[sizeof(SegmentHeader)];
  load_words(raw, bytes_.data(), sizeof raw);
  const auto& h = *std::launder(reinterpret_cast<const SegmentHeader*>(raw));

  if (state == static_cast<std::uint32_t>(SegmentState::kInitialising)) {
    if (h.magic == 0 || h.magic == kMagic) {
      throw SegmentError(ErrorCode::kNotReady, "segment '" + seg + "' is still being created");
    }
  }
  if (h.magic != kMagic) {
    corrupt(seg, "not a fleetscope segment (magic " + hex(h.magic) + ", expected " + hex(kMagic) + ")");
  }
  if (h.abi_major != kAbiMajor) {
    throw SegmentError(ErrorCode::kVersionMismatch,
                       "segment '" + seg + "' uses segment format " +
                           version_text(h.abi_major, h.abi_minor) + " but this fleetscope reads format " +
                           version_text(kAbiMajor, kAbiMinor) +
                           (h.abi_major > kAbiMajor ? " (the writer is newer: upgrade the reader)"
                                                    : " (the writer is older: upgrade the writer)"));
  }
  if (state > static_cast<std::uint32_t>(SegmentState::kClosed)) {
    corrupt(seg, "unknown state " + std::to_string(state));
  }
  if (h.header_size != sizeof(SegmentHeader)) {
    corrupt(seg, "header size " + std::to_string(h.header_size) + ", expected " +
                     std::to_string(sizeof(SegmentHeader)));
  }
  if (!terminated(h.name)) corrupt(seg, "segment name is not NUL-terminated");
  Capacities caps;
  caps.robots = h.robot_capacity;
  caps.links_per_robot = h.link_capacity;
  caps.models = h.model_capacity;
  caps.visuals = h.visual_capacity;
  caps.dirty_history = h.dirty_history;
  Layout layout;
  try {
    layout = compute_layout(caps);
  } catch (const SegmentError& e) {
    corrupt(seg, std::string("capacities out of range: ") + e.what());
  }
  if (h.dirty_words != layout.dirty_words || h.models_offset != layout.models_offset ||
      h.visuals_offset != layout.visuals_offset || h.robots_offset != layout.robots_offset ||
      h.blocks_offset != layout.blocks_offset || h.block_stride != layout.block_stride) {
    corrupt(seg, "section offsets do not match the capacities in the header");
  }
  // Telemetry (format 1.1 and later) may follow the robot blocks; 1.0 writes none.
  const std::uint64_t expected_total = layout.total_size + h.telemetry_size;
  if (h.telemetry_size > kMaxSegmentBytes ||
      (h.telemetry_size != 0 && h.telemetry_offset != layout.total_size) ||
      h.total_size != expected_total) {
    corrupt(seg, "total size " + std::to_string(h.total_size) + " does not match the layout (" +
                     std::to_string(expected_total) + " bytes)");
  }
  if (h.total_size > bytes_.size()) {
    corrupt(seg, "truncated: the header says " + std::to_string(h.total_size) +
                     " bytes but only " + std::to_string(bytes_.size()) + " are there");
  }
  if (h.telemetry_size != 0 && h.abi_minor < 1) {
    corrupt(seg, "a format 1.0 segment has a telemetry section (telemetry came with 1.1)");
  }
  const bool telemetry_only = h.abi_minor >= 2 && (h.flags & kFlagTelemetryOnly) != 0;
  if (telemetry_only && h.telemetry_size == 0) corrupt(seg, "marked telemetry-only but has no telemetry section");
  info_.telemetry_only = telemetry_only;
  if (h.telemetry_size != 0) {
    info_.telemetry_offset = h.telemetry_offset;
    info_.telemetry = validate_telemetry_section(bytes_.subspan(h.telemetry_offset, h.telemetry_size), seg);
  }
  if (h.abi_minor >= 3 && (h.geometry_offset != 0 || h.geometry_size != 0)) {
    // 1.3: the geometry section follows the 1.2 part, inside the object (which is that much larger).
    if (h.geometry_offset != h.total_size || h.geometry_size > kMaxSegmentBytes ||
        h.geometry_size > bytes_.size() - h.total_size) {
      corrupt(seg, "geometry section (offset " + std::to_string(h.geometry_offset) + ", " +
                       std::to_string(h.geometry_size) + " bytes) does not follow the layout inside the " +
                       std::to_string(bytes_.size()) + "-byte segment");
    }
    info_.geometry_offset = h.geometry_offset;
    info_.geometry = validate_geometry_section(bytes_.subspan(h.geometry_offset, h.geometry_size), seg);
  }
  if (h.abi_minor >= 3 && (h.history_offset != 0 || h.history_size != 0)) {
    // 1.3: the scalar history follows the geometry section (or the 1.2 part without one).
    const std::uint64_t expected = info_.geometry ? h.geometry_offset + h.geometry_size : h.total_size;
    if (h.telemetry_size == 0 || h.history_offset != expected || h.history_size > kMaxSegmentBytes ||
        h.history_size > bytes_.size() - h.history_offset) {
      corrupt(seg, "scalar history section (offset " + std::to_string(h.history_offset) + ", " +
                       std::to_string(h.history_size) + " bytes) does not follow the layout inside the " +
                       std::to_string(bytes_.size()) + "-byte segment");
    }
    info_.history_offset = h.history_offset;
    info_.history = validate_history_section(bytes_.subspan(h.history_offset, h.history_size), seg);
  }
  info_.abi_major = h.abi_major;
  info_.abi_minor = h.abi_minor;
  info_.layout = layout;
  info_.writer_pid = h.writer_pid;
  info_.writer_uid = h.writer_uid;
  info_.writer_start_ticks = h.writer_start_ticks;
  info_.created_unix_ns = h.created_unix_ns;
  if (info_.name == "<memory>") info_.name = h.name;
}

FrameInfo SegmentReader::frame() const {
  check_mapping();
  const SegmentHeader& h = header();
  FrameInfo info;
  auto copy = [&](std::uint64_t) {
    info.frame = h.frame.load(std::memory_order_relaxed);
    info.publish_ns = h.publish_ns.load(std::memory_order_relaxed);
    info.sim_time = std::bit_cast<double>(h.sim_time_bits.load(std::memory_order_relaxed));
    info.dirty_links = h.frame_dirty_links.load(std::memory_order_relaxed);
    info.changed_robots = h.frame_changed_robots.load(std::memory_order_relaxed);
  };
  read_seqlocked(h.frame_seq, kFramePolicy, copy);
  return info;  // after a writer died mid-publish the last values are as good as any
}

std::uint64_t SegmentReader::layout_epoch() const noexcept {
  return header().layout_seq.load(std::memory_order_acquire) / 2;
}

bool SegmentReader::closed() const noexcept {
  return header().state.load(std::memory_order_acquire) ==
         static_cast<std::uint32_t>(SegmentState::kClosed);
}

WriterStatus SegmentReader::writer_status(std::uint64_t stale_after_ns) const {
  check_mapping();
  const SegmentHeader& h = header();
  const std::uint64_t now = monotonic_ns();
  const std::uint64_t heartbeat = h.heartbeat_ns.load(std::memory_order_relaxed);
  const std::uint64_t published = h.publish_ns.load(std::memory_order_relaxed);
  WriterStatus status;
  status.heartbeat_age_ns = now > heartbeat ? now - heartbeat : 0;
  status.publish_age_ns = now > published ? now - published : 0;
  if (closed()) {
    status.state = WriterState::kClosed;
    state_->set_writer_gone();
  } else if (state_->writer_gone() || !process_alive(info_.writer_pid, info_.writer_start_ticks)) {
    status.state = WriterState::kDead;
    state_->set_writer_gone();
  } else if ((info_.telemetry && (info_.telemetry_only || h.frame.load(std::memory_order_relaxed) == 0)
                  ? status.heartbeat_age_ns  // no poses (yet): every telemetry record is a heartbeat
                  : status.publish_age_ns) > stale_after_ns) {
    status.state = WriterState::kPaused;
  } else {
    status.state = WriterState::kLive;
  }
  return status;
}

LayoutSnapshot SegmentReader::read_layout() const {
  check_mapping();
  const SegmentHeader& h = header();
  const Layout& l = info_.layout;
  const std::byte* base = bytes_.data();
  std::vector<ModelRecord> models;
  std::vector<LinkVisual> visuals;
  std::vector<RobotSlot> robots;
  std::vector<VisualRecord> extended;  // the geometry section's visuals the models use
  const bool has_extended = info_.abi_minor >= 3 && info_.geometry.has_value();
  std::uint64_t s1 = 0;
  std::uint32_t model_count = 0;
  std::uint64_t high_water = 0;
  auto copy = [&](std::uint64_t seq) {
    s1 = seq;
    model_count = h.model_count.load(std::memory_order_relaxed);
    high_water = h.robot_high_water.load(std::memory_order_relaxed);
    // Clamp before copying; out-of-range values are reported once the copy is known consistent.
    const std::uint32_t models_to_copy = std::min(model_count, l.capacities.models);
    const std::uint64_t robots_to_copy =
        std::min<std::uint64_t>({high_water, l.capacities.robots, kReaderMaxRobots});
    models.resize(models_to_copy);
    load_words(models.data(), base + l.models_offset, models_to_copy * sizeof(ModelRecord));
    std::uint64_t visuals_used = 0;
    for (const ModelRecord& m : models) {
      const std::uint64_t end = std::uint64_t{m.first_visual} + m.link_count;
      if (end <= l.capacities.visuals) visuals_used = std::max(visuals_used, end);
    }
    visuals.resize(visuals_used);
    load_words(visuals.data(), base + l.visuals_offset, visuals_used * sizeof(LinkVisual));
    if (has_extended) {
      const GeometryLayout& g = *info_.geometry;
      std::uint64_t extended_used = 0;
      for (const ModelRecord& m : models) {
        const std::uint64_t end = std::uint64_t{m.first_extended_visual} + m.extended_visual_count;
        if (end <= g.capacities.visuals) extended_used = std::max(extended_used, end);
      }
      extended.resize(extended_used);
      load_words(extended.data(), base + info_.geometry_offset + g.visuals_offset, extended_used * sizeof(VisualRecord));
    }
    robots.resize(robots_to_copy);
    load_words(robots.data(), base + l.robots_offset, robots_to_copy * sizeof(RobotSlot));
  };
  const SeqlockOutcome outcome = read_seqlocked(h.layout_seq, kLayoutPolicy, copy);
  if (outcome == SeqlockOutcome::kBusy) {
    throw SegmentError(ErrorCode::kNotReady,
                       "segment '" + info_.name + "': the layout kept changing while being read");
  }
  const std::string& seg = info_.name;
  if (model_count > l.capacities.models) {
    corrupt(seg, "model count " + std::to_string(model_count) + " exceeds capacity " +
                     std::to_string(l.capacities.models));
  }
  if (high_water > l.capacities.robots) {
    corrupt(seg, "robot high-water mark " + std::to_string(high_water) + " exceeds capacity " +
                     std::to_string(l.capacities.robots));
  }
  if (high_water > kReaderMaxRobots) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + seg + "' uses " + std::to_string(high_water) +
                                                 " robot slots; this reader takes at most " +
                                                 std::to_string(kReaderMaxRobots));
  }
  LayoutSnapshot snapshot;
  snapshot.epoch = s1 / 2;
  snapshot.torn = outcome == SeqlockOutcome::kTorn;
  std::uint64_t links_in_use = 0;
  std::uint64_t visuals_handed_out = 0;
  snapshot.models.reserve(models.size());
  for (std::size_t i = 0; i < models.size(); ++i) {
    const ModelRecord& m = models[i];
    const std::string which = "model " + std::to_string(i);
    if (!terminated(m.name)) corrupt(seg, which + " name is not NUL-terminated");
    if (m.link_count == 0 || m.link_count > l.capacities.links_per_robot) {
      corrupt(seg, which + " has " + std::to_string(m.link_count) + " links (allowed 1.." +
                       std::to_string(l.capacities.links_per_robot) + ")");
    }
    if (std::uint64_t{m.first_visual} + m.link_count > l.capacities.visuals) {
      corrupt(seg, which + " visuals [" + std::to_string(m.first_visual) + ", +" +
                       std::to_string(m.link_count) + ") lie outside the visual table");
    }
    ModelSnapshot model;
    model.name = m.name;
    model.visuals.assign(visuals.begin() + m.first_visual,
                         visuals.begin() + m.first_visual + m.link_count);
    for (const LinkVisual& v : model.visuals) {
      if (v.shape >= kShapeCount) corrupt(seg, which + " has unknown shape " + std::to_string(v.shape));
      if (!terminated(v.link_name) || !terminated(v.mesh_path)) {
        corrupt(seg, which + " has a link name or mesh path that is not NUL-terminated");
      }
    }
    const std::uint32_t extended_count = info_.abi_minor >= 3 ? m.extended_visual_count : 0;
    const bool no_visuals = info_.abi_minor >= 3 && has_extended && extended_count == 0 &&
                            m.first_extended_visual == kNoExtendedVisuals;
    visuals_handed_out += m.link_count + extended_count;
    if (visuals_handed_out > kReaderMaxVisuals) {
      throw SegmentError(ErrorCode::kCapacity, "segment '" + seg + "' describes more than " +
                                                   std::to_string(kReaderMaxVisuals) +
                                                   " visuals over its models, the most this reader takes");
    }
    if (no_visuals) {
      // Nothing to draw in any link (the per-link records are stand-ins for 1.2 readers).
    } else if (extended_count == 0) {
      for (std::uint32_t link = 0; link < m.link_count; ++link) {
        model.all_visuals.push_back(ModelVisual{link, model.visuals[link], 0});
      }
    } else {
      if (!has_extended || std::uint64_t{m.first_extended_visual} + extended_count > info_.geometry->capacities.visuals) {
        corrupt(seg, which + " visuals [" + std::to_string(m.first_extended_visual) + ", +" +
                         std::to_string(extended_count) + ") lie outside the geometry section's visual table");
      }
      model.all_visuals.reserve(extended_count);
      for (std::uint32_t i = 0; i < extended_count; ++i) {
        const VisualRecord& r = extended[m.first_extended_visual + i];
        if (r.visual.shape >= kExtendedShapeCount) {
          corrupt(seg, which + " has unknown shape " + std::to_string(r.visual.shape));
        }
        if (r.link >= m.link_count) {
          corrupt(seg, which + " has a visual of link " + std::to_string(r.link) + " of " + std::to_string(m.link_count));
        }
        if (!terminated(r.visual.link_name) || !terminated(r.visual.mesh_path)) {
          corrupt(seg, which + " has a link name or mesh path that is not NUL-terminated");
        }
        const bool inline_mesh = r.visual.shape == static_cast<std::uint32_t>(Shape::kInlineMesh);
        if (inline_mesh && r.mesh >= info_.geometry->capacities.meshes) {
          corrupt(seg, which + " refers to mesh " + std::to_string(r.mesh) + " beyond the mesh table");
        }
        model.all_visuals.push_back(ModelVisual{r.link, r.visual, inline_mesh ? r.mesh : 0});
      }
    }
    snapshot.models.push_back(std::move(model));
  }
  for (std::uint32_t slot = 0; slot < robots.size(); ++slot) {
    const RobotSlot& r = robots[slot];
    if (r.in_use == 0) continue;
    const std::string which = "robot slot " + std::to_string(slot);
    if (r.in_use != 1) corrupt(seg, which + " has in-use flag " + std::to_string(r.in_use));
    if (!terminated(r.name)) corrupt(seg, which + " name is not NUL-terminated");
    if (r.model_index >= snapshot.models.size()) {
      corrupt(seg, which + " refers to model " + std::to_string(r.model_index) + " of " +
                       std::to_string(snapshot.models.size()));
    }
    if (r.spawn_id == 0) corrupt(seg, which + " is in use with spawn id 0");
    RobotSnapshot robot;
    robot.slot = slot;
    robot.name = r.name;
    robot.model = r.model_index;
    robot.link_count = static_cast<std::uint32_t>(snapshot.models[r.model_index].visuals.size());
    robot.spawn_id = r.spawn_id;
    links_in_use += robot.link_count;
    if (links_in_use > kReaderMaxLinks) {
      throw SegmentError(ErrorCode::kCapacity, "segment '" + seg + "' uses more than " +
                                                   std::to_string(kReaderMaxLinks) +
                                                   " links, the most this reader takes");
    }
    snapshot.robots.push_back(std::move(robot));
  }
  return snapshot;
}

std::uint32_t SegmentReader::mesh_count() const {
  if (!info_.geometry) return 0;
  const auto& g = *std::launder(reinterpret_cast<const GeometryHeader*>(bytes_.data() + info_.geometry_offset));
  // SYNC POINT READ (meshes): pairs with the writer's release store after a mesh is complete.
  const std::uint32_t count = g.mesh_count.load(std::memory_order_acquire);
  if (count > info_.geometry->capacities.meshes) {
    corrupt(info_.name, "mesh count " + std::to_string(count) + " exceeds capacity " +
                            std::to_string(info_.geometry->capacities.meshes));
  }
  return count;
}

MeshData SegmentReader::read_mesh(std::uint32_t index) const {
  check_mapping();
  const std::uint32_t count = mesh_count();
  if (index >= count) {
    throw SegmentError(ErrorCode::kInvalidArgument, "segment '" + info_.name + "' has " + std::to_string(count) +
                                                        " meshes; there is no mesh " + std::to_string(index));
  }
  const GeometryLayout& g = *info_.geometry;
  const std::byte* section = bytes_.data() + info_.geometry_offset;
  MeshRecord record;
  load_words(&record, section + g.meshes_offset + std::uint64_t{index} * sizeof(MeshRecord), sizeof record);
  const std::string where = "segment '" + info_.name + "' mesh " + std::to_string(index);
  const std::uint64_t arena = g.capacities.mesh_bytes;
  if (record.data_offset > arena || record.stored_bytes > arena - record.data_offset) {
    throw SegmentError(ErrorCode::kCorrupt, where + " is corrupt: its data lies outside the mesh arena");
  }
  // Copied out before it is checked: the copy is what gets validated and used.
  std::vector<std::byte> stored(record.stored_bytes);
  // (An empty vector's data() may be null, which memcpy must not get even for 0 bytes.)
  if (!stored.empty()) std::memcpy(stored.data(), section + g.arena_offset + record.data_offset, stored.size());
  return decode_mesh(record, stored, where);
}

std::uint64_t SegmentReader::change_count(std::uint32_t slot) const noexcept {
  if (slot >= info_.layout.capacities.robots) return 0;
  const auto& sync = *std::launder(reinterpret_cast<const RobotSync*>(block(slot)));
  return sync.change_count.load(std::memory_order_relaxed);
}

std::optional<RobotRead> SegmentReader::read_robot(std::uint32_t slot,
                                                   std::optional<std::uint64_t> seen_changes,
                                                   std::uint32_t link_count,
                                                   std::span<std::uint64_t> dirty_out,
                                                   std::span<PoseRecord> poses_out) const {
  const Layout& l = info_.layout;
  const std::uint32_t words = l.dirty_words;
  if (slot >= l.capacities.robots || link_count > l.capacities.links_per_robot ||
      dirty_out.size() < words || poses_out.size() < link_count) {
    throw SegmentError(ErrorCode::kInvalidArgument, "read_robot: slot, link count or buffers out of range");
  }
  const std::byte* b = block(slot);
  const auto& sync = *std::launder(reinterpret_cast<const RobotSync*>(b));
  const auto* masks = reinterpret_cast<const std::uint64_t*>(b + l.masks_in_block);
  const std::byte* poses = b + l.poses_in_block;
  const std::uint64_t history = l.capacities.dirty_history;
  const bool with_attributes = info_.abi_minor >= 3;  // reserved (zero) before 1.3

  RobotRead read;
  auto copy = [&](std::uint64_t) {
    read.spawn_id = sync.spawn_id.load(std::memory_order_relaxed);
    read.change_count = sync.change_count.load(std::memory_order_relaxed);
    read.last_change_frame = sync.last_change_frame.load(std::memory_order_relaxed);
    if (with_attributes) {
      read.attributes.color_and_flags = sync.color_and_flags.load(std::memory_order_relaxed);
      read.attributes.producer = sync.producer.load(std::memory_order_relaxed);
      read.attributes.scalar_bits = sync.scalar_bits.load(std::memory_order_relaxed);
      read.attributes.episode = sync.episode.load(std::memory_order_relaxed);
    }
    const bool full = !seen_changes || read.change_count < *seen_changes ||
                      read.change_count - *seen_changes > history;
    for (std::uint32_t w = 0; w < words; ++w) dirty_out[w] = 0;
    if (full) {
      for (std::uint32_t link = 0; link < link_count; ++link) dirty_out[link / 64] |= 1ULL << (link % 64);
    } else {
      for (std::uint64_t c = *seen_changes + 1; c <= read.change_count; ++c) {
        const std::uint64_t* entry = masks + ((c - 1) % history) * words;
        for (std::uint32_t w = 0; w < words; ++w) dirty_out[w] |= load_word(entry + w);
      }
      // Bits past the robot's links are never written by a correct writer; drop them.
      for (std::uint32_t w = 0; w < words; ++w) {
        const std::uint32_t first = w * 64;
        if (first >= link_count) dirty_out[w] = 0;
        else if (link_count - first < 64) dirty_out[w] &= (1ULL << (link_count - first)) - 1;
      }
    }
    for (std::uint32_t w = 0; w < words; ++w) {
      std::uint64_t bits = dirty_out[w];
      while (bits != 0) {
        const std::uint32_t link = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
        bits &= bits - 1;
        load_words(&poses_out[link], poses + std::uint64_t{link} * sizeof(PoseRecord), sizeof(PoseRecord));
      }
    }
  };
  const SeqlockOutcome outcome = read_seqlocked(sync.seq, kRobotPolicy, copy);
  if (outcome == SeqlockOutcome::kBusy) return std::nullopt;
  read.torn = outcome == SeqlockOutcome::kTorn;
  return read;
}

}  // namespace fleetscope::ipc
