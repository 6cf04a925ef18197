#include "fleetscope/relay/relay_server.hpp"

#include <spdlog/spdlog.h>

#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_source.hpp"
#include "fleetscope/ipc/shared_memory.hpp"
#include "fleetscope/ipc/source_registry.hpp"
#include "fleetscope/relay/protocol.hpp"

namespace fleetscope::relay {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "fleetscope-relay";
constexpr std::uint64_t kRetryFailedNs = 5'000'000'000ULL;  // a stream dropped on an error, tried again

std::uint64_t random_session() {
  std::random_device rd;
  std::uint64_t s = 0;
  while (s == 0) s = (std::uint64_t{rd()} << 32) ^ rd() ^ ipc::monotonic_ns();
  return s;
}

std::uint64_t wall_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

bool same_workers(const std::vector<ipc::WorkerRowRead>& a, const std::vector<ipc::WorkerRowRead>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i];
    const auto& y = b[i];
    if (x.worker_id != y.worker_id || x.pid != y.pid || x.host != y.host || x.state != y.state ||
        x.chunk_size != y.chunk_size || x.steps != y.steps || std::memcmp(&x.steps_per_s, &y.steps_per_s, 8) != 0 ||
        std::memcmp(&x.exec_s, &y.exec_s, 8) != 0 || std::memcmp(&x.ipc_s, &y.ipc_s, 8) != 0 ||
        x.restarts != y.restarts || x.start_ticks != y.start_ticks || x.heartbeat_ns != y.heartbeat_ns) {
      return false;
    }
  }
  return true;
}

bool same_jobs(const std::vector<ipc::JobRowRead>& a, const std::vector<ipc::JobRowRead>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i];
    const auto& y = b[i];
    if (x.object_code != y.object_code || x.target_count != y.target_count || x.collected_count != y.collected_count ||
        x.rounds_done != y.rounds_done || x.rounds_failed != y.rounds_failed || x.rounds_retried != y.rounds_retried ||
        x.gpu != y.gpu || x.last_seed != y.last_seed || x.state != y.state || x.updated_ns != y.updated_ns) {
      return false;
    }
  }
  return true;
}

// The ZAP handler (RFC 27) for CURVE: accepts only allowed client keys. Runs on its own thread
// with its own socket until the context shuts down.
void zap_handler(zmq::context_t& ctx, std::set<std::string> allowed, std::atomic<std::uint64_t>& refused,
                 std::atomic<bool>& ready) {
  zmq::socket_t rep(ctx, zmq::socket_type::rep);
  rep.set(zmq::sockopt::linger, 0);
  rep.bind(kZapEndpoint);
  ready.store(true);
  for (;;) {
    std::vector<zmq::message_t> parts;
    try {
      zmq::message_t part;
      do {
        if (!rep.recv(part, zmq::recv_flags::none)) break;
        parts.emplace_back(std::move(part));
        part = zmq::message_t();
      } while (parts.back().more());
    } catch (const zmq::error_t&) {
      return;  // context shut down
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string version = parts.size() > 0 ? parts[0].to_string() : "";
    std::string request_id = parts.size() > 1 ? parts[1].to_string() : "";
    std::string mechanism = parts.size() > 5 ? parts[5].to_string() : "";
    std::string status = "400", text = "not allowed";
    if (version == "1.0" && mechanism == "CURVE" && parts.size() > 6 && parts[6].size() == 32) {
      char z85[41] = {};
      zmq_z85_encode(z85, static_cast<const std::uint8_t*>(parts[6].data()), 32);
      if (allowed.count(z85) != 0) {
        status = "200";
        text = "OK";
      } else {
        spdlog::warn("fleetscope-relay: refused a client with key {} (not in the allowed keys)", z85);
      }
    } else {
      spdlog::warn("fleetscope-relay: refused a client without a CURVE key");
    }
    if (status != "200") refused.fetch_add(1);
    try {
      rep.send(zmq::buffer(version), zmq::send_flags::sndmore);
      rep.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      rep.send(zmq::buffer(status), zmq::send_flags::sndmore);
      rep.send(zmq::buffer(text), zmq::send_flags::sndmore);
      rep.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      rep.send(zmq::str_buffer(""), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

}  // namespace

struct RelayServer::Impl {
  struct Stream {
    std::uint32_t id = 0;
    std::string name;
    bool attached = false;
    std::uint64_t generation = 0;
    ipc::WriterState state = ipc::WriterState::kLive;
    std::string error;
    std::uint64_t last_frame = ~0ULL;
    std::uint64_t last_ingest_ns = 0;
    // Telemetry as carried: the relay's own record numbering.
    ipc::ScalarCursor cursor;
    std::uint32_t tags_sent = 0;
    std::deque<ipc::ScalarSample> retained;
    std::uint64_t next_index = 0;
    std::vector<ipc::WorkerRowRead> workers;
    std::vector<ipc::JobRowRead> jobs;
    std::set<std::uint32_t> meshes_sent;
    std::vector<std::string> tags;  // every tag read so far
    std::uint64_t retry_after_ns = 0;  // dropped after an error: not attached again before this
  };

  ServerOptions options;
  Endpoint endpoint;
  zmq::context_t ctx;
  std::optional<zmq::socket_t> pub;
  std::optional<zmq::socket_t> router;
  std::thread zap;
  std::atomic<std::uint64_t> zap_refused{0};
  ipc::SourceRegistry registry;
  std::map<std::string, Stream> streams;  // by name
  std::uint32_t next_stream_id = 0;
  std::uint64_t session = random_session();
  std::uint64_t seq = 0;
  ServerStats stats;
  std::uint64_t registry_revision = ~0ULL;
  std::map<std::string, std::uint64_t> last_snapshot_ns;  // by client identity
  std::uint64_t window_start_ns = 0;
  std::uint32_t window_snapshots = 0;

  explicit Impl(ServerOptions o) : options(std::move(o)), registry(ipc::RegistryOptions{options.reader, 1'000'000'000ULL, options.all}) {
    endpoint = parse_endpoint(options.bind);
    if (!options.curve && !endpoint.loopback() && !options.insecure) {
      throw RelayError("refusing to bind " + options.bind +
                       " without keys: anyone who can reach it could watch. Give --key and --allow, bind 127.0.0.1, "
                       "or pass --insecure");
    }
    if (!options.curve && !endpoint.loopback()) {
      spdlog::warn("fleetscope-relay: serving {} WITHOUT authentication or encryption (--insecure)", options.bind);
    }
    if (options.curve) {
      if (!zmq_has("curve")) throw RelayError("this libzmq has no CURVE support");
      std::atomic<bool> ready{false};
      zap = std::thread(zap_handler, std::ref(ctx), options.curve->allowed_clients, std::ref(zap_refused), std::ref(ready));
      while (!ready.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    try {
      pub.emplace(ctx, zmq::socket_type::pub);
      router.emplace(ctx, zmq::socket_type::router);
      for (zmq::socket_t* s : {&*pub, &*router}) {
        s->set(zmq::sockopt::linger, 0);
        if (options.curve) {
          s->set(zmq::sockopt::curve_server, true);
          s->set(zmq::sockopt::curve_secretkey, options.curve->server.secret_key);
          s->set(zmq::sockopt::zap_domain, kZapDomain);
        }
      }
      pub->set(zmq::sockopt::sndhwm, options.publish_hwm);
      router->set(zmq::sockopt::sndhwm, 100000);
      router->set(zmq::sockopt::maxmsgsize, std::int64_t{4096});  // requests are a header
      // ZeroMQ binds to addresses, not names; an [IPv6] address needs its sockets' ipv6 option.
      Endpoint at = endpoint;
      if (at.host == "localhost") at.host = "127.0.0.1";
      if (at.host.starts_with('[')) {
        router->set(zmq::sockopt::ipv6, true);
        pub->set(zmq::sockopt::ipv6, true);
      }
      router->bind(at.snapshot());
      pub->bind(at.publish());
    } catch (const zmq::error_t& e) {
      shutdown();
      throw RelayError("cannot bind " + endpoint.snapshot() + " and " + endpoint.publish() + ": " + e.what());
    }
  }

  ~Impl() { shutdown(); }

  void shutdown() {
    pub.reset();
    router.reset();
    ctx.shutdown();
    if (zap.joinable()) zap.join();
  }

  // --- sending ------------------------------------------------------------------------------------
  void publish(std::uint32_t stream, const Body& body) {
    Header h;
    h.session = session;
    h.seq = ++seq;
    h.stream = stream;
    const std::vector<std::byte> bytes = encode(h, body, options.compress);
    ++stats.published;
    stats.published_bytes += bytes.size();
    pub->send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);  // PUB drops, never blocks
  }

  // --- what a stream is, as messages -------------------------------------------------------------------
  StreamInfo info_of(const Stream& s, const ipc::Source* src) const {
    StreamInfo info;
    info.name = s.name;
    info.generation = s.generation;
    info.writer_pid = src ? src->writer_pid() : 0;
    info.state = s.state;
    info.has_poses = src && src->has_poses();
    info.has_telemetry = src && src->has_telemetry();
    info.error = s.error.substr(0, kMaxErrorBytes);
    return info;
  }

  PosesMessage full_poses(ipc::Source& src) {
    PosesMessage m;
    m.frame = src.frame();
    m.full = true;
    for (const ipc::RobotSnapshot& r : src.layout().robots) {
      const std::span<const ipc::PoseRecord> poses = src.poses(r.slot);
      if (poses.size() != r.link_count) continue;
      RobotPoses rp;
      rp.slot = r.slot;
      rp.mask.assign((r.link_count + 63) / 64, 0);
      for (std::uint32_t l = 0; l < r.link_count; ++l) rp.mask[l / 64] |= 1ULL << (l % 64);
      rp.poses.assign(poses.begin(), poses.end());
      m.robots.push_back(std::move(rp));
      const ipc::RobotAttributeWords a = src.attributes(r.slot);
      if (a != ipc::RobotAttributeWords{}) m.attributes.push_back({r.slot, a});
    }
    return m;
  }

  std::vector<MeshMessage> new_meshes(Stream& s, ipc::Source& src, bool all) {
    std::vector<MeshMessage> out;
    if (all) s.meshes_sent.clear();
    std::set<std::uint32_t> wanted;
    for (const ipc::ModelSnapshot& m : src.layout().models) {
      for (const ipc::ModelVisual& v : m.all_visuals) {
        if (v.visual.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh)) wanted.insert(v.mesh);
      }
    }
    for (const std::uint32_t index : wanted) {
      if (s.meshes_sent.count(index) != 0) continue;
      try {
        out.push_back(MeshMessage{index, *src.mesh(index)});
        s.meshes_sent.insert(index);
      } catch (const ipc::SegmentError& e) {
        spdlog::debug("fleetscope-relay: {}: mesh {} not carried: {}", s.name, index, e.what());
      }
    }
    return out;
  }

  TelemetryMessage full_telemetry(const Stream& s, ipc::Source& src) {
    TelemetryMessage t;
    t.reset = true;
    t.tags = s.tags;
    t.first_index = s.next_index - s.retained.size();
    t.lost = s.cursor.lost;
    t.samples.assign(s.retained.begin(), s.retained.end());
    if (src.has_telemetry()) {
      t.workers = s.workers;
      t.jobs = s.jobs;
    }
    return t;
  }

  // Everything a client needs of one stream, in order.
  template <typename Sink>
  void stream_snapshot(Stream& s, Sink&& sink) {
    ipc::Source* src = registry.find(s.name);
    sink(s.id, info_of(s, src));
    if (!src) return;
    if (src->has_poses()) {
      sink(s.id, LayoutMessage{src->layout()});
      for (MeshMessage& m : new_meshes(s, *src, false)) sink(s.id, std::move(m));
      sink(s.id, full_poses(*src));
    }
    if (src->has_telemetry()) sink(s.id, full_telemetry(s, *src));
  }

  // --- reading segments -----------------------------------------------------------------------------
  void attach_new(const std::string& name) {
    auto it = streams.find(name);
    if (it != streams.end() && (it->second.attached || ipc::monotonic_ns() < it->second.retry_after_ns)) return;
    try {
      registry.attach(name);
    } catch (const ipc::SegmentError& e) {
      spdlog::debug("fleetscope-relay: {} not carried yet: {}", name, e.what());
      return;
    }
    if (it == streams.end()) {
      Stream s;
      s.id = next_stream_id++;
      s.name = name;
      it = streams.emplace(name, std::move(s)).first;
    }
    Stream& s = it->second;
    reset_stream(s);
    s.attached = true;
    spdlog::info("fleetscope-relay: carrying {}", name);
    read_telemetry(s, *registry.find(name), false);
    stream_snapshot(s, [this](std::uint32_t id, const Body& b) { publish(id, b); });
  }

  void reset_stream(Stream& s) {
    ipc::Source* src = registry.find(s.name);
    s.generation = src ? src->generation() : 0;
    s.state = src ? src->state() : ipc::WriterState::kDead;
    s.error = src ? src->error() : std::string();
    s.last_frame = ~0ULL;
    s.cursor = {};
    s.tags_sent = 0;
    s.tags.clear();
    s.retained.clear();
    s.next_index = 0;
    s.workers.clear();
    s.jobs.clear();
    s.meshes_sent.clear();
  }

  void scan() {
    std::vector<std::string> names = options.segments;
    if (options.all) {
      for (const std::string& n : ipc::list_segment_names()) names.push_back(n);
    }
    for (const std::string& n : names) {
      try {
        ipc::validate_segment_name(n);
      } catch (const ipc::SegmentError&) {
        continue;  // any local user can put any name in /dev/shm
      }
      guarded(n, [&] { attach_new(n); });
    }
  }

  // One stream's failure (a segment truncated under the relay, a segment too large for the
  // protocol) stops that stream, never the relay and the others: the stream is dropped with its
  // error, its clients see it removed, and it is tried again after a while.
  template <typename F>
  void guarded(const std::string& name, F&& f) {
    try {
      f();
    } catch (const zmq::error_t&) {
      throw;  // the relay's own sockets: not one stream's fault
    } catch (const std::exception& e) {
      auto it = streams.find(name);
      spdlog::error("fleetscope-relay: stopped carrying {}: {}", name, e.what());
      ++stats.streams_failed;
      if (registry.attached(name)) registry.detach(name);
      if (it == streams.end()) return;
      Stream& s = it->second;
      s.error = e.what();
      s.retry_after_ns = ipc::monotonic_ns() + kRetryFailedNs;
      if (s.attached) {
        s.attached = false;
        publish(s.id, Removed{});
      }
    }
  }

  void read_poses(Stream& s, ipc::Source& src, std::uint64_t now) {
    if (!src.has_poses()) return;
    const ipc::FrameInfo before = src.frame();
    if (before.frame == s.last_frame && now - s.last_ingest_ns < 50'000'000ULL) return;
    s.last_ingest_ns = now;
    const ipc::IngestStats st = src.ingest();
    if (src.error() != s.error) {
      s.error = src.error();
      publish(s.id, info_of(s, &src));
    }
    s.last_frame = before.frame;
    if (st.layout_changed) {
      publish(s.id, LayoutMessage{src.layout()});
      for (MeshMessage& m : new_meshes(s, src, false)) publish(s.id, std::move(m));
    }
    const auto changes = src.changes();
    const auto attr = src.attribute_changes();
    if (changes.empty() && attr.empty() && !st.layout_changed) return;
    PosesMessage m;
    m.frame = src.frame();
    m.frame.frame = st.frame;
    m.frame.publish_ns = st.publish_ns;
    std::size_t i = 0;
    while (i < changes.size()) {
      const std::uint32_t slot = changes[i].slot;
      const std::span<const ipc::PoseRecord> poses = src.poses(slot);
      RobotPoses rp;
      rp.slot = slot;
      rp.mask.assign((poses.size() + 63) / 64, 0);
      std::size_t j = i;
      for (; j < changes.size() && changes[j].slot == slot; ++j) {
        const std::uint32_t link = changes[j].link;
        if (link < poses.size()) rp.mask[link / 64] |= 1ULL << (link % 64);
      }
      for (std::uint32_t l = 0; l < poses.size(); ++l) {
        if (rp.mask[l / 64] & (1ULL << (l % 64))) rp.poses.push_back(poses[l]);
      }
      if (!rp.mask.empty()) {
        // Changes come robot by robot in slot order; merge a slot seen again.
        if (!m.robots.empty() && m.robots.back().slot >= slot) {
          m.robots.clear();  // out of order: carry the whole robots instead (never expected)
          m.full = true;
          PosesMessage full = full_poses(src);
          full.frame = m.frame;
          m = std::move(full);
          break;
        }
        m.robots.push_back(std::move(rp));
      }
      i = j;
    }
    if (!m.full) {
      std::vector<std::uint32_t> slots(attr.begin(), attr.end());
      std::sort(slots.begin(), slots.end());
      slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
      for (const std::uint32_t slot : slots) m.attributes.push_back({slot, src.attributes(slot)});
    }
    publish(s.id, m);
  }

  void read_telemetry(Stream& s, ipc::Source& src, bool send) {
    if (!src.has_telemetry()) return;
    TelemetryMessage t;
    try {
      const std::uint32_t count = src.tag_count();
      if (count > s.tags.size()) {
        t.tag_first = static_cast<std::uint32_t>(s.tags.size());
        t.tags = src.tags_from(t.tag_first);
        if (s.tags.size() + t.tags.size() > kMaxTags) t.tags.resize(kMaxTags - s.tags.size());
        s.tags.insert(s.tags.end(), t.tags.begin(), t.tags.end());
      } else {
        t.tag_first = static_cast<std::uint32_t>(s.tags.size());
      }
      std::vector<ipc::ScalarSample> samples;
      src.read_scalars(s.cursor, samples, kMaxSamplesPerMessage / 2);
      for (const ipc::ScalarSample& x : samples) {
        if (x.tag >= s.tags.size()) {
          // A record may name a tag counted after our look at the table: look again.
          const std::uint32_t now_count = src.tag_count();
          if (now_count > s.tags.size()) {
            auto more = src.tags_from(static_cast<std::uint32_t>(s.tags.size()));
            if (s.tags.size() + more.size() > kMaxTags) more.resize(kMaxTags - s.tags.size());
            t.tags.insert(t.tags.end(), more.begin(), more.end());
            s.tags.insert(s.tags.end(), more.begin(), more.end());
          }
          if (x.tag >= s.tags.size()) continue;  // a corrupt record: not carried
        }
        t.samples.push_back(x);
      }
      t.first_index = s.next_index;
      s.next_index += t.samples.size();
      for (const ipc::ScalarSample& x : t.samples) s.retained.push_back(x);
      while (s.retained.size() > options.retained_samples) s.retained.pop_front();
      t.lost = s.cursor.lost;
      auto workers = src.workers();
      if (!same_workers(workers, s.workers)) {
        s.workers = workers;
        t.workers = std::move(workers);
      }
      auto jobs = src.jobs();
      if (!same_jobs(jobs, s.jobs)) {
        s.jobs = jobs;
        t.jobs = std::move(jobs);
      }
    } catch (const ipc::SegmentError& e) {
      if (s.error != e.what()) {
        s.error = e.what();
        if (send) publish(s.id, info_of(s, &src));
      }
      return;
    }
    if (send && (!t.tags.empty() || !t.samples.empty() || t.workers || t.jobs)) publish(s.id, t);
  }

  void refresh_registry() {
    registry.refresh();
    for (auto it = streams.begin(); it != streams.end(); ++it) {
      Stream& s = it->second;
      if (!s.attached) continue;
      ipc::Source* src = registry.find(s.name);
      if (!src) {
        s.attached = false;
        spdlog::info("fleetscope-relay: {} is gone", s.name);
        publish(s.id, Removed{});
        continue;
      }
      if (src->generation() != s.generation) {
        spdlog::info("fleetscope-relay: {} has a new writer", s.name);
        guarded(s.name, [&] {
          reset_stream(s);
          read_telemetry(s, *src, false);
          stream_snapshot(s, [this](std::uint32_t id, const Body& b) { publish(id, b); });
        });
        continue;
      }
      if (src->state() != s.state) {
        s.state = src->state();
        publish(s.id, info_of(s, src));
      }
    }
  }

  // --- the snapshot socket ---------------------------------------------------------------------------
  void serve_requests() {
    for (;;) {
      zmq::message_t identity;
      if (!router->recv(identity, zmq::recv_flags::dontwait)) return;
      // The rest of this message's frames (a request is one frame after the identity).
      std::vector<zmq::message_t> rest;
      bool more = identity.more();
      while (more) {
        zmq::message_t part;
        if (!router->recv(part, zmq::recv_flags::dontwait)) break;
        more = part.more();
        if (rest.size() < 4) rest.push_back(std::move(part));
      }
      if (rest.size() != 1) {
        ++stats.refused_requests;
        continue;
      }
      try {
        const Message m = decode(std::span<const std::byte>(static_cast<const std::byte*>(rest[0].data()), rest[0].size()));
        if (m.header.type != MessageType::kSnapshotRequest) throw ProtocolError(Refusal::kType, "not a snapshot request");
      } catch (const ProtocolError& e) {
        ++stats.refused_requests;
        spdlog::debug("fleetscope-relay: {}", e.what());
        continue;
      }
      // Snapshots cost the relay a full encode: at most one every 250 ms a client and 50 a
      // second in all; a client asks again after 500 ms.
      const std::uint64_t now = ipc::monotonic_ns();
      if (now - window_start_ns >= 1'000'000'000ULL) {
        window_start_ns = now;
        window_snapshots = 0;
      }
      const std::string who(static_cast<const char*>(identity.data()), identity.size());
      if (last_snapshot_ns.size() > 10000) last_snapshot_ns.clear();
      auto [it, fresh] = last_snapshot_ns.try_emplace(who, 0);
      if ((!fresh && now - it->second < 250'000'000ULL) || window_snapshots >= 50) {
        ++stats.throttled_requests;
        continue;
      }
      it->second = now;
      ++window_snapshots;
      send_snapshot(identity);
    }
  }

  void send_snapshot(const zmq::message_t& identity) {
    ++stats.snapshots;
    std::uint32_t count = 0;
    auto send = [&](std::uint32_t stream, const Body& body) {
      Header h;
      h.session = session;
      h.seq = seq;
      h.stream = stream;
      const std::vector<std::byte> bytes = encode(h, body, options.compress);
      stats.snapshot_bytes += bytes.size();
      router->send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      router->send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
    };
    std::uint32_t carried = 0;
    for (auto& [name, s] : streams) carried += s.attached ? 1 : 0;
    send(kNoStream, SnapshotBegin{carried});
    for (auto& [name, s] : streams) {
      if (!s.attached) continue;
      // A full set of meshes for this client (not only the ones the publish socket has not had).
      std::set<std::uint32_t> sent = std::move(s.meshes_sent);
      s.meshes_sent.clear();
      Stream& stream = s;  // a structured binding cannot be captured before clang 16
      guarded(name, [&] {
        stream_snapshot(stream, [&](std::uint32_t id, const Body& b) {
          ++count;
          send(id, b);
        });
      });
      s.meshes_sent.insert(sent.begin(), sent.end());
    }
    send(kNoStream, SnapshotEnd{count});
  }

  void run(const std::atomic<bool>& stop) {
    std::uint64_t last_scan = 0, last_tel = 0, last_hb = 0, last_refresh = 0;
    while (!stop.load()) {
      const std::uint64_t now = ipc::monotonic_ns();
      if (now - last_scan >= options.scan_ns) {
        last_scan = now;
        scan();
      }
      if (now - last_refresh >= 100'000'000ULL) {
        last_refresh = now;
        refresh_registry();
      }
      const bool telemetry_due = now - last_tel >= options.telemetry_ns;
      if (telemetry_due) last_tel = now;
      for (auto& [name, s] : streams) {
        if (!s.attached) continue;
        ipc::Source* src = registry.find(name);
        if (!src) continue;
        Stream& stream = s;  // a structured binding cannot be captured before clang 16
        guarded(name, [&] {
          read_poses(stream, *src, now);
          if (telemetry_due) read_telemetry(stream, *src, true);
        });
      }
      if (now - last_hb >= options.heartbeat_ns) {
        last_hb = now;
        std::uint32_t carried = 0;
        for (auto& [name, s] : streams) carried += s.attached ? 1 : 0;
        publish(kNoStream, Heartbeat{wall_ns(), carried});
      }
      zmq::pollitem_t item{router->handle(), 0, ZMQ_POLLIN, 0};
      const auto wait = std::chrono::milliseconds(std::max<std::uint64_t>(1, options.poll_ns / 1'000'000ULL));
      try {
        if (zmq::poll(&item, 1, wait) > 0) serve_requests();
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw RelayError(std::string("relay socket: ") + e.what());
      }
    }
  }
};

RelayServer::RelayServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RelayServer::~RelayServer() = default;

void RelayServer::run(const std::atomic<bool>& stop) { impl_->run(stop); }

ServerStats RelayServer::stats() const {
  ServerStats s = impl_->stats;
  s.refused_clients = impl_->zap_refused.load();
  for (const auto& [name, st] : impl_->streams) s.streams += st.attached ? 1 : 0;
  return s;
}

const Endpoint& RelayServer::endpoint() const noexcept { return impl_->endpoint; }

}  // namespace fleetscope::relay
