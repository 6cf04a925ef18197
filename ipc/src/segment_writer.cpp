#include "fleetscope/ipc/segment_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/fixed_text.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/shared_access.hpp"

namespace fleetscope::ipc {
namespace {

// Worth another try: the name was freed meanwhile (another remover, e.g. gc, took the stale
// segment away), or it still holds a segment whose writer is gone but that could not be removed
// just now (its lock is held by a remover in the middle of removing it).
bool worth_retrying(const std::string& name) {
  try {
    const SegmentReader existing = SegmentReader::open(name);
    return writer_is_gone(existing.writer_status().state);
  } catch (const SegmentError& e) {
    return e.code() == ErrorCode::kNotFound;
  }
}

SharedMemoryMapping create_mapping(const WriterOptions& options, std::uint64_t total) {
  try {
    return SharedMemoryMapping::create_exclusive(options.name, total);
  } catch (const SegmentError& e) {
    if (e.code() != ErrorCode::kAlreadyExists || !options.replace_stale) throw;
  }
  // Another remover (gc, a writer starting beside this one) may hold the stale segment's lock
  // for a moment: then it is about to go, so try again shortly.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const bool removed = remove_if_stale(options.name).has_value();
    try {
      return SharedMemoryMapping::create_exclusive(options.name, total);
    } catch (const SegmentError& e) {
      if (e.code() != ErrorCode::kAlreadyExists) throw;
    }
    if (!removed && !worth_retrying(options.name)) break;
    ::usleep(1000);
  }
  // Say why it stays: another user's (gc cannot remove it), a live writer's, or unreadable.
  std::string why = "its writer is alive or it is unreadable; choose another name or run 'fleetscope-shm gc'";
  try {
    const SegmentFileInfo file = stat_segment_file(options.name);
    if (file.owner_uid != ::geteuid()) {
      why = "it belongs to " + owner_text(file.owner_uid) + "; choose another name (only its owner can remove it)";
    } else {
      const SegmentReader existing = SegmentReader::open(options.name);
      const WriterStatus status = existing.writer_status();
      if (status.state == WriterState::kLive || status.state == WriterState::kPaused) {
        why = "its writer (pid " + std::to_string(existing.info().writer_pid) + ") is alive; choose another name";
      } else {
        // Gone, yet its lock is held: a process that inherited the writer's descriptor (a child
        // forked after the segment was created) still runs.
        why = "its writer (pid " + std::to_string(existing.info().writer_pid) +
              ") is gone but another process still holds the segment open (a child it forked?); "
              "stop that process or choose another name";
      }
    }
  } catch (const SegmentError& e) {
    why = std::string("it cannot be read (") + e.what() + "); choose another name or remove it";
  }
  throw SegmentError(ErrorCode::kAlreadyExists, "segment '" + options.name + "' already exists: " + why);
}

}  // namespace

SegmentWriter::SegmentWriter(const WriterOptions& options)
    : SegmentWriter(options, options.telemetry ? std::optional(compute_telemetry_layout(*options.telemetry))
                                               : std::nullopt) {
  if (options.telemetry_only && !options.telemetry) {
    throw SegmentError(ErrorCode::kInvalidArgument, "a telemetry-only segment needs a telemetry section");
  }
}

namespace {
std::optional<GeometryLayout> geometry_layout(const WriterOptions& options) {
  if (!options.geometry) return std::nullopt;
  return compute_geometry_layout(*options.geometry);
}

std::optional<HistoryLayout> history_layout(const WriterOptions& options) {
  if (!options.history) return std::nullopt;
  if (!options.telemetry) {
    throw SegmentError(ErrorCode::kInvalidArgument, "a scalar history needs a telemetry section");
  }
  return compute_history_layout(*options.history);
}
}  // namespace

SegmentWriter::SegmentWriter(const WriterOptions& options, const std::optional<TelemetryLayout>& telemetry)
    : name_(options.name),
      layout_(compute_layout(options.capacities)),
      geometry_(geometry_layout(options)),
      geometry_offset_(layout_.total_size + (telemetry ? telemetry->size : 0)),
      history_(history_layout(options)),
      history_offset_(geometry_offset_ + (geometry_ ? geometry_->size : 0)),
      mapping_(create_mapping(options, history_offset_ + (history_ ? history_->size : 0))),
      slot_used_(layout_.capacities.robots, 0),
      last_written_frame_(layout_.capacities.robots, 0) {
  std::byte* base = mapping_.bytes().data();
  auto* h = new (base) SegmentHeader();
  // The pid first: if this process dies during creation, the half-built segment is stale.
  h->writer_pid = ::getpid();
  h->writer_uid = ::geteuid();
  h->writer_start_ticks = process_start_ticks(::getpid()).value_or(0);
  h->magic = kMagic;
  h->abi_major = kAbiMajor;
  h->abi_minor = kAbiMinor;
  h->header_size = sizeof(SegmentHeader);
  h->total_size = layout_.total_size + (telemetry ? telemetry->size : 0);
  h->robot_capacity = layout_.capacities.robots;
  h->link_capacity = layout_.capacities.links_per_robot;
  h->model_capacity = layout_.capacities.models;
  h->visual_capacity = layout_.capacities.visuals;
  h->dirty_words = layout_.dirty_words;
  h->dirty_history = layout_.capacities.dirty_history;
  h->models_offset = layout_.models_offset;
  h->visuals_offset = layout_.visuals_offset;
  h->robots_offset = layout_.robots_offset;
  h->blocks_offset = layout_.blocks_offset;
  h->block_stride = layout_.block_stride;
  if (telemetry) {
    h->telemetry_offset = layout_.total_size;
    h->telemetry_size = telemetry->size;
    std::span<std::byte> history;
    if (history_) {
      h->history_offset = history_offset_;
      h->history_size = history_->size;
      history = mapping_.bytes().subspan(history_offset_, history_->size);
    }
    telemetry_.emplace(mapping_.bytes().subspan(layout_.total_size, telemetry->size), *telemetry, h->heartbeat_ns,
                       history, history_);
  } else {
    h->telemetry_offset = 0;
    h->telemetry_size = 0;
  }
  copy_fixed_text(h->name, name_, "segment name");
  h->created_unix_ns = unix_time_ns();
  h->flags = options.telemetry_only ? kFlagTelemetryOnly : 0;
  if (geometry_) {
    // 1.3: after the 1.2 part (total_size), where 1.2 readers never look.
    h->geometry_offset = geometry_offset_;
    h->geometry_size = geometry_->size;
    auto* g = new (geometry_base()) GeometryHeader();
    g->magic = kGeometryMagic;
    g->visual_capacity = geometry_->capacities.visuals;
    g->mesh_capacity = geometry_->capacities.meshes;
    g->arena_size = geometry_->capacities.mesh_bytes;
    g->visuals_offset = geometry_->visuals_offset;
    g->meshes_offset = geometry_->meshes_offset;
    g->arena_offset = geometry_->arena_offset;
    g->size = geometry_->size;
  }

  PoseRecord identity{};
  identity.orientation[3] = 1.0f;
  for (std::uint32_t slot = 0; slot < layout_.capacities.robots; ++slot) {
    std::byte* b = block(slot);
    new (b) RobotSync();
    auto* poses = reinterpret_cast<PoseRecord*>(b + layout_.poses_in_block);
    std::fill_n(poses, layout_.capacities.links_per_robot, identity);
  }
  h->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  h->publish_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // SYNC POINT WRITE (creation): everything above becomes visible to a reader that loads
  // `state` with acquire and sees kOpen.
  h->state.store(static_cast<std::uint32_t>(SegmentState::kOpen), std::memory_order_release);
}

SegmentWriter::~SegmentWriter() { close(true); }

TelemetryWriter& SegmentWriter::telemetry() {
  if (!telemetry_) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "segment '" + name_ + "' was created without a telemetry section");
  }
  return *telemetry_;
}

SegmentHeader& SegmentWriter::header() const noexcept {
  return *std::launder(reinterpret_cast<SegmentHeader*>(mapping_.bytes().data()));
}

std::byte* SegmentWriter::block(std::uint32_t slot) const noexcept {
  return mapping_.bytes().data() + layout_.blocks_offset + std::uint64_t{slot} * layout_.block_stride;
}

std::byte* SegmentWriter::geometry_base() const noexcept { return mapping_.bytes().data() + geometry_offset_; }

std::uint32_t SegmentWriter::add_mesh(const EncodedMesh& mesh) {
  if (closed_) throw SegmentError(ErrorCode::kClosed, "segment '" + name_ + "' is closed");
  if (!geometry_) {
    throw SegmentError(ErrorCode::kInvalidArgument, "segment '" + name_ + "' has no geometry section for meshes");
  }
  if (mesh_count_ >= geometry_->capacities.meshes) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + name_ + "' holds at most " +
                                                 std::to_string(geometry_->capacities.meshes) + " meshes");
  }
  const std::uint64_t start = (arena_used_ + 63) / 64 * 64;
  if (start + mesh.stored.size() > geometry_->capacities.mesh_bytes) {
    throw SegmentError(ErrorCode::kCapacity,
                       "segment '" + name_ + "' has " + std::to_string(geometry_->capacities.mesh_bytes - std::min(start, geometry_->capacities.mesh_bytes)) +
                           " bytes left for meshes; this one needs " + std::to_string(mesh.stored.size()) +
                           " (reserve more with mesh_bytes)");
  }
  std::byte* g = geometry_base();
  auto& header = *std::launder(reinterpret_cast<GeometryHeader*>(g));
  MeshRecord record = mesh.record;
  record.data_offset = start;
  record.stored_bytes = mesh.stored.size();
  // Written once, before the count that publishes them (release): readers never see them change.
  std::memcpy(g + geometry_->arena_offset + start, mesh.stored.data(), mesh.stored.size());
  std::memcpy(g + geometry_->meshes_offset + std::uint64_t{mesh_count_} * sizeof(MeshRecord), &record, sizeof record);
  arena_used_ = start + mesh.stored.size();
  header.arena_used.store(arena_used_, std::memory_order_release);
  header.mesh_count.store(mesh_count_ + 1, std::memory_order_release);
  return mesh_count_++;
}

std::uint32_t SegmentWriter::add_model(std::string_view name, std::span<const LinkVisual> links,
                                       std::span<const VisualRecord> visuals) {
  if (!geometry_) {
    throw SegmentError(ErrorCode::kInvalidArgument, "segment '" + name_ + "' has no geometry section for visuals");
  }
  if (extended_visual_count_ + visuals.size() > geometry_->capacities.visuals) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + name_ + "' holds at most " +
                                                 std::to_string(geometry_->capacities.visuals) +
                                                 " visuals in its geometry section over all models");
  }
  for (const VisualRecord& v : visuals) {
    if (v.visual.shape >= kExtendedShapeCount) {
      throw SegmentError(ErrorCode::kInvalidArgument, "unknown shape " + std::to_string(v.visual.shape));
    }
    if (v.link >= links.size()) {
      throw SegmentError(ErrorCode::kInvalidArgument, "a visual refers to link " + std::to_string(v.link) + " of " +
                                                          std::to_string(links.size()));
    }
    if (v.visual.shape == static_cast<std::uint32_t>(Shape::kInlineMesh) && v.mesh >= mesh_count_) {
      throw SegmentError(ErrorCode::kInvalidArgument, "a visual refers to mesh " + std::to_string(v.mesh) + " of " +
                                                          std::to_string(mesh_count_));
    }
    if (!terminated(v.visual.link_name) || !terminated(v.visual.mesh_path)) {
      throw SegmentError(ErrorCode::kInvalidArgument, "link name or mesh path not NUL-terminated");
    }
  }
  const std::uint32_t first = visuals.empty() ? kNoExtendedVisuals : extended_visual_count_;
  add_model_records(name, links, first, static_cast<std::uint32_t>(visuals.size()), [&](std::byte* base) {
    if (!visuals.empty()) {
      store_words(geometry_base() + geometry_->visuals_offset + std::uint64_t{first} * sizeof(VisualRecord),
                  visuals.data(), visuals.size_bytes());
    }
    (void)base;
  });
  extended_visual_count_ += static_cast<std::uint32_t>(visuals.size());
  return model_count_ - 1;
}

std::uint32_t SegmentWriter::add_model(std::string_view name, std::span<const LinkVisual> visuals) {
  add_model_records(name, visuals, 0, 0, [](std::byte*) {});
  return model_count_ - 1;
}

template <typename StoreMore>
void SegmentWriter::add_model_records(std::string_view name, std::span<const LinkVisual> visuals,
                                      std::uint32_t first_extended, std::uint32_t extended_count,
                                      StoreMore&& store_more) {
  if (closed_) throw SegmentError(ErrorCode::kClosed, "segment '" + name_ + "' is closed");
  if (visuals.empty() || visuals.size() > layout_.capacities.links_per_robot) {
    throw SegmentError(ErrorCode::kInvalidArgument,
                       "model '" + std::string(name) + "' has " + std::to_string(visuals.size()) +
                           " links; this segment allows 1.." +
                           std::to_string(layout_.capacities.links_per_robot));
  }
  if (model_count_ >= layout_.capacities.models) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + name_ + "' holds at most " +
                                                 std::to_string(layout_.capacities.models) +
                                                 " models");
  }
  if (visual_count_ + visuals.size() > layout_.capacities.visuals) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + name_ + "' holds at most " +
                                                 std::to_string(layout_.capacities.visuals) +
                                                 " link visuals over all models");
  }
  for (const LinkVisual& v : visuals) {
    if (v.shape >= kShapeCount) {
      throw SegmentError(ErrorCode::kInvalidArgument, "unknown shape " + std::to_string(v.shape));
    }
    if (!terminated(v.link_name) || !terminated(v.mesh_path)) {
      throw SegmentError(ErrorCode::kInvalidArgument, "link name or mesh path not NUL-terminated");
    }
  }
  ModelRecord record{};
  copy_fixed_text(record.name, name, "model name");
  record.first_visual = visual_count_;
  record.link_count = static_cast<std::uint32_t>(visuals.size());
  record.first_extended_visual = first_extended;
  record.extended_visual_count = extended_count;
  // 1.3: a model with a geometry-section list that is empty (no link has a visual) says so with
  // the marker first = 0xFFFFFFFF, count 0 (FORMAT.md).
  if (extended_count == 0 && first_extended == kNoExtendedVisuals) record.first_extended_visual = kNoExtendedVisuals;

  std::byte* base = mapping_.bytes().data();
  {
    const SeqlockWrite layout_change(header().layout_seq);
    store_words(base + layout_.visuals_offset + std::uint64_t{visual_count_} * sizeof(LinkVisual),
                visuals.data(), visuals.size_bytes());
    store_more(base);
    store_words(base + layout_.models_offset + std::uint64_t{model_count_} * sizeof(ModelRecord),
                &record, sizeof record);
    header().model_count.store(model_count_ + 1, std::memory_order_relaxed);
  }

  visual_count_ += record.link_count;
  model_links_.push_back(record.link_count);
  ++model_count_;
}

std::uint32_t SegmentWriter::model_link_count(std::uint32_t model) const {
  if (model >= model_links_.size()) {
    throw SegmentError(ErrorCode::kInvalidArgument, "unknown model index " + std::to_string(model));
  }
  return model_links_[model];
}

bool SegmentWriter::slot_in_use(std::uint32_t slot) const noexcept {
  return slot < slot_used_.size() && slot_used_[slot] != 0;
}

std::uint32_t SegmentWriter::spawn_robot(std::string_view name, std::uint32_t model,
                                         const RobotAttributeWords& attributes) {
  if (closed_) throw SegmentError(ErrorCode::kClosed, "segment '" + name_ + "' is closed");
  const std::uint32_t links = model_link_count(model);
  const auto free_slot = std::find(slot_used_.begin(), slot_used_.end(), 0);
  if (free_slot == slot_used_.end()) {
    throw SegmentError(ErrorCode::kCapacity, "segment '" + name_ + "' holds at most " +
                                                 std::to_string(layout_.capacities.robots) +
                                                 " robots");
  }
  const auto slot = static_cast<std::uint32_t>(free_slot - slot_used_.begin());
  RobotSlot record{};
  copy_fixed_text(record.name, name, "robot name");
  record.in_use = 1;
  record.model_index = model;
  record.spawn_id = next_spawn_id_++;

  std::byte* base = mapping_.bytes().data();
  std::byte* b = block(slot);
  auto& sync = *std::launder(reinterpret_cast<RobotSync*>(b));
  {
    const SeqlockWrite layout_change(header().layout_seq);
    store_words(base + layout_.robots_offset + std::uint64_t{slot} * sizeof(RobotSlot), &record,
                sizeof record);
    {
      const SeqlockWrite robot_change(sync.seq);
      sync.spawn_id.store(record.spawn_id, std::memory_order_relaxed);
      sync.change_count.store(0, std::memory_order_relaxed);
      sync.last_change_frame.store(frame_, std::memory_order_relaxed);
      sync.color_and_flags.store(attributes.color_and_flags, std::memory_order_relaxed);
      sync.producer.store(attributes.producer, std::memory_order_relaxed);
      sync.scalar_bits.store(attributes.scalar_bits, std::memory_order_relaxed);
      sync.episode.store(attributes.episode, std::memory_order_relaxed);
      PoseRecord identity{};
      identity.orientation[3] = 1.0f;
      auto* poses = b + layout_.poses_in_block;
      for (std::uint32_t l = 0; l < links; ++l) {
        store_words(poses + std::uint64_t{l} * sizeof(PoseRecord), &identity, sizeof identity);
      }
    }
    auto& high_water = header().robot_high_water;
    if (slot + 1 > high_water.load(std::memory_order_relaxed)) {
      high_water.store(slot + 1, std::memory_order_relaxed);
    }
  }

  slot_used_[slot] = 1;
  last_written_frame_[slot] = 0;
  return slot;
}

void SegmentWriter::remove_robot(std::uint32_t slot) {
  if (!slot_in_use(slot)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot slot " + std::to_string(slot) +
                                                        " is not in use");
  }
  std::byte* base = mapping_.bytes().data();
  auto& sync = *std::launder(reinterpret_cast<RobotSync*>(block(slot)));
  RobotSlot record{};
  {
    const SeqlockWrite layout_change(header().layout_seq);
    store_words(base + layout_.robots_offset + std::uint64_t{slot} * sizeof(RobotSlot), &record,
                sizeof record);
    const SeqlockWrite robot_change(sync.seq);
    sync.spawn_id.store(0, std::memory_order_relaxed);
  }
  slot_used_[slot] = 0;
}

void SegmentWriter::write_robot(std::uint32_t slot, std::span<const float> poses,
                                std::span<const std::uint64_t> dirty) {
  if (!slot_in_use(slot)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot slot " + std::to_string(slot) +
                                                        " is not in use");
  }
  const std::uint32_t words = layout_.dirty_words;
  const std::size_t links = poses.size() / 7;
  if (dirty.size() < words || poses.size() % 7 != 0 || links > layout_.capacities.links_per_robot) {
    throw SegmentError(ErrorCode::kInvalidArgument, "dirty mask or pose span has the wrong size");
  }
  std::byte* b = block(slot);
  auto& sync = *std::launder(reinterpret_cast<RobotSync*>(b));
  std::byte* pose_base = b + layout_.poses_in_block;

  const SeqlockWrite robot_change(sync.seq);
  std::uint64_t* entry = begin_change(slot);
  for (std::uint32_t w = 0; w < words; ++w) store_word(entry + w, load_word(entry + w) | dirty[w]);
  for (std::uint32_t w = 0; w < words; ++w) {
    std::uint64_t bits = dirty[w];
    while (bits != 0) {
      const std::uint32_t link = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
      bits &= bits - 1;
      if (link >= links) break;
      // 7 packed floats become one 32-byte record: three 8-byte words, then qw and the pad.
      const float* src = poses.data() + std::size_t{link} * 7;
      auto* dst = reinterpret_cast<std::uint64_t*>(pose_base + std::uint64_t{link} * sizeof(PoseRecord));
      std::uint64_t word[3];
      std::uint32_t last = 0;
      std::memcpy(word, src, sizeof word);
      std::memcpy(&last, src + 6, sizeof last);
      store_word(dst + 0, word[0]);
      store_word(dst + 1, word[1]);
      store_word(dst + 2, word[2]);
      store_word(dst + 3, last);
    }
  }
}

std::uint64_t* SegmentWriter::begin_change(std::uint32_t slot) {
  std::byte* b = block(slot);
  auto& sync = *std::launder(reinterpret_cast<RobotSync*>(b));
  auto* masks = reinterpret_cast<std::uint64_t*>(b + layout_.masks_in_block);
  const std::uint32_t words = layout_.dirty_words;
  const std::uint64_t building = frame_ + 1;
  std::uint64_t changes = sync.change_count.load(std::memory_order_relaxed);
  // A robot written twice in one frame gets one change: the union of both masks.
  const bool merge = last_written_frame_[slot] == building && changes > 0;
  if (!merge) ++changes;
  std::uint64_t* entry = masks + ((changes - 1) % layout_.capacities.dirty_history) * words;
  if (!merge) {
    for (std::uint32_t w = 0; w < words; ++w) store_word(entry + w, 0);
  }
  sync.change_count.store(changes, std::memory_order_relaxed);
  sync.last_change_frame.store(building, std::memory_order_relaxed);
  last_written_frame_[slot] = building;
  return entry;
}

void SegmentWriter::write_robot_attributes(std::uint32_t slot, const RobotAttributeWords& attributes) {
  if (closed_) throw SegmentError(ErrorCode::kClosed, "segment '" + name_ + "' is closed");
  if (!slot_in_use(slot)) {
    throw SegmentError(ErrorCode::kInvalidArgument, "robot slot " + std::to_string(slot) + " is not in use");
  }
  auto& sync = *std::launder(reinterpret_cast<RobotSync*>(block(slot)));
  const SeqlockWrite robot_change(sync.seq);
  begin_change(slot);  // a change with no dirty link: readers look at the robot again
  sync.color_and_flags.store(attributes.color_and_flags, std::memory_order_relaxed);
  sync.producer.store(attributes.producer, std::memory_order_relaxed);
  sync.scalar_bits.store(attributes.scalar_bits, std::memory_order_relaxed);
  sync.episode.store(attributes.episode, std::memory_order_relaxed);
}

void SegmentWriter::end_frame(double sim_time, std::uint64_t dirty_links,
                              std::uint64_t changed_robots) {
  SegmentHeader& h = header();
  const std::uint64_t now = monotonic_ns();
  {
    const SeqlockWrite frame_record(h.frame_seq);
    h.frame.store(frame_ + 1, std::memory_order_relaxed);
    h.publish_ns.store(now, std::memory_order_relaxed);
    h.sim_time_bits.store(std::bit_cast<std::uint64_t>(sim_time), std::memory_order_relaxed);
    h.frame_dirty_links.store(dirty_links, std::memory_order_relaxed);
    h.frame_changed_robots.store(changed_robots, std::memory_order_relaxed);
  }
  h.heartbeat_ns.store(now, std::memory_order_relaxed);
  ++frame_;
}

void SegmentWriter::heartbeat() noexcept {
  if (closed_ || mapping_.bytes().empty()) return;
  header().heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

void SegmentWriter::close(bool unlink) noexcept {
  if (closed_ || mapping_.bytes().empty()) return;
  closed_ = true;
  header().closed_unix_ns.store(unix_time_ns(), std::memory_order_relaxed);
  header().state.store(static_cast<std::uint32_t>(SegmentState::kClosed), std::memory_order_release);
  if (unlink) mapping_.unlink_if_still_named();
}

}  // namespace fleetscope::ipc
