#include "fleetscope/render/fleet_scene.hpp"

#include <spdlog/spdlog.h>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkPolyData.h>
#include <vtkRenderer.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <bit>
#include <map>
#include <set>
#include <stdexcept>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/source_registry.hpp"
#include "link_batch.hpp"

namespace fleetscope::render {
namespace {

constexpr std::array<std::uint8_t, 4> kDeadColor{120, 120, 120, 255};
constexpr std::array<std::uint8_t, 4> kStalledColor{240, 160, 20, 255};  // amber
constexpr std::uint64_t kFadeCheckNs = 250'000'000ULL;
// What one hostile or careless segment may cost the viewer in stored meshes: each distinct mesh
// is a geometry and an instanced batch, and every triangle is rasterised in software here.
constexpr std::size_t kMaxStoredMeshesPerSource = 1024;
constexpr std::uint64_t kMaxStoredTriangles = 20'000'000;

// Half way to a dull grey: a robot nobody has updated for a while.
std::array<std::uint8_t, 4> faded(std::array<std::uint8_t, 4> c) {
  return {static_cast<std::uint8_t>((c[0] + 90) / 2), static_cast<std::uint8_t>((c[1] + 92) / 2),
          static_cast<std::uint8_t>((c[2] + 98) / 2), c[3]};
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}


std::array<std::uint8_t, 4> highlighted(std::array<std::uint8_t, 4> c) {
  return {static_cast<std::uint8_t>((c[0] + 255) / 2), static_cast<std::uint8_t>((c[1] + 230) / 2),
          static_cast<std::uint8_t>(c[2] / 3), c[3]};
}

// What decides which batch draws an instance: its geometry, and whether it is translucent (a
// translucent instance must not share a batch with opaque ones: VTK would draw the whole batch in
// the translucent pass, and every opaque visual in it would look see-through).
struct BatchKey {
  GeometryKey geometry;
  bool translucent = false;
  auto operator<=>(const BatchKey&) const = default;
};

// One visual of one robot: an instance in a batch.
struct LinkDraw {
  LinkBatch* batch = nullptr;
  GeometryKey key;
  std::uint32_t link = 0;  // the link it belongs to
  std::uint32_t handle = 0;
  Eigen::Vector3f offset_position;
  Eigen::Quaternionf offset_orientation;
  std::array<float, 3> scale{};
  std::array<std::uint8_t, 4> rgba{};
  std::array<double, 6> local_bounds{};  // of the unit geometry, before scale
  InstancePose world{};
  std::uint64_t changed_in_frame = ~0ULL;  // the frame count when last counted as changed
};

struct RobotDraw {
  std::uint64_t spawn_id = 0;
  std::string name;
  std::uint32_t model = 0;
  std::uint32_t link_count = 0;
  bool visible = true;
  ipc::RobotAttributeWords attributes;
  std::uint64_t last_change_ns = 0;  // when a pose or attribute of it last arrived
  bool faded = false;
  // Every visual, grouped by link: link l's are links[link_first[l] .. link_first[l + 1]).
  std::vector<LinkDraw> links;
  std::vector<std::uint32_t> link_first;
};

// What the scene draws of one source of the registry (which owns the source itself).
struct Source {
  ipc::Source* source = nullptr;  // borrowed from the registry
  std::string name;
  std::uint64_t generation = 0;  // of the source's producer these robots were drawn from
  std::vector<std::optional<RobotDraw>> robots;  // by slot
  std::vector<ipc::ModelSnapshot> models;
  ipc::WriterState state = ipc::WriterState::kLive;  // as drawn (grey when gone)
  std::string logged_error;
  // Stored meshes of this generation: their content key (0: refused, drawn as nothing).
  std::map<std::uint32_t, std::uint64_t> mesh_keys;
};

InstancePose compose(const ipc::PoseRecord& link, const LinkDraw& d) {
  const Eigen::Quaternionf q(link.orientation[3], link.orientation[0], link.orientation[1], link.orientation[2]);
  const Eigen::Vector3f p(link.position[0], link.position[1], link.position[2]);
  const Eigen::Vector3f wp = p + q * d.offset_position;
  const Eigen::Quaternionf wq = q * d.offset_orientation;
  return InstancePose{{wp.x(), wp.y(), wp.z()}, {wq.x(), wq.y(), wq.z(), wq.w()}, d.scale};
}

// Ray against the instance's oriented bounding box (slab test in its local frame).
std::optional<double> ray_hit(const LinkDraw& d, const Eigen::Vector3d& origin, const Eigen::Vector3d& dir) {
  const auto& w = d.world;
  const Eigen::Quaterniond q(w.orientation[3], w.orientation[0], w.orientation[1], w.orientation[2]);
  const Eigen::Vector3d p(w.position[0], w.position[1], w.position[2]);
  const Eigen::Vector3d o = q.conjugate() * (origin - p);
  const Eigen::Vector3d v = q.conjugate() * dir;
  double t0 = 0.0, t1 = std::numeric_limits<double>::max();
  for (int axis = 0; axis < 3; ++axis) {
    const double lo = d.local_bounds[2 * axis] * w.scale[axis];
    const double hi = d.local_bounds[2 * axis + 1] * w.scale[axis];
    if (std::abs(v[axis]) < 1e-12) {
      if (o[axis] < lo || o[axis] > hi) return std::nullopt;
      continue;
    }
    double a = (lo - o[axis]) / v[axis], b = (hi - o[axis]) / v[axis];
    if (a > b) std::swap(a, b);
    t0 = std::max(t0, a);
    t1 = std::min(t1, b);
    if (t0 > t1) return std::nullopt;
  }
  return t0;
}

}  // namespace

struct FleetScene::Impl {
  // Held, not borrowed: batches remove their actors from it when the scene goes away.
  vtkSmartPointer<vtkRenderer> renderer;
  SceneSettings settings;
  GeometryLibrary geometry;
  std::map<BatchKey, std::unique_ptr<LinkBatch>> batches;
  std::unique_ptr<ipc::SourceRegistry> own_registry;  // when no registry was given
  ipc::SourceRegistry* registry = nullptr;
  std::uint64_t registry_revision = ~0ULL;  // of the registry when the draws last matched it
  bool layout_news = false;  // draws changed outside update() (attach): the next update says so
  std::vector<std::unique_ptr<Source>> sources;
  bool keep_dead = true;
  std::optional<PickResult> selected;
  std::set<std::pair<std::string, std::uint32_t>> group;  // highlighted together (a worker's robots)
  std::map<std::uint32_t, WorkerHealth> worker_health;
  ColorMode color_mode = ColorMode::kModel;
  ScalarLegend legend;
  std::uint64_t fade_checked_ns = 0;
  std::uint64_t stored_triangles = 0;  // of the stored meshes read so far (a budget, never given back)
  // Distinct links changed since the last take_changed_links(): a link updated by several
  // writer frames before one rendered frame counts once.
  std::uint64_t frames_taken = 0;
  std::uint64_t links_changed_in_frame = 0;

  LinkBatch* batch_for(const GeometryKey& key, bool translucent) {
    auto& batch = batches[BatchKey{key, translucent}];
    if (!batch) {
      auto geo = geometry.get(key);
      batch = settings.mode == BatchMode::kActorPerLink
                  ? make_actor_batch(renderer, geo)
                  : make_instanced_batch(renderer, geo,
                                         BatchSettings{settings.culling_and_lod, settings.lod_distance, settings.lod_reduction});
    }
    return batch.get();
  }

  void commit_all() {
    for (auto& [key, batch] : batches) batch->commit();
  }

  // Runs at the start of every render of our renderer: the level of detail follows the camera.
  static void on_render_start(vtkObject*, unsigned long, void* client, void*) {
    auto* self = static_cast<Impl*>(client);
    vtkCamera* cam = self->renderer->GetActiveCamera();
    const int* size = self->renderer->GetSize();
    LodContext ctx;
    cam->GetPosition(ctx.camera.data());
    ctx.parallel = cam->GetParallelProjection() != 0;
    const double half_height = std::max(size[1], 1) / 2.0;
    ctx.pixels_per_unit = ctx.parallel
                              ? half_height / std::max(cam->GetParallelScale(), 1e-9)
                              : half_height / std::tan(cam->GetViewAngle() * 3.14159265358979 / 360.0);
    ctx.point_radius_px = self->settings.point_radius_px;
    bool translucent = false;
    for (auto& [key, batch] : self->batches) {
      batch->apply_lod(ctx);
      translucent = translucent || (key.translucent && batch->visible_count() > 0);
    }
    // Depth peeling sorts translucent visuals per pixel; its extra passes are wanted only when
    // something translucent is drawn (geometry_bench: 100 x 30 links, 1 in 10 translucent,
    // 13 ms a frame without peeling, 20 ms with, on llvmpipe).
    self->renderer->SetUseDepthPeeling(translucent ? 1 : 0);
  }
  unsigned long render_observer = 0;

  Source* find(const std::string& name) const {
    for (const auto& s : sources) {
      if (s->name == name) return s.get();
    }
    return nullptr;
  }

  // Makes the drawn sources match the registry's: draws for new sources, none for detached
  // ones, redrawn robots for a restarted producer (a new generation). Returns whether anything
  // changed.
  bool sync_sources() {
    bool changed = false;
    if (registry->revision() != registry_revision) {
      registry_revision = registry->revision();
      for (auto it = sources.begin(); it != sources.end();) {
        if (registry->find((*it)->name) == (*it)->source) {
          ++it;
          continue;
        }
        drop_all(**it);
        if (selected && selected->segment == (*it)->name) selected.reset();
        it = sources.erase(it);
        changed = true;
      }
      for (const auto& src : registry->sources()) {
        if (find(src->name())) continue;
        auto draw = std::make_unique<Source>();
        draw->source = src.get();
        draw->name = src->name();
        draw->generation = src->generation();
        draw->state = src->state();
        sync_robots(*draw);
        sources.push_back(std::move(draw));
        changed = true;
      }
    }
    for (auto& s : sources) {
      if (s->generation == s->source->generation()) continue;
      spdlog::info("segment '{}' has a new writer (pid {}); re-attached", s->name, s->source->writer_pid());
      drop_all(*s);
      s->mesh_keys.clear();
      s->generation = s->source->generation();
      s->state = s->source->state();
      sync_robots(*s);
      changed = true;
    }
    return changed;
  }

  void drop_robot(RobotDraw& r) {
    for (auto& l : r.links) l.batch->remove(l.handle);
    r.links.clear();
  }

  // The content key of a stored mesh of `s`, its geometry built on first use; 0 when the mesh
  // is refused (corrupt, or beyond what the renderer takes), warned once per mesh.
  std::uint64_t mesh_key(Source& s, std::uint32_t index) {
    if (const auto it = s.mesh_keys.find(index); it != s.mesh_keys.end()) return it->second;
    std::uint64_t key = 0;
    try {
      if (s.mesh_keys.size() >= kMaxStoredMeshesPerSource) {
        throw std::runtime_error("the source has more than " + std::to_string(kMaxStoredMeshesPerSource) +
                                 " stored meshes, the most the viewer draws for one source");
      }
      const auto mesh = s.source->mesh(index);
      if (stored_triangles + mesh->triangle_count() > kMaxStoredTriangles) {
        throw std::runtime_error("stored meshes of all sources would exceed " + std::to_string(kMaxStoredTriangles) +
                                 " triangles, the most the viewer keeps");
      }
      stored_triangles += mesh->triangle_count();
      key = mesh_content_key(*mesh);
      GeometryKey gk;
      gk.shape = static_cast<std::uint32_t>(ipc::Shape::kInlineMesh);
      gk.content = key;
      geometry.get(gk, *mesh);
    } catch (const std::exception& e) {
      spdlog::warn("a mesh of segment '{}' is not drawn: {}", s.name, e.what());
      key = 0;
    }
    s.mesh_keys[index] = key;
    return key;
  }

  void drop_all(Source& s) {
    for (auto& r : s.robots) {
      if (r) drop_robot(*r);
      r.reset();
    }
  }

  // The model's colour, or the robot's own (format 1.3); grey once the writer is gone (keeping
  // the alpha), highlighted when selected.
  std::array<std::uint8_t, 4> color_of(const Source& s, std::uint32_t slot, const RobotDraw& r, const LinkDraw& l) const {
    std::array<std::uint8_t, 4> c = l.rgba;
    if ((r.attributes.flags() & ipc::kRobotColorOverride) != 0) {
      const auto word = static_cast<std::uint32_t>(r.attributes.color_and_flags);
      c = {static_cast<std::uint8_t>(word), static_cast<std::uint8_t>(word >> 8), static_cast<std::uint8_t>(word >> 16),
           static_cast<std::uint8_t>(word >> 24)};
    }
    const std::uint32_t flags = r.attributes.flags();
    if (color_mode == ColorMode::kScalar && (flags & ipc::kRobotHasScalar) != 0 && legend.any) {
      const double v = std::bit_cast<double>(r.attributes.scalar_bits);
      const double span = legend.high - legend.low;
      const auto sc = scalar_color(span > 0 ? (v - legend.low) / span : 0.5);
      c = {sc[0], sc[1], sc[2], c[3]};
    }
    if ((flags & ipc::kRobotHasProducer) != 0) {
      const auto it = worker_health.find(static_cast<std::uint32_t>(r.attributes.producer));
      const WorkerHealth health = it == worker_health.end() ? WorkerHealth::kUnknown : it->second;
      if (health == WorkerHealth::kDead) c = {kDeadColor[0], kDeadColor[1], kDeadColor[2], c[3]};
      if (health == WorkerHealth::kStalled) c = {kStalledColor[0], kStalledColor[1], kStalledColor[2], c[3]};
    }
    if (r.faded) c = faded(c);
    if (ipc::writer_is_gone(s.state)) c = {kDeadColor[0], kDeadColor[1], kDeadColor[2], c[3]};
    if ((selected && selected->segment == s.name && selected->slot == slot) || group.contains({s.name, slot})) {
      c = highlighted(c);
    }
    return c;
  }

  // The range of the robots' scalars; true when it changed.
  bool update_legend() {
    ScalarLegend l;
    for (const auto& s : sources) {
      for (const auto& r : s->robots) {
        if (!r || (r->attributes.flags() & ipc::kRobotHasScalar) == 0) continue;
        const double v = std::bit_cast<double>(r->attributes.scalar_bits);
        if (!std::isfinite(v)) continue;
        l.low = l.any ? std::min(l.low, v) : v;
        l.high = l.any ? std::max(l.high, v) : v;
        l.any = true;
      }
    }
    const bool changed = l.any != legend.any || l.low != legend.low || l.high != legend.high;
    legend = l;
    return changed;
  }

  // Robots not updated for robot_fade_after_ns fade; one that moves again comes back at once.
  bool update_fades(std::uint64_t now) {
    if (settings.robot_fade_after_ns == 0) return false;
    bool changed = false;
    for (auto& s : sources) {
      // A replay held at a moment is not a writer gone quiet: a recording's robots never fade.
      const bool replayed = s->source->kind() == "recording";
      for (std::uint32_t slot = 0; slot < s->robots.size(); ++slot) {
        auto& r = s->robots[slot];
        if (!r) continue;
        const bool fade = !replayed && (r->attributes.flags() & ipc::kRobotStatic) == 0 &&
                          now - r->last_change_ns > settings.robot_fade_after_ns;
        if (fade == r->faded) continue;
        r->faded = fade;
        recolor_robot(*s, slot);
        changed = true;
      }
    }
    return changed;
  }

  void recolor_all() {
    for (auto& s : sources) recolor(*s);
  }

  // Gives the instance its colour, moving it between the opaque and the translucent batch of its
  // geometry when its alpha crosses 255.
  void paint(LinkDraw& l, std::array<std::uint8_t, 4> c, bool visible) {
    const bool translucent = c[3] < 255;
    LinkBatch* wanted = batch_for(l.key, translucent);
    if (l.batch == wanted) {
      l.batch->set_color(l.handle, c);
      return;
    }
    if (l.batch) l.batch->remove(l.handle);
    l.batch = wanted;
    l.handle = wanted->add(l.world, c);
    if (!visible) wanted->set_visible(l.handle, false);
  }

  void recolor_robot(Source& s, std::uint32_t slot) {
    if (slot >= s.robots.size() || !s.robots[slot]) return;
    RobotDraw& r = *s.robots[slot];
    for (auto& l : r.links) paint(l, color_of(s, slot, r, l), r.visible);
  }

  void recolor(Source& s) {
    for (std::uint32_t slot = 0; slot < s.robots.size(); ++slot) recolor_robot(s, slot);
  }

  // Makes the drawn robots of `s` match its layout: only robots that appeared, disappeared or
  // were respawned are touched.
  void sync_robots(Source& s) {
    const ipc::LayoutSnapshot& layout = s.source->layout();
    s.models = layout.models;
    if (layout.robots.empty()) s.mesh_keys.clear();
    std::size_t slots = 0;
    for (const auto& robot : layout.robots) slots = std::max<std::size_t>(slots, robot.slot + 1);
    if (s.robots.size() < slots) s.robots.resize(slots);
    std::vector<std::uint8_t> present(s.robots.size(), 0);
    for (const auto& robot : layout.robots) {
      present[robot.slot] = 1;
      auto& drawn = s.robots[robot.slot];
      if (drawn && drawn->spawn_id == robot.spawn_id) continue;
      if (drawn) drop_robot(*drawn);
      drawn.emplace();
      drawn->spawn_id = robot.spawn_id;
      drawn->name = robot.name;
      drawn->model = robot.model;
      drawn->link_count = robot.link_count;
      drawn->attributes = s.source->attributes(robot.slot);
      drawn->last_change_ns = now_ns();
      const auto poses = s.source->poses(robot.slot);
      // Visuals grouped by link (the format does not promise they come in link order).
      std::vector<const ipc::ModelVisual*> visuals;
      for (const auto& mv : layout.models[robot.model].all_visuals) visuals.push_back(&mv);
      std::stable_sort(visuals.begin(), visuals.end(), [](auto* a, auto* b) { return a->link < b->link; });
      drawn->link_first.assign(robot.link_count + 1, 0);
      for (const ipc::ModelVisual* mv : visuals) {
        const ipc::LinkVisual& v = mv->visual;
        std::uint64_t content = 0;
        if (v.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh)) {
          content = mesh_key(s, mv->mesh);
          if (content == 0) continue;  // refused (warned once): not drawn
        }
        const GeometryUse use = geometry_for(v, content);
        LinkDraw d;
        d.key = use.key;
        d.link = mv->link;
        d.offset_position = Eigen::Vector3f(v.offset_position[0], v.offset_position[1], v.offset_position[2]);
        d.offset_orientation = Eigen::Quaternionf(v.offset_orientation[3], v.offset_orientation[0],
                                                  v.offset_orientation[1], v.offset_orientation[2]);
        if (d.offset_orientation.norm() < 1e-6f) d.offset_orientation = Eigen::Quaternionf::Identity();
        d.offset_orientation.normalize();
        d.scale = use.scale;
        d.rgba = {v.rgba[0], v.rgba[1], v.rgba[2], v.rgba[3]};
        geometry.get(use.key)->GetBounds(d.local_bounds.data());
        ipc::PoseRecord identity{};
        identity.orientation[3] = 1.0f;
        d.world = compose(d.link < poses.size() ? poses[d.link] : identity, d);
        paint(d, color_of(s, robot.slot, *drawn, d), true);
        drawn->links.push_back(d);
        ++drawn->link_first[d.link + 1];
      }
      for (std::uint32_t l = 0; l < robot.link_count; ++l) drawn->link_first[l + 1] += drawn->link_first[l];
    }
    for (std::uint32_t slot = 0; slot < s.robots.size(); ++slot) {
      if (!present[slot] && s.robots[slot]) {
        drop_robot(*s.robots[slot]);
        s.robots[slot].reset();
      }
    }
  }
};

FleetScene::FleetScene(vtkRenderer* renderer, const SceneSettings& settings)
    : FleetScene(renderer, nullptr, settings) {}

FleetScene::FleetScene(vtkRenderer* renderer, ipc::SourceRegistry& registry, const SceneSettings& settings)
    : FleetScene(renderer, &registry, settings) {}

FleetScene::FleetScene(vtkRenderer* renderer, ipc::SourceRegistry* registry, const SceneSettings& settings)
    : impl_(std::make_unique<Impl>()) {
  if (!registry) {
    impl_->own_registry = std::make_unique<ipc::SourceRegistry>(ipc::RegistryOptions{.reader = {}, .stale_after_ns = settings.stale_after_ns, .drop_dead = false});
    registry = impl_->own_registry.get();
  }
  impl_->registry = registry;
  impl_->renderer = renderer;
  impl_->settings = settings;
  // Translucent visuals are sorted per pixel by depth peeling (dual depth peeling in VTK 9), so
  // they blend right among themselves and over opaque ones; opaque instances are never in a
  // translucent batch (BatchKey). Turned on per frame only when something translucent is drawn
  // (on_render_start).
  renderer->SetMaximumNumberOfPeels(4);
  renderer->SetOcclusionRatio(0.05);
  auto callback = vtkSmartPointer<vtkCallbackCommand>::New();
  callback->SetCallback(&Impl::on_render_start);
  callback->SetClientData(impl_.get());
  impl_->render_observer = renderer->AddObserver(vtkCommand::StartEvent, callback);
}

FleetScene::~FleetScene() {
  impl_->renderer->RemoveObserver(impl_->render_observer);
  // No instance is removed one by one: the batches go whole (they take their actors out of the
  // renderer), after the sources (Impl's members go in reverse order).
}

void FleetScene::attach(const std::string& segment) {
  impl_->registry->attach(segment);
  if (impl_->sync_sources()) impl_->layout_news = true;
}

void FleetScene::detach(const std::string& segment) {
  impl_->registry->detach(segment);
  if (impl_->sync_sources()) impl_->commit_all();
}

bool FleetScene::attached(const std::string& segment) const { return impl_->registry->attached(segment); }

void FleetScene::set_keep_dead_robots(bool keep) { impl_->registry->set_drop_dead(!keep); }

ipc::SourceRegistry& FleetScene::registry() { return *impl_->registry; }

UpdateResult FleetScene::update() {
  UpdateResult result;
  const auto start = std::chrono::steady_clock::now();
  // Meshes read in the background since the last update replace their placeholder boxes.
  for (const auto& [key, geo] : impl_->geometry.poll_ready()) {
    for (const bool translucent : {false, true}) {
      const auto it = impl_->batches.find(BatchKey{key, translucent});
      if (it != impl_->batches.end()) it->second->set_geometry(geo);
    }
    for (auto& s : impl_->sources) {
      for (auto& r : s->robots) {
        if (!r) continue;
        for (auto& l : r->links) {
          if (l.key == key) geo->GetBounds(l.local_bounds.data());
        }
      }
    }
    result.changed = true;
  }
  if (impl_->registry->refresh().sources_changed) result.layout_changed = true;
  if (impl_->sync_sources() || std::exchange(impl_->layout_news, false)) result.layout_changed = result.changed = true;
  for (auto& sp : impl_->sources) {
    Source& s = *sp;
    ipc::Source& src = *s.source;
    if (src.state() != s.state) {
      const bool was_gone = ipc::writer_is_gone(s.state);
      s.state = src.state();
      result.layout_changed = true;
      if (ipc::writer_is_gone(s.state) != was_gone) {
        impl_->recolor(s);
        result.changed = true;
      }
    }
    const ipc::IngestStats stats = src.ingest();
    if (!src.error().empty()) {
      if (s.logged_error != src.error()) spdlog::warn("{}", src.error());
      s.logged_error = src.error();
      continue;
    }
    s.logged_error.clear();
    if (stats.layout_changed) {
      impl_->sync_robots(s);
      result.layout_changed = result.changed = true;
    }
    const std::uint64_t now = now_ns();
    bool scalars_changed = false;
    for (const std::uint32_t slot : src.attribute_changes()) {
      if (slot >= s.robots.size() || !s.robots[slot]) continue;
      RobotDraw& r = *s.robots[slot];
      scalars_changed = scalars_changed || r.attributes.scalar_bits != src.attributes(slot).scalar_bits ||
                        r.attributes.flags() != src.attributes(slot).flags();
      r.attributes = src.attributes(slot);
      r.last_change_ns = now;
      r.faded = false;
      impl_->recolor_robot(s, slot);
      result.changed = true;
    }
    // A new scalar range recolours every robot coloured by its scalar.
    if (scalars_changed && impl_->update_legend() && impl_->color_mode == ColorMode::kScalar) impl_->recolor_all();
    for (const ipc::LinkChange& c : src.changes()) {
      auto& robot = s.robots[c.slot];
      if (!robot || c.link >= robot->link_count) continue;
      robot->last_change_ns = now;
      if (robot->faded) {
        robot->faded = false;
        impl_->recolor_robot(s, c.slot);
      }
      const ipc::PoseRecord& pose = src.poses(c.slot)[c.link];
      bool counted = false;
      for (std::uint32_t i = robot->link_first[c.link]; i < robot->link_first[c.link + 1]; ++i) {
        LinkDraw& d = robot->links[i];
        d.world = compose(pose, d);
        d.batch->set_pose(d.handle, d.world);
        if (!counted && d.changed_in_frame != impl_->frames_taken) ++impl_->links_changed_in_frame;
        counted = true;
        d.changed_in_frame = impl_->frames_taken;
      }
    }
    if (!src.changes().empty()) {
      result.changed = true;
      result.dirty_links += src.changes().size();
      // Pose-to-screen latency is a live writer's: a replayed frame was published long ago.
      if (src.kind() != "recording") result.newest_publish_ns = std::max(result.newest_publish_ns, stats.publish_ns);
    }
  }
  const std::uint64_t now = now_ns();
  if (now - impl_->fade_checked_ns > kFadeCheckNs) {
    impl_->fade_checked_ns = now;
    if (impl_->update_fades(now)) result.changed = true;
  }
  if (result.changed) impl_->commit_all();
  result.ingest_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::vector<SourceInfo> FleetScene::sources() const {
  std::vector<SourceInfo> out;
  for (const auto& s : impl_->sources) {
    SourceInfo info;
    info.name = s->name;
    info.state = s->state;
    info.writer_pid = s->source->writer_pid();
    try {
      info.frame = s->source->frame().frame;
    } catch (const ipc::SegmentError&) {
      // Truncated: its error says so.
    }
    info.error = s->source->error();
    for (const auto& r : s->robots) {
      if (!r) continue;
      ++info.robots;
      info.links += r->link_count;
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<RobotInfo> FleetScene::robots() const {
  std::vector<RobotInfo> out;
  for (const auto& s : impl_->sources) {
    for (std::uint32_t slot = 0; slot < s->robots.size(); ++slot) {
      const auto& r = s->robots[slot];
      if (!r) continue;
      RobotInfo info;
      info.segment = s->name;
      info.slot = slot;
      info.name = r->name;
      info.visible = r->visible;
      if (r->model < s->models.size()) {
        info.model = s->models[r->model].name;
        for (const auto& v : s->models[r->model].visuals) info.links.emplace_back(v.link_name);
      }
      const ipc::RobotAttributeWords& a = r->attributes;
      const std::uint32_t flags = a.flags();
      if ((flags & ipc::kRobotHasProducer) != 0) {
        const auto worker = static_cast<std::uint32_t>(a.producer), env = static_cast<std::uint32_t>(a.producer >> 32);
        if (worker != ~0u) info.worker = worker;
        if (env != ~0u) info.environment = env;
      }
      if ((flags & ipc::kRobotHasScalar) != 0) info.scalar = std::bit_cast<double>(a.scalar_bits);
      if ((flags & ipc::kRobotHasEpisode) != 0) {
        info.episode_steps = static_cast<std::uint32_t>(a.episode);
        info.episodes = static_cast<std::uint32_t>(a.episode >> 32);
      }
      info.is_static = (flags & ipc::kRobotStatic) != 0;
      info.faded = r->faded;
      out.push_back(std::move(info));
    }
  }
  return out;
}

void FleetScene::set_robot_visible(const std::string& segment, std::uint32_t slot, bool visible) {
  Source* s = impl_->find(segment);
  if (!s || slot >= s->robots.size() || !s->robots[slot]) return;
  s->robots[slot]->visible = visible;
  for (auto& l : s->robots[slot]->links) l.batch->set_visible(l.handle, visible);
  impl_->commit_all();
}

std::optional<PickResult> FleetScene::pick(int x, int y) const {
  vtkRenderer* ren = impl_->renderer;
  double near[4], far[4];
  ren->SetDisplayPoint(x, y, 0.0);
  ren->DisplayToWorld();
  ren->GetWorldPoint(near);
  ren->SetDisplayPoint(x, y, 1.0);
  ren->DisplayToWorld();
  ren->GetWorldPoint(far);
  if (near[3] == 0.0 || far[3] == 0.0) return std::nullopt;
  const Eigen::Vector3d origin(near[0] / near[3], near[1] / near[3], near[2] / near[3]);
  const Eigen::Vector3d dir = (Eigen::Vector3d(far[0] / far[3], far[1] / far[3], far[2] / far[3]) - origin).normalized();
  std::optional<PickResult> best;
  double best_t = std::numeric_limits<double>::max();
  for (const auto& s : impl_->sources) {
    for (std::uint32_t slot = 0; slot < s->robots.size(); ++slot) {
      const auto& r = s->robots[slot];
      if (!r || !r->visible) continue;
      for (const LinkDraw& visual : r->links) {
        const std::uint32_t link = visual.link;
        const auto t = ray_hit(visual, origin, dir);
        if (!t || *t >= best_t) continue;
        best_t = *t;
        PickResult p;
        p.segment = s->name;
        p.slot = slot;
        p.robot = r->name;
        p.link = link;
        if (r->model < s->models.size() && link < s->models[r->model].visuals.size()) {
          p.link_name = s->models[r->model].visuals[link].link_name;
        }
        const auto poses = s->source->poses(slot);
        if (link < poses.size()) {
          std::copy_n(poses[link].position, 3, p.pose.position.begin());
          std::copy_n(poses[link].orientation, 4, p.pose.orientation.begin());
        }
        best = p;
      }
    }
  }
  return best;
}

void FleetScene::select(const std::optional<PickResult>& pick) {
  const auto previous = impl_->selected;
  impl_->selected = pick;
  for (const std::optional<PickResult>& p : {previous, impl_->selected}) {
    if (!p) continue;
    if (Source* s = impl_->find(p->segment)) impl_->recolor_robot(*s, p->slot);
  }
  impl_->commit_all();
}

std::optional<PickResult> FleetScene::selection() const { return impl_->selected; }

namespace {
void grow(std::array<double, 6>& b, const LinkDraw& l) {
  const double r = std::max({l.scale[0], l.scale[1], l.scale[2], 0.05f}) *
                   std::max({std::abs(l.local_bounds[0]), std::abs(l.local_bounds[1]), std::abs(l.local_bounds[3]),
                             std::abs(l.local_bounds[5]), 0.5});
  for (int a = 0; a < 3; ++a) {
    b[2 * a] = std::min(b[2 * a], l.world.position[a] - r);
    b[2 * a + 1] = std::max(b[2 * a + 1], l.world.position[a] + r);
  }
}
constexpr std::array<double, 6> kEmpty{1e300, -1e300, 1e300, -1e300, 1e300, -1e300};
}  // namespace

std::optional<std::array<double, 6>> FleetScene::robot_bounds(const std::string& segment, std::uint32_t slot) const {
  const Source* s = impl_->find(segment);
  if (!s || slot >= s->robots.size() || !s->robots[slot] || s->robots[slot]->links.empty()) return std::nullopt;
  auto b = kEmpty;
  for (const auto& l : s->robots[slot]->links) grow(b, l);
  return b;
}

std::optional<std::array<double, 6>> FleetScene::scene_bounds() const {
  // Planes are floors and walls (a simulation's ground is often 100 m wide): framing them would
  // shrink the robots to a few pixels. They count only when there is nothing else.
  const auto plane = static_cast<std::uint32_t>(ipc::Shape::kPlane);
  for (const bool with_planes : {false, true}) {
    auto b = kEmpty;
    bool any = false;
    for (const auto& s : impl_->sources) {
      for (const auto& r : s->robots) {
        if (!r || !r->visible) continue;
        for (const auto& l : r->links) {
          if (!with_planes && l.key.shape == plane) continue;
          grow(b, l);
          any = true;
        }
      }
    }
    if (any) return b;
  }
  return std::nullopt;
}

namespace {
// Sum of one figure over all batches.
template <typename Batches, typename Figure>
std::uint64_t sum_over(const Batches& batches, Figure figure) {
  std::uint64_t n = 0;
  for (const auto& [key, batch] : batches) n += (batch.get()->*figure)();
  return n;
}
}  // namespace

std::array<std::uint8_t, 4> scalar_color(double t) {
  // A blue - teal - yellow ramp (close to viridis), readable on the dark background.
  static constexpr std::array<std::array<double, 3>, 5> kStops{{{68, 1, 84}, {59, 82, 139}, {33, 145, 140},
                                                                {94, 201, 98}, {253, 231, 37}}};
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double x = t * (kStops.size() - 1);
  const auto i = std::min<std::size_t>(static_cast<std::size_t>(x), kStops.size() - 2);
  const double f = x - static_cast<double>(i);
  std::array<std::uint8_t, 4> c{0, 0, 0, 255};
  for (int k = 0; k < 3; ++k) c[k] = static_cast<std::uint8_t>(std::lround(kStops[i][k] * (1 - f) + kStops[i + 1][k] * f));
  return c;
}

std::optional<RobotInfo> FleetScene::robot(const std::string& segment, std::uint32_t slot) const {
  for (const auto& info : robots()) {
    if (info.segment == segment && info.slot == slot) return info;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::uint32_t>> FleetScene::robots_of_worker(std::uint32_t worker) const {
  std::vector<std::pair<std::string, std::uint32_t>> out;
  for (const auto& s : impl_->sources) {
    for (std::uint32_t slot = 0; slot < s->robots.size(); ++slot) {
      const auto& r = s->robots[slot];
      if (r && (r->attributes.flags() & ipc::kRobotHasProducer) != 0 &&
          static_cast<std::uint32_t>(r->attributes.producer) == worker) {
        out.emplace_back(s->name, slot);
      }
    }
  }
  return out;
}

void FleetScene::highlight(const std::vector<std::pair<std::string, std::uint32_t>>& robots) {
  auto previous = std::exchange(impl_->group, {robots.begin(), robots.end()});
  previous.insert(robots.begin(), robots.end());
  for (const auto& [segment, slot] : previous) {
    if (Source* s = impl_->find(segment)) impl_->recolor_robot(*s, slot);
  }
  impl_->commit_all();
}

std::optional<std::array<double, 6>> FleetScene::bounds_of(const std::vector<std::pair<std::string, std::uint32_t>>& robots) const {
  std::optional<std::array<double, 6>> out;
  for (const auto& [segment, slot] : robots) {
    const auto b = robot_bounds(segment, slot);
    if (!b) continue;
    if (!out) {
      out = b;
      continue;
    }
    for (int a = 0; a < 3; ++a) {
      (*out)[2 * a] = std::min((*out)[2 * a], (*b)[2 * a]);
      (*out)[2 * a + 1] = std::max((*out)[2 * a + 1], (*b)[2 * a + 1]);
    }
  }
  return out;
}

void FleetScene::set_worker_health(const std::map<std::uint32_t, WorkerHealth>& health) {
  if (health == impl_->worker_health) return;
  impl_->worker_health = health;
  impl_->recolor_all();
  impl_->commit_all();
}

void FleetScene::set_color_mode(ColorMode mode) {
  if (mode == impl_->color_mode) return;
  impl_->color_mode = mode;
  impl_->update_legend();
  impl_->recolor_all();
  impl_->commit_all();
}

ColorMode FleetScene::color_mode() const { return impl_->color_mode; }

ScalarLegend FleetScene::scalar_legend() const { return impl_->legend; }

bool FleetScene::has_ground_plane() const {
  const auto plane = static_cast<std::uint32_t>(ipc::Shape::kPlane);
  for (const auto& s : impl_->sources) {
    for (const auto& r : s->robots) {
      if (!r || !r->visible) continue;
      for (const auto& l : r->links) {
        if (l.key.shape != plane) continue;
        const auto& q = l.world.orientation;
        // z of the plane's normal (local +z) in the world: 1 - 2(qx^2 + qy^2).
        const float nz = 1.0f - 2.0f * (q[0] * q[0] + q[1] * q[1]);
        if (std::abs(nz) > 0.98f) return true;
      }
    }
  }
  return false;
}

std::uint64_t FleetScene::take_changed_links() {
  ++impl_->frames_taken;
  return std::exchange(impl_->links_changed_in_frame, 0);
}

std::uint64_t FleetScene::instance_count() const { return sum_over(impl_->batches, &LinkBatch::visible_count); }
std::uint64_t FleetScene::point_count() const { return sum_over(impl_->batches, &LinkBatch::point_count); }
std::size_t FleetScene::actor_count() const { return sum_over(impl_->batches, &LinkBatch::actor_count); }
std::size_t FleetScene::mapper_count() const { return sum_over(impl_->batches, &LinkBatch::mapper_count); }

}  // namespace fleetscope::render
