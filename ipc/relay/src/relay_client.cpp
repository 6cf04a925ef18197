#include "fleetscope/relay/relay_client.hpp"

#include <spdlog/spdlog.h>

#include <zmq.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "fleetscope/ipc/process_liveness.hpp"

namespace fleetscope::relay {
namespace {

class Unapplicable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

struct RelayClient::Impl {
  ClientOptions options;
  Endpoint endpoint;
  zmq::context_t ctx;
  std::optional<zmq::socket_t> sub;
  std::optional<zmq::socket_t> dealer;
  std::map<std::uint32_t, RemoteStream> streams;
  ClientStats stats;
  std::function<void(const RemoteStream&, const PosesMessage&, std::uint64_t)> observer;

  enum class Phase { kIdle, kAwaiting, kLive };
  Phase phase = Phase::kIdle;
  std::uint64_t session = 0;
  std::uint64_t generations = 0;  // hands out RemoteStream::generation, unique over sessions
  std::uint64_t next_seq = 0;
  std::uint64_t last_message_ns = 0;
  std::uint64_t request_ns = 0;
  std::uint64_t last_request_ns = 0;
  bool reachable = false;
  // While a snapshot arrives: its messages, and publish messages to apply after it.
  std::vector<Message> staged;
  std::optional<Header> staged_begin;
  std::deque<Message> buffered;
  // Payload bytes held in `staged` and `buffered` (each message up to 64 MiB decoded): bounded.
  std::size_t staged_bytes = 0, buffered_bytes = 0;
  std::size_t last_size = 0;  // of the message decode_counted() returned last
  static constexpr std::size_t kMaxHeldBytes = std::size_t{256} << 20;
  static constexpr std::size_t kMaxClientStreams = 4096;
  static constexpr std::size_t kMaxMeshBytes = std::size_t{512} << 20;  // per stream

  explicit Impl(ClientOptions o) : options(std::move(o)) {
    endpoint = parse_endpoint(options.endpoint);
    if (endpoint.host == "*") throw RelayError("endpoint '" + options.endpoint + "': connect to a host, not *");
    if (options.curve) {
      if (!zmq_has("curve")) throw RelayError("this libzmq has no CURVE support");
      if (!valid_z85_key(options.curve->server_public_key) || !valid_z85_key(options.curve->client.public_key) ||
          !valid_z85_key(options.curve->client.secret_key)) {
        throw RelayError("relay client keys must be 40-character Z85 keys");
      }
    }
    sub.emplace(ctx, zmq::socket_type::sub);
    configure(*sub);
    sub->set(zmq::sockopt::rcvhwm, options.receive_hwm);
    if (options.receive_buffer > 0) sub->set(zmq::sockopt::rcvbuf, options.receive_buffer);
    sub->set(zmq::sockopt::subscribe, "");
    try {
      sub->connect(endpoint.publish());
    } catch (const zmq::error_t& e) {
      throw RelayError("cannot connect to " + endpoint.publish() + ": " + e.what());
    }
    make_dealer();
    last_message_ns = ipc::monotonic_ns();
  }

  ~Impl() {
    sub.reset();
    dealer.reset();
  }

  void configure(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kHeaderBytes + kMaxPayloadBytes));
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 1000);
    if (endpoint.host.starts_with('[')) s.set(zmq::sockopt::ipv6, true);  // an [IPv6] address
    if (options.curve) {
      s.set(zmq::sockopt::curve_serverkey, options.curve->server_public_key);
      s.set(zmq::sockopt::curve_publickey, options.curve->client.public_key);
      s.set(zmq::sockopt::curve_secretkey, options.curve->client.secret_key);
    }
  }

  void make_dealer() {
    dealer.reset();
    dealer.emplace(ctx, zmq::socket_type::dealer);
    configure(*dealer);
    dealer->set(zmq::sockopt::rcvhwm, 100000);
    dealer->set(zmq::sockopt::immediate, true);  // queue the request only for a connected relay
    try {
      dealer->connect(endpoint.snapshot());
    } catch (const zmq::error_t& e) {
      throw RelayError("cannot connect to " + endpoint.snapshot() + ": " + e.what());
    }
  }

  void request_snapshot(std::uint64_t now) {
    ++stats.snapshot_requests;
    staged.clear();
    staged_bytes = 0;
    staged_begin.reset();
    phase = Phase::kAwaiting;
    request_ns = now;
    send_request(now);
  }

  void send_request(std::uint64_t now) {
    last_request_ns = now;
    Header h;
    const std::vector<std::byte> bytes = encode(h, SnapshotRequest{}, false);
    // With `immediate`, a request to a relay not connected (yet) is not queued: the timeout
    // asks again.
    try {
      dealer->send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  }

  std::optional<Message> decode_counted(const zmq::message_t& m) {
    stats.received_bytes += m.size();
    try {
      const std::span<const std::byte> bytes(static_cast<const std::byte*>(m.data()), m.size());
      Message msg = decode(bytes);
      std::uint32_t raw = 0;
      std::memcpy(&raw, bytes.data() + 32, 4);  // the header's raw_size, checked by decode()
      last_size = std::size_t{raw} + m.size();
      return msg;
    } catch (const ProtocolError& e) {
      stats.decode.count(e);
      spdlog::debug("relay client {}: {}", options.endpoint, e.what());
      return std::nullopt;
    }
  }

  // --- applying ------------------------------------------------------------------------------------
  RemoteStream& stream(std::uint32_t id) {
    auto it = streams.find(id);
    if (it == streams.end()) {
      if (streams.size() >= kMaxClientStreams) throw Unapplicable("too many streams");
      it = streams.emplace(id, RemoteStream{}).first;
      it->second.id = id;
    }
    return it->second;
  }

  RemoteStream& known(std::uint32_t id) {
    auto it = streams.find(id);
    if (it == streams.end()) throw Unapplicable("message for stream " + std::to_string(id) + " before its description");
    return it->second;
  }

  static void mark(RemoteStream& s, std::uint32_t slot, std::uint32_t link) {
    auto& mask = s.pending[slot];
    if (mask.empty()) {
      mask.assign((s.poses[slot].size() + 63) / 64, 0);
      s.pending_slots.push_back(slot);
    }
    mask[link / 64] |= 1ULL << (link % 64);
  }

  static void clear_telemetry(RemoteStream& s) {
    s.tags.clear();
    s.samples.clear();
    s.samples_first = s.samples_end = 0;
    s.relay_lost = 0;
    s.workers.clear();
    s.jobs.clear();
  }

  void apply_stream(RemoteStream& s, StreamInfo info) {
    const bool new_producer = s.info.name != info.name || s.info.generation != info.generation || s.removed;
    if (new_producer) {
      s.generation = ++generations;
      s.have_layout = false;
      s.layout = {};
      s.poses.clear();
      s.attributes.clear();
      s.robot_of_slot.clear();
      s.pending.clear();
      s.pending_slots.clear();
      s.pending_attributes.clear();
      s.meshes.clear();
      clear_telemetry(s);
    }
    s.removed = false;
    s.info = std::move(info);
  }

  void apply_layout(RemoteStream& s, LayoutMessage m) {
    std::uint32_t slots = 0;
    for (const auto& r : m.layout.robots) slots = std::max(slots, r.slot + 1);
    std::vector<std::vector<ipc::PoseRecord>> poses(slots);
    std::vector<ipc::RobotAttributeWords> attributes(slots);
    std::vector<std::int32_t> robot_of_slot(slots, -1);
    for (std::size_t i = 0; i < m.layout.robots.size(); ++i) {
      const ipc::RobotSnapshot& r = m.layout.robots[i];
      robot_of_slot[r.slot] = static_cast<std::int32_t>(i);
      const bool same = r.slot < s.robot_of_slot.size() && s.robot_of_slot[r.slot] >= 0 &&
                        s.layout.robots[static_cast<std::size_t>(s.robot_of_slot[r.slot])].spawn_id == r.spawn_id &&
                        s.poses[r.slot].size() == r.link_count;
      if (same) {
        poses[r.slot] = std::move(s.poses[r.slot]);
        attributes[r.slot] = s.attributes[r.slot];
      } else {
        poses[r.slot].assign(r.link_count, ipc::PoseRecord{});
      }
    }
    s.poses = std::move(poses);
    s.attributes = std::move(attributes);
    s.robot_of_slot = std::move(robot_of_slot);
    s.layout = std::move(m.layout);
    s.have_layout = true;
    ++s.layout_serial;
    // Pending changes of slots that are gone or changed size are dropped.
    std::vector<std::vector<std::uint64_t>> pending(s.poses.size());
    std::vector<std::uint32_t> pending_slots;
    for (const std::uint32_t slot : s.pending_slots) {
      if (slot < s.poses.size() && slot < s.pending.size() && s.pending[slot].size() == (s.poses[slot].size() + 63) / 64 &&
          !s.poses[slot].empty()) {
        pending[slot] = std::move(s.pending[slot]);
        pending_slots.push_back(slot);
      }
    }
    s.pending = std::move(pending);
    s.pending_slots = std::move(pending_slots);
    std::erase_if(s.pending_attributes, [&](std::uint32_t slot) { return slot >= s.poses.size() || s.robot_of_slot[slot] < 0; });
  }

  void apply_poses(RemoteStream& s, const PosesMessage& m) {
    if (!s.have_layout) throw Unapplicable("poses before a layout");
    // Check everything before changing anything.
    for (const RobotPoses& r : m.robots) {
      if (r.slot >= s.robot_of_slot.size() || s.robot_of_slot[r.slot] < 0) {
        throw Unapplicable("poses of slot " + std::to_string(r.slot) + ", not in the layout");
      }
      const std::size_t links = s.poses[r.slot].size();
      if (r.mask.size() != (links + 63) / 64) throw Unapplicable("mask of the wrong size for slot " + std::to_string(r.slot));
      if (links % 64 != 0 && (r.mask.back() >> (links % 64)) != 0) {
        throw Unapplicable("mask names links beyond slot " + std::to_string(r.slot) + "'s " + std::to_string(links));
      }
    }
    for (const RobotAttributes& a : m.attributes) {
      if (a.slot >= s.robot_of_slot.size() || s.robot_of_slot[a.slot] < 0) {
        throw Unapplicable("attributes of slot " + std::to_string(a.slot) + ", not in the layout");
      }
    }
    for (const RobotPoses& r : m.robots) {
      std::vector<ipc::PoseRecord>& dst = s.poses[r.slot];
      std::size_t k = 0;
      for (std::size_t w = 0; w < r.mask.size(); ++w) {
        std::uint64_t bits = r.mask[w];
        while (bits) {
          const auto link = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
          bits &= bits - 1;
          dst[link] = r.poses[k++];
          mark(s, r.slot, link);
        }
      }
    }
    for (const RobotAttributes& a : m.attributes) {
      s.attributes[a.slot] = a.words;
      if (std::find(s.pending_attributes.begin(), s.pending_attributes.end(), a.slot) == s.pending_attributes.end()) {
        s.pending_attributes.push_back(a.slot);
      }
    }
    s.frame = m.frame;
  }

  void apply_telemetry(RemoteStream& s, TelemetryMessage m) {
    if (m.reset) clear_telemetry(s);
    if (m.tag_first != s.tags.size()) {
      throw Unapplicable("tags from " + std::to_string(m.tag_first) + ", this client has " + std::to_string(s.tags.size()));
    }
    const std::size_t tags = s.tags.size() + m.tags.size();
    for (const ipc::ScalarSample& x : m.samples) {
      if (x.tag >= tags) throw Unapplicable("sample of tag " + std::to_string(x.tag) + " of " + std::to_string(tags));
    }
    if (!m.samples.empty() && !s.samples.empty() && m.first_index != s.samples_end) {
      throw Unapplicable("samples from " + std::to_string(m.first_index) + ", expected " + std::to_string(s.samples_end));
    }
    s.tags.insert(s.tags.end(), std::make_move_iterator(m.tags.begin()), std::make_move_iterator(m.tags.end()));
    if (!m.samples.empty()) {
      if (s.samples.empty()) s.samples_first = s.samples_end = m.first_index;
      for (const ipc::ScalarSample& x : m.samples) s.samples.push_back(x);
      s.samples_end += m.samples.size();
      while (s.samples.size() > options.retained_samples) {
        s.samples.pop_front();
        ++s.samples_first;
      }
    }
    s.relay_lost = m.lost;
    if (m.workers) s.workers = std::move(*m.workers);
    if (m.jobs) s.jobs = std::move(*m.jobs);
  }

  void apply(Message m, std::uint64_t now) {
    if (m.header.stream == kNoStream) return;  // heartbeats, snapshot markers: nothing to apply
    RemoteStream* sp = nullptr;
    if (m.header.type == MessageType::kStream) {
      sp = &stream(m.header.stream);
      apply_stream(*sp, std::move(std::get<StreamInfo>(m.body)));
      return;
    }
    RemoteStream& s = known(m.header.stream);
    switch (m.header.type) {
      case MessageType::kLayout: apply_layout(s, std::move(std::get<LayoutMessage>(m.body))); break;
      case MessageType::kPoses: {
        const auto& p = std::get<PosesMessage>(m.body);
        apply_poses(s, p);
        if (observer) observer(s, p, now);
        break;
      }
      case MessageType::kTelemetry: apply_telemetry(s, std::move(std::get<TelemetryMessage>(m.body))); break;
      case MessageType::kRemoved:
        s.removed = true;
        s.info.state = ipc::WriterState::kClosed;
        break;
      case MessageType::kMesh: {
        auto& mm = std::get<MeshMessage>(m.body);
        if (s.meshes.size() >= ipc::kMaxMeshes && s.meshes.count(mm.index) == 0) throw Unapplicable("too many meshes");
        const std::size_t bytes = 4 * (mm.mesh.vertices.size() + mm.mesh.triangles.size() + mm.mesh.normals.size());
        if (s.mesh_bytes + bytes > kMaxMeshBytes) throw Unapplicable("stored meshes above 512 MiB");
        s.mesh_bytes += bytes;
        s.meshes[mm.index] = std::make_shared<const ipc::MeshData>(std::move(mm.mesh));
        break;
      }
      default: break;
    }
  }

  // Applies one message; a message that does not fit the state is counted and makes the client
  // start again from a snapshot.
  bool apply_checked(Message m, std::uint64_t now) {
    try {
      apply(std::move(m), now);
      ++stats.received;
      return true;
    } catch (const Unapplicable& e) {
      ++stats.unapplicable;
      spdlog::debug("relay client {}: {}; asking for a snapshot", options.endpoint, e.what());
      return false;
    }
  }

  void finish_snapshot(std::uint64_t now) {
    const Header begin = *staged_begin;
    // Streams the relay no longer carries are gone; every stream's state is replaced.
    const bool new_session = begin.session != session;
    if (new_session && session != 0) ++stats.session_changes;
    // Another relay run numbers its streams afresh: start from nothing.
    if (new_session) streams.clear();
    for (auto& [id, s] : streams) s.removed = true;
    session = begin.session;
    next_seq = begin.seq + 1;
    phase = Phase::kLive;
    ++stats.snapshots;
    for (Message& m : staged) {
      if (m.header.type == MessageType::kStream) {
        // A snapshot describes the stream afresh: its telemetry and layout follow.
        auto it = streams.find(m.header.stream);
        const auto& info = std::get<StreamInfo>(m.body);
        if (it != streams.end() && it->second.info.name == info.name && it->second.info.generation == info.generation) {
          it->second.removed = false;
        }
      }
      if (!apply_checked(std::move(m), now)) {
        staged.clear();
        request_snapshot(now);
        return;
      }
    }
    staged.clear();
    staged_bytes = 0;
    staged_begin.reset();
    // Publish messages that came while the snapshot did: those after it, in order.
    std::deque<Message> later = std::move(buffered);
    buffered.clear();
    buffered_bytes = 0;
    for (Message& m : later) {
      if (!take_published(std::move(m), now)) return;
    }
  }

  // A publish message while live; false when it made the client ask for a snapshot.
  bool take_published(Message m, std::uint64_t now) {
    if (m.header.session != session) {
      ++stats.session_changes;
      request_snapshot(now);
      buffer(std::move(m));
      return false;
    }
    if (m.header.seq < next_seq) return true;  // already in the snapshot
    if (m.header.seq > next_seq) {
      ++stats.gaps;
      request_snapshot(now);
      buffer(std::move(m));
      return false;
    }
    ++next_seq;
    if (!apply_checked(std::move(m), now)) {
      request_snapshot(now);
      return false;
    }
    return true;
  }

  void on_published(Message m, std::uint64_t now) {
    if (phase == Phase::kLive) {
      take_published(std::move(m), now);
      return;
    }
    if (phase == Phase::kIdle) request_snapshot(now);
    buffer(std::move(m));
  }

  // Holds a publish message until the snapshot it follows; beyond the bounds the oldest ones go
  // (a gap after the snapshot then asks for another).
  void buffer(Message m) {
    if (buffered.size() >= options.max_buffered || buffered_bytes + last_size > kMaxHeldBytes) {
      buffered.clear();
      buffered_bytes = 0;
    }
    buffered_bytes += last_size;
    buffered.push_back(std::move(m));
  }

  void on_snapshot_message(Message m, std::uint64_t now) {
    if (phase != Phase::kAwaiting) return;  // an answer to an earlier request
    switch (m.header.type) {
      case MessageType::kSnapshotBegin:
        staged.clear();
        staged_bytes = 0;
        staged_begin = m.header;
        return;
      case MessageType::kSnapshotEnd: {
        if (!staged_begin || m.header.session != staged_begin->session || m.header.seq != staged_begin->seq ||
            std::get<SnapshotEnd>(m.body).messages != staged.size()) {
          ++stats.unapplicable;
          request_snapshot(now);
          return;
        }
        // Drop buffered publish messages of another session or already covered.
        std::erase_if(buffered, [&](const Message& b) { return b.header.session != staged_begin->session || b.header.seq <= staged_begin->seq; });
        finish_snapshot(now);
        return;
      }
      case MessageType::kSnapshotRequest:
      case MessageType::kHeartbeat:
        ++stats.unapplicable;
        return;
      default:
        if (!staged_begin || m.header.session != staged_begin->session) {
          ++stats.unapplicable;
          return;
        }
        if (staged.size() >= 4u * kMaxClientStreams + 65536u || staged_bytes + last_size > kMaxHeldBytes) {
          ++stats.unapplicable;  // a snapshot larger than this client holds: ask again later
          request_snapshot(now);
          return;
        }
        staged_bytes += last_size;
        staged.push_back(std::move(m));
        return;
    }
  }

  std::size_t poll(int wait_ms) {
    std::size_t taken = 0;
    zmq::pollitem_t items[2] = {{sub->handle(), 0, ZMQ_POLLIN, 0}, {dealer->handle(), 0, ZMQ_POLLIN, 0}};
    if (wait_ms > 0) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(wait_ms));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw RelayError(std::string("relay client socket: ") + e.what());
      }
    }
    const std::uint64_t now = ipc::monotonic_ns();
    // Bounded per call: a flood cannot hold the caller forever.
    for (int round = 0; round < 100000; ++round) {
      bool any = false;
      zmq::message_t msg;
      if (dealer->recv(msg, zmq::recv_flags::dontwait)) {
        any = true;
        ++taken;
        last_message_ns = now;
        if (msg.more()) {
          ++stats.decode.refused;  // one frame a message
          zmq::message_t rest;
          while (msg.more() && dealer->recv(rest, zmq::recv_flags::dontwait)) msg = std::move(rest);
        } else if (auto m = decode_counted(msg)) {
          on_snapshot_message(std::move(*m), now);
        }
      }
      zmq::message_t pmsg;
      if (sub->recv(pmsg, zmq::recv_flags::dontwait)) {
        any = true;
        ++taken;
        last_message_ns = now;
        if (pmsg.more()) {
          ++stats.decode.refused;
          zmq::message_t rest;
          while (pmsg.more() && sub->recv(rest, zmq::recv_flags::dontwait)) pmsg = std::move(rest);
        } else if (auto m = decode_counted(pmsg)) {
          if (m->header.type == MessageType::kSnapshotBegin || m->header.type == MessageType::kSnapshotEnd ||
              m->header.type == MessageType::kSnapshotRequest) {
            ++stats.unapplicable;
          } else {
            on_published(std::move(*m), now);
          }
        }
      }
      if (!any) break;
    }
    const std::uint64_t t = ipc::monotonic_ns();
    reachable = t - last_message_ns < options.unreachable_after_ns;
    if (!reachable && phase == Phase::kLive) phase = Phase::kIdle;  // resync when it is back
    if (phase == Phase::kAwaiting && t - request_ns > options.snapshot_timeout_ns) {
      make_dealer();  // a request to a relay that went away may be lost with its connection
      request_snapshot(t);
    } else if (phase == Phase::kAwaiting && !staged_begin && reachable && t - last_request_ns > 500'000'000ULL) {
      send_request(t);  // not queued while the relay was not connected: ask again
    }
    if (phase == Phase::kIdle && reachable) request_snapshot(t);
    return taken;
  }
};

RelayClient::RelayClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RelayClient::~RelayClient() = default;
std::size_t RelayClient::poll(int wait_ms) { return impl_->poll(wait_ms); }
bool RelayClient::synced() const noexcept { return impl_->reachable && impl_->phase == Impl::Phase::kLive; }
bool RelayClient::reachable() const noexcept { return impl_->reachable; }
const Endpoint& RelayClient::endpoint() const noexcept { return impl_->endpoint; }
const std::map<std::uint32_t, RemoteStream>& RelayClient::streams() const noexcept { return impl_->streams; }
RemoteStream* RelayClient::find(const std::string& segment) {
  RemoteStream* removed = nullptr;
  for (auto& [id, s] : impl_->streams) {
    if (s.info.name != segment) continue;
    if (!s.removed) return &s;
    removed = &s;
  }
  return removed;
}
const ClientStats& RelayClient::stats() const noexcept { return impl_->stats; }
std::uint64_t RelayClient::session() const noexcept { return impl_->session; }
void RelayClient::set_pose_observer(std::function<void(const RemoteStream&, const PosesMessage&, std::uint64_t)> observer) {
  impl_->observer = std::move(observer);
}

}  // namespace fleetscope::relay
