#include "fleetscope/relay/mirror.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <set>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/relay/remote_source.hpp"

namespace fleetscope::relay {

struct Mirror::Stream {
  std::unique_ptr<RemoteSource> source;
  std::string local_name;
  std::optional<ipc::SegmentWriter> writer;
  std::uint64_t generation = 0;
  bool telemetry = false;
  // Remote -> local.
  std::vector<std::uint32_t> models;                 // by remote model index
  std::map<std::uint32_t, std::uint32_t> meshes;     // remote mesh index -> local
  struct Robot {
    std::uint64_t spawn_id = 0;
    std::uint32_t local_slot = 0;
    std::uint32_t links = 0;
  };
  std::map<std::uint32_t, Robot> robots;             // by remote slot
  std::vector<std::uint32_t> tags;                   // remote tag -> local
  ipc::ScalarCursor cursor;
  std::uint64_t last_frame = 0;
  std::vector<float> poses;                          // one robot's, 7 per link
  std::vector<std::uint64_t> mask;
  std::uint64_t last_telemetry_ns = 0;
  std::uint64_t retry_after_ns = 0;  // after an error: a local segment is not tried again before
  std::uint32_t failures = 0;        // in a row: the wait doubles, up to 10 s
};

namespace {

std::uint32_t at_least(std::uint64_t want, std::uint32_t floor, std::uint32_t ceiling) {
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(want, floor, ceiling));
}

}  // namespace

Mirror::Mirror(std::shared_ptr<RelayClient> client, MirrorOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}
Mirror::~Mirror() = default;

std::vector<std::string> Mirror::segments() const {
  std::vector<std::string> out;
  for (const auto& [name, s] : streams_) {
    if (s->writer) out.push_back(s->local_name);
  }
  return out;
}

void Mirror::step(int wait_ms) {
  client_->poll(wait_ms);
  for (const auto& [id, remote] : client_->streams()) {
    if (remote.removed || remote.info.name.empty() || streams_.count(remote.info.name) != 0) continue;
    auto st = std::make_unique<Stream>();
    st->source = std::make_unique<RemoteSource>(client_, remote.info.name);
    st->local_name = options_.prefix + remote.info.name;
    streams_.emplace(remote.info.name, std::move(st));
  }
  for (auto& [name, sp] : streams_) {
    Stream& s = *sp;
    RemoteSource& src = *s.source;
    const ipc::IngestStats stats = src.ingest();
    if (src.state() == ipc::WriterState::kUnreachable) continue;  // keep the copy as it is meanwhile
    if (src.state() == ipc::WriterState::kClosed || src.state() == ipc::WriterState::kDead) {
      if (s.writer) {
        spdlog::info("fleetscope-relay mirror: {} is gone; closing {}", name, s.local_name);
        s.writer.reset();  // marks it closed and removes the name
      }
      continue;
    }
    if (!src.has_poses() && !src.has_telemetry()) continue;
    if (src.has_poses() && src.layout().robots.empty() && src.layout().models.empty() && src.frame().frame == 0) continue;
    if (ipc::monotonic_ns() < s.retry_after_ns) continue;
    try {
      const ipc::LayoutSnapshot& layout = src.layout();
      bool recreate = !s.writer || src.generation() != s.generation;
      if (!recreate && stats.layout_changed) {
        // Models only grow; robots must fit the slots and links reserved.
        const ipc::Layout& cap = s.writer->layout();
        if (layout.models.size() < s.models.size() || layout.models.size() > cap.capacities.models ||
            layout.robots.size() > cap.capacities.robots) {
          recreate = true;
        }
        for (const auto& r : layout.robots) recreate = recreate || r.link_count > cap.capacities.links_per_robot;
      }
      if (recreate) {
        s.writer.reset();
        s.models.clear();
        s.meshes.clear();
        s.robots.clear();
        s.tags.clear();
        s.cursor = {};
        s.generation = src.generation();
        ipc::WriterOptions o;
        o.name = s.local_name;
        std::uint64_t links = 1, visuals = 0, extended = 0, mesh_bytes = 0;
        std::set<std::uint32_t> mesh_ids;
        for (const auto& m : layout.models) {
          links = std::max<std::uint64_t>(links, m.visuals.size());
          visuals += m.visuals.size();
          extended += m.all_visuals.size();
          for (const auto& v : m.all_visuals) {
            if (v.visual.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh)) mesh_ids.insert(v.mesh);
          }
        }
        for (const std::uint32_t id : mesh_ids) {
          try {
            const auto mesh = src.mesh(id);
            mesh_bytes += 12 * (mesh->vertices.size() / 3 * 2 + mesh->triangles.size() / 3) + 64;
          } catch (const ipc::SegmentError&) {
          }
        }
        o.capacities.robots = at_least(2 * layout.robots.size(), 16, 1u << 17);
        o.capacities.links_per_robot = at_least(links, 1, ipc::kMaxLinksPerRobot);
        o.capacities.models = at_least(2 * layout.models.size(), 8, ipc::kMaxModels);
        o.capacities.visuals = at_least(2 * visuals, 64, 1u << 20);
        o.capacities.dirty_history = 16;
        o.geometry = ipc::GeometryCapacities{at_least(2 * extended, 64, 1u << 22), at_least(2 * mesh_ids.size(), 4, 1u << 16),
                                             2 * mesh_bytes};
        if (src.has_telemetry()) {
          o.telemetry = ipc::TelemetryCapacities{65536, 4096, 4096, 16384};
          o.telemetry_only = !src.has_poses();
        }
        s.writer.emplace(o);
        s.telemetry = src.has_telemetry();
        s.last_frame = 0;
        spdlog::info("fleetscope-relay mirror: {} -> local segment {}", name, s.local_name);
      }
      ipc::SegmentWriter& w = *s.writer;
      std::set<std::uint32_t> spawned;
      if (recreate || stats.layout_changed) {
        // New models (appended), their meshes first.
        for (std::size_t m = s.models.size(); m < layout.models.size(); ++m) {
          const ipc::ModelSnapshot& model = layout.models[m];
          std::vector<ipc::VisualRecord> records;
          for (const ipc::ModelVisual& v : model.all_visuals) {
            ipc::VisualRecord r{};
            r.visual = v.visual;
            r.link = v.link;
            if (v.visual.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh)) {
              auto it = s.meshes.find(v.mesh);
              if (it == s.meshes.end()) {
                const auto mesh = src.mesh(v.mesh);  // throws when it did not come: retried
                it = s.meshes.emplace(v.mesh, w.add_mesh(ipc::encode_mesh(*mesh, true))).first;
              }
              r.mesh = it->second;
            }
            records.push_back(r);
          }
          s.models.push_back(w.add_model(model.name, model.visuals, records));
        }
        // Robots gone or respawned, then new ones.
        std::map<std::uint32_t, const ipc::RobotSnapshot*> now;
        for (const auto& r : layout.robots) now[r.slot] = &r;
        for (auto it = s.robots.begin(); it != s.robots.end();) {
          const auto found = now.find(it->first);
          if (found == now.end() || found->second->spawn_id != it->second.spawn_id) {
            w.remove_robot(it->second.local_slot);
            it = s.robots.erase(it);
          } else {
            ++it;
          }
        }
        for (const auto& r : layout.robots) {
          if (s.robots.count(r.slot) != 0) continue;
          const std::uint32_t slot = w.spawn_robot(r.name, s.models.at(r.model), src.attributes(r.slot));
          s.robots[r.slot] = Stream::Robot{r.spawn_id, slot, r.link_count};
          spawned.insert(r.slot);  // every link written below: a new slot starts at identity
        }
      }
      // Poses and attributes that changed; every link of robots spawned here.
      const std::span<const ipc::LinkChange> changes = src.changes();
      std::set<std::uint32_t> touched;
      std::uint64_t dirty_links = 0;
      const std::uint32_t words = w.layout().dirty_words;
      auto write = [&](std::uint32_t slot) {
        const auto robot = s.robots.find(slot);
        const std::span<const ipc::PoseRecord> poses = src.poses(slot);
        if (robot == s.robots.end() || poses.size() != robot->second.links) return;
        s.poses.resize(poses.size() * 7);
        for (std::size_t l = 0; l < poses.size(); ++l) {
          std::memcpy(&s.poses[l * 7], poses[l].position, 3 * sizeof(float));
          std::memcpy(&s.poses[l * 7 + 3], poses[l].orientation, 4 * sizeof(float));
        }
        w.write_robot(robot->second.local_slot, s.poses, s.mask);
        for (const std::uint64_t m : s.mask) dirty_links += static_cast<std::uint64_t>(std::popcount(m));
        touched.insert(slot);
      };
      for (const std::uint32_t slot : spawned) {
        s.mask.assign(words, 0);
        for (std::uint32_t l = 0; l < s.robots[slot].links; ++l) s.mask[l / 64] |= 1ULL << (l % 64);
        write(slot);
      }
      std::size_t i = 0;
      while (i < changes.size()) {
        const std::uint32_t slot = changes[i].slot;
        s.mask.assign(words, 0);
        std::size_t j = i;
        for (; j < changes.size() && changes[j].slot == slot; ++j) {
          const std::uint32_t link = changes[j].link;
          if (link < words * 64u) s.mask[link / 64] |= 1ULL << (link % 64);
        }
        if (spawned.count(slot) == 0) write(slot);
        i = j;
      }
      for (const std::uint32_t slot : src.attribute_changes()) {
        const auto robot = s.robots.find(slot);
        if (robot == s.robots.end()) continue;
        w.write_robot_attributes(robot->second.local_slot, src.attributes(slot));
        touched.insert(slot);
      }
      const ipc::FrameInfo frame = src.frame();
      if (!touched.empty() || frame.frame != s.last_frame) {
        w.end_frame(frame.sim_time, dirty_links, touched.size());
        s.last_frame = frame.frame;
      }
      // Telemetry, ten times a second.
      const std::uint64_t now = ipc::monotonic_ns();
      if (s.telemetry && (recreate || now - s.last_telemetry_ns >= 100'000'000ULL)) {
        s.last_telemetry_ns = now;
        ipc::TelemetryWriter& t = w.telemetry();
        const std::vector<std::string> tags = src.tags_from(static_cast<std::uint32_t>(s.tags.size()));
        for (const std::string& tag : tags) s.tags.push_back(t.tag(tag));
        std::vector<ipc::ScalarSample> samples;
        src.read_scalars(s.cursor, samples, 65536);
        for (const ipc::ScalarSample& x : samples) {
          if (x.tag < s.tags.size()) t.scalar(s.tags[x.tag], x.step, x.value, x.wall_unix_ns);
        }
        for (ipc::WorkerRowRead row : src.workers()) {
          ipc::WorkerReport r = row;
          r.pid = 0;  // a remote pid means nothing on this host
          t.worker(r);
        }
        for (const ipc::JobRowRead& row : src.jobs()) t.job(row);
      }
      w.heartbeat();
      s.failures = 0;
    } catch (const ipc::SegmentError& e) {
      // Backs off (an invalid local name or a full /dev/shm does not fix itself every poll).
      const std::uint64_t wait_ms = std::min<std::uint64_t>(10'000, 100ULL << std::min<std::uint32_t>(s.failures, 7));
      ++s.failures;
      s.retry_after_ns = ipc::monotonic_ns() + wait_ms * 1'000'000ULL;
      spdlog::warn("fleetscope-relay mirror: {}: {} (trying again in {} ms)", name, e.what(), wait_ms);
      s.writer.reset();  // recreated from the whole layout next time
    }
  }
}

}  // namespace fleetscope::relay
