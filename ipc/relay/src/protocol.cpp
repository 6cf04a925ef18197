#include "fleetscope/relay/protocol.hpp"

#include <zstd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/format.hpp"
#include "fleetscope/ipc/geometry_format.hpp"

namespace fleetscope::relay {
namespace {

static_assert(std::endian::native == std::endian::little, "the protocol is little-endian; so is every supported host");
static_assert(std::variant_size_v<Body> == 10);

[[noreturn]] void refuse(Refusal refusal, const std::string& what) {
  throw ProtocolError(refusal, std::string("relay message refused (") + refusal_name(refusal) + "): " + what);
}

// --- writing ----------------------------------------------------------------------------------------
class Out {
 public:
  std::vector<std::byte> bytes;
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void raw(const void* data, std::size_t size) {
    if (size == 0) return;
    const auto* p = static_cast<const std::byte*>(data);
    bytes.insert(bytes.end(), p, p + size);
  }
  void str(const std::string& s, std::size_t max) {
    const std::size_t n = std::min(s.size(), max);
    put<std::uint16_t>(static_cast<std::uint16_t>(n));
    raw(s.data(), n);
  }
};

// --- reading ----------------------------------------------------------------------------------------
class In {
 public:
  explicit In(std::span<const std::byte> bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  void raw(void* out, std::size_t size) {
    need(size);
    if (size == 0) return;  // `out` may be the null data() of an empty vector
    std::memcpy(out, bytes_.data() + pos_, size);
    pos_ += size;
  }
  // A string of 0..max bytes (min..max), without NUL bytes.
  std::string str(std::size_t min, std::size_t max, const char* what) {
    const std::size_t n = get<std::uint16_t>();
    if (n < min || n > max) {
      refuse(Refusal::kSize, std::string(what) + " of " + std::to_string(n) + " bytes (allowed " + std::to_string(min) +
                                 ".." + std::to_string(max) + ")");
    }
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    if (s.find('\0') != std::string::npos) refuse(Refusal::kContent, std::string(what) + " holds a NUL byte");
    return s;
  }
  // Throws unless `count` items of `item_bytes` each can still follow (before allocating them).
  void need_items(std::uint64_t count, std::uint64_t item_bytes, const char* what) {
    if (count * item_bytes > remaining()) {
      refuse(Refusal::kTruncated, std::to_string(count) + " " + what + " do not fit in the " +
                                      std::to_string(remaining()) + " bytes left");
    }
  }
  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  void finish() const {
    if (pos_ != bytes_.size()) refuse(Refusal::kSize, std::to_string(bytes_.size() - pos_) + " trailing bytes");
  }

 private:
  void need(std::size_t n) const {
    if (bytes_.size() - pos_ < n) refuse(Refusal::kTruncated, "payload ends early");
  }
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

template <std::size_t N>
bool terminated(const char (&field)[N]) {
  return std::memchr(field, 0, N) != nullptr;
}

bool segment_name_ok(const std::string& name) {
  if (name.empty() || name.size() > 47) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr std::size_t kFixedString = ipc::kRobotNameBytes - 1;  // model and robot names: 47 bytes
constexpr std::size_t kTagBytes = 63;
constexpr std::size_t kHostBytes = 31;
constexpr std::size_t kObjectCodeBytes = 47;

// --- bodies -----------------------------------------------------------------------------------------
void write_body(Out&, const SnapshotRequest&) {}
void write_body(Out& o, const SnapshotBegin& b) {
  o.put<std::uint32_t>(b.streams);
  o.put<std::uint32_t>(0);
}
void write_body(Out& o, const SnapshotEnd& b) {
  o.put<std::uint32_t>(b.messages);
  o.put<std::uint32_t>(0);
}
void write_body(Out& o, const Heartbeat& b) {
  o.put<std::uint64_t>(b.relay_wall_ns);
  o.put<std::uint32_t>(b.streams);
  o.put<std::uint32_t>(0);
}
void write_body(Out& o, const StreamInfo& b) {
  o.str(b.name, 47);
  o.put<std::uint64_t>(b.generation);
  o.put<std::int32_t>(b.writer_pid);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.state));
  o.put<std::uint8_t>(b.has_poses ? 1 : 0);
  o.put<std::uint8_t>(b.has_telemetry ? 1 : 0);
  o.put<std::uint16_t>(0);
  o.str(b.error, kMaxErrorBytes);
}
void write_body(Out& o, const LayoutMessage& b) {
  const ipc::LayoutSnapshot& l = b.layout;
  o.put<std::uint64_t>(l.epoch);
  o.put<std::uint8_t>(l.torn ? 1 : 0);
  o.put<std::uint8_t>(0);
  o.put<std::uint16_t>(0);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(l.models.size()));
  for (const ipc::ModelSnapshot& m : l.models) {
    o.str(m.name, kFixedString);
    o.put<std::uint32_t>(static_cast<std::uint32_t>(m.visuals.size()));
    o.raw(m.visuals.data(), m.visuals.size() * sizeof(ipc::LinkVisual));
    o.put<std::uint32_t>(static_cast<std::uint32_t>(m.all_visuals.size()));
    for (const ipc::ModelVisual& v : m.all_visuals) {
      o.put<std::uint32_t>(v.link);
      o.put<std::uint32_t>(v.mesh);
      o.put(v.visual);
    }
  }
  o.put<std::uint32_t>(static_cast<std::uint32_t>(l.robots.size()));
  for (const ipc::RobotSnapshot& r : l.robots) {
    o.put<std::uint32_t>(r.slot);
    o.put<std::uint32_t>(r.model);
    o.put<std::uint64_t>(r.spawn_id);
    o.str(r.name, kFixedString);
  }
}
void write_body(Out& o, const PosesMessage& b) {
  o.put<std::uint64_t>(b.frame.frame);
  o.put<std::uint64_t>(b.frame.publish_ns);
  o.put<double>(b.frame.sim_time);
  o.put<std::uint64_t>(b.frame.dirty_links);
  o.put<std::uint64_t>(b.frame.changed_robots);
  o.put<std::uint8_t>(b.full ? 1 : 0);
  o.put<std::uint8_t>(0);
  o.put<std::uint16_t>(0);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.robots.size()));
  std::size_t total = 0;
  for (const RobotPoses& r : b.robots) {
    o.put<std::uint32_t>(r.slot);
    o.put<std::uint16_t>(static_cast<std::uint16_t>(r.mask.size()));
    o.put<std::uint16_t>(0);
    o.raw(r.mask.data(), r.mask.size() * 8);
    total += r.poses.size();
  }
  // Every pose record of the message, byte-plane shuffled (byte j of record i at j * N + i): the
  // like bytes of like floats side by side, which zstd compresses far better.
  const std::size_t at = o.bytes.size();
  o.bytes.resize(at + total * sizeof(ipc::PoseRecord));
  std::byte* block = o.bytes.data() + at;
  std::size_t i = 0;
  for (const RobotPoses& r : b.robots) {
    for (const ipc::PoseRecord& p : r.poses) {
      const auto* bytes = reinterpret_cast<const std::byte*>(&p);
      for (std::size_t j = 0; j < sizeof(ipc::PoseRecord); ++j) block[j * total + i] = bytes[j];
      ++i;
    }
  }
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.attributes.size()));
  for (const RobotAttributes& a : b.attributes) {
    o.put<std::uint32_t>(a.slot);
    o.put<std::uint32_t>(0);
    o.put<std::uint64_t>(a.words.color_and_flags);
    o.put<std::uint64_t>(a.words.producer);
    o.put<std::uint64_t>(a.words.scalar_bits);
    o.put<std::uint64_t>(a.words.episode);
  }
}
void write_body(Out& o, const TelemetryMessage& b) {
  o.put<std::uint8_t>(b.reset ? 1 : 0);
  o.put<std::uint8_t>(b.workers ? 1 : 0);
  o.put<std::uint8_t>(b.jobs ? 1 : 0);
  o.put<std::uint8_t>(0);
  o.put<std::uint32_t>(b.tag_first);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.tags.size()));
  for (const std::string& t : b.tags) o.str(t, kTagBytes);
  o.put<std::uint64_t>(b.first_index);
  o.put<std::uint64_t>(b.lost);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.samples.size()));
  for (const ipc::ScalarSample& s : b.samples) {
    o.put<std::uint32_t>(s.tag);
    o.put<std::uint32_t>(0);
    o.put<std::int64_t>(s.step);
    o.put<std::uint64_t>(s.wall_unix_ns);
    o.put<double>(s.value);
  }
  if (b.workers) {
    o.put<std::uint32_t>(static_cast<std::uint32_t>(b.workers->size()));
    for (const ipc::WorkerRowRead& w : *b.workers) {
      o.put<std::uint32_t>(w.worker_id);
      o.put<std::int32_t>(w.pid);
      o.put<std::uint64_t>(w.start_ticks);
      o.str(w.host, kHostBytes);
      o.put<std::uint32_t>(static_cast<std::uint32_t>(w.state));
      o.put<std::uint32_t>(w.chunk_size);
      o.put<std::uint64_t>(w.steps);
      o.put<double>(w.steps_per_s);
      o.put<double>(w.exec_s);
      o.put<double>(w.ipc_s);
      o.put<std::uint64_t>(w.heartbeat_ns);
      o.put<std::uint32_t>(w.restarts);
      o.put<std::uint32_t>(0);
    }
  }
  if (b.jobs) {
    o.put<std::uint32_t>(static_cast<std::uint32_t>(b.jobs->size()));
    for (const ipc::JobRowRead& j : *b.jobs) {
      o.str(j.object_code, kObjectCodeBytes);
      o.put<std::uint64_t>(j.target_count);
      o.put<std::uint64_t>(j.collected_count);
      o.put<std::uint32_t>(j.rounds_done);
      o.put<std::uint32_t>(j.rounds_failed);
      o.put<std::uint32_t>(j.rounds_retried);
      o.put<std::int32_t>(j.gpu);
      o.put<std::uint64_t>(j.last_seed);
      o.put<std::uint32_t>(static_cast<std::uint32_t>(j.state));
      o.put<std::uint32_t>(0);
      o.put<std::uint64_t>(j.updated_ns);
    }
  }
}
void write_body(Out&, const Removed&) {}
void write_body(Out& o, const MeshMessage& b) {
  o.put<std::uint32_t>(b.index);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.mesh.vertex_count()));
  o.put<std::uint32_t>(static_cast<std::uint32_t>(b.mesh.triangle_count()));
  o.put<std::uint8_t>(b.mesh.normals.empty() ? 0 : 1);
  o.put<std::uint8_t>(0);
  o.put<std::uint16_t>(0);
  o.raw(b.mesh.vertices.data(), b.mesh.vertices.size() * 4);
  o.raw(b.mesh.triangles.data(), b.mesh.triangles.size() * 4);
  o.raw(b.mesh.normals.data(), b.mesh.normals.size() * 4);
}

// --- reading bodies ------------------------------------------------------------------------------------
void check_reserved(bool zero, const char* what) {
  if (!zero) refuse(Refusal::kContent, std::string("reserved bytes of ") + what + " are not zero");
}

ipc::WriterState writer_state(std::uint32_t v) {
  if (v > static_cast<std::uint32_t>(ipc::WriterState::kClosed)) {
    refuse(Refusal::kContent, "writer state " + std::to_string(v));
  }
  return static_cast<ipc::WriterState>(v);
}

bool flag(In& in, const char* what) {
  const auto v = in.get<std::uint8_t>();
  if (v > 1) refuse(Refusal::kContent, std::string(what) + " is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

void check_visual(const ipc::LinkVisual& v, std::uint32_t shapes, const std::string& which) {
  if (v.shape >= shapes) refuse(Refusal::kContent, which + " has unknown shape " + std::to_string(v.shape));
  if (!terminated(v.link_name) || !terminated(v.mesh_path)) {
    refuse(Refusal::kContent, which + " has a link name or mesh path without its NUL");
  }
}

Body read_stream(In& in) {
  StreamInfo b;
  b.name = in.str(1, 47, "stream name");
  if (!segment_name_ok(b.name)) refuse(Refusal::kContent, "stream name is not a segment name");
  b.generation = in.get<std::uint64_t>();
  b.writer_pid = in.get<std::int32_t>();
  b.state = writer_state(in.get<std::uint32_t>());
  b.has_poses = flag(in, "has_poses");
  b.has_telemetry = flag(in, "has_telemetry");
  check_reserved(in.get<std::uint16_t>() == 0, "stream");
  b.error = in.str(0, kMaxErrorBytes, "error text");
  return b;
}

Body read_layout(In& in) {
  LayoutMessage b;
  ipc::LayoutSnapshot& l = b.layout;
  l.epoch = in.get<std::uint64_t>();
  l.torn = flag(in, "torn");
  check_reserved(in.get<std::uint8_t>() == 0 && in.get<std::uint16_t>() == 0, "layout");
  const std::uint32_t models = in.get<std::uint32_t>();
  if (models > ipc::kMaxModels) refuse(Refusal::kSize, std::to_string(models) + " models");
  in.need_items(models, 2 + 4 + 4, "models");
  std::uint64_t visuals_total = 0;
  l.models.reserve(models);
  for (std::uint32_t i = 0; i < models; ++i) {
    const std::string which = "model " + std::to_string(i);
    ipc::ModelSnapshot m;
    m.name = in.str(0, kFixedString, "model name");
    const std::uint32_t links = in.get<std::uint32_t>();
    if (links == 0 || links > ipc::kMaxLinksPerRobot) refuse(Refusal::kSize, which + " has " + std::to_string(links) + " links");
    visuals_total += links;
    if (visuals_total > ipc::kReaderMaxVisuals) refuse(Refusal::kSize, "more than " + std::to_string(ipc::kReaderMaxVisuals) + " visuals");
    in.need_items(links, sizeof(ipc::LinkVisual), "link visuals");
    m.visuals.resize(links);
    in.raw(m.visuals.data(), links * sizeof(ipc::LinkVisual));
    for (const ipc::LinkVisual& v : m.visuals) check_visual(v, ipc::kShapeCount, which);
    const std::uint32_t all = in.get<std::uint32_t>();
    visuals_total += all;
    if (visuals_total > ipc::kReaderMaxVisuals) refuse(Refusal::kSize, "more than " + std::to_string(ipc::kReaderMaxVisuals) + " visuals");
    in.need_items(all, 8 + sizeof(ipc::LinkVisual), "visuals");
    m.all_visuals.resize(all);
    for (ipc::ModelVisual& v : m.all_visuals) {
      v.link = in.get<std::uint32_t>();
      v.mesh = in.get<std::uint32_t>();
      v.visual = in.get<ipc::LinkVisual>();
      if (v.link >= links) refuse(Refusal::kIndex, which + " has a visual of link " + std::to_string(v.link) + " of " + std::to_string(links));
      check_visual(v.visual, ipc::kExtendedShapeCount, which);
      const bool inline_mesh = v.visual.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh);
      if (inline_mesh ? v.mesh >= ipc::kMaxMeshes : v.mesh != 0) {
        refuse(Refusal::kIndex, which + " refers to mesh " + std::to_string(v.mesh));
      }
    }
    l.models.push_back(std::move(m));
  }
  const std::uint32_t robots = in.get<std::uint32_t>();
  if (robots > ipc::kReaderMaxRobots) refuse(Refusal::kSize, std::to_string(robots) + " robots");
  in.need_items(robots, 4 + 4 + 8 + 2, "robots");
  l.robots.reserve(robots);
  std::uint64_t links_total = 0;
  for (std::uint32_t i = 0; i < robots; ++i) {
    ipc::RobotSnapshot r;
    r.slot = in.get<std::uint32_t>();
    r.model = in.get<std::uint32_t>();
    r.spawn_id = in.get<std::uint64_t>();
    r.name = in.str(0, kFixedString, "robot name");
    if (r.slot >= ipc::kReaderMaxRobots || (!l.robots.empty() && r.slot <= l.robots.back().slot)) {
      refuse(Refusal::kIndex, "robot slot " + std::to_string(r.slot) + " out of order or range");
    }
    if (r.model >= l.models.size()) refuse(Refusal::kIndex, "robot slot " + std::to_string(r.slot) + " refers to model " + std::to_string(r.model));
    if (r.spawn_id == 0) refuse(Refusal::kContent, "robot slot " + std::to_string(r.slot) + " has spawn id 0");
    r.link_count = static_cast<std::uint32_t>(l.models[r.model].visuals.size());
    links_total += r.link_count;
    if (links_total > ipc::kReaderMaxLinks) refuse(Refusal::kSize, "more than " + std::to_string(ipc::kReaderMaxLinks) + " links");
    l.robots.push_back(std::move(r));
  }
  return b;
}

Body read_poses(In& in) {
  PosesMessage b;
  b.frame.frame = in.get<std::uint64_t>();
  b.frame.publish_ns = in.get<std::uint64_t>();
  b.frame.sim_time = in.get<double>();
  b.frame.dirty_links = in.get<std::uint64_t>();
  b.frame.changed_robots = in.get<std::uint64_t>();
  b.full = flag(in, "full");
  check_reserved(in.get<std::uint8_t>() == 0 && in.get<std::uint16_t>() == 0, "poses");
  const std::uint32_t robots = in.get<std::uint32_t>();
  if (robots > ipc::kReaderMaxRobots) refuse(Refusal::kSize, std::to_string(robots) + " robots");
  in.need_items(robots, 8, "robots");
  b.robots.resize(robots);
  std::uint64_t links_total = 0;
  for (std::uint32_t i = 0; i < robots; ++i) {
    RobotPoses& r = b.robots[i];
    r.slot = in.get<std::uint32_t>();
    if (r.slot >= ipc::kReaderMaxRobots || (i > 0 && r.slot <= b.robots[i - 1].slot)) {
      refuse(Refusal::kIndex, "robot slot " + std::to_string(r.slot) + " out of order or range");
    }
    const std::uint16_t words = in.get<std::uint16_t>();
    check_reserved(in.get<std::uint16_t>() == 0, "robot poses");
    if (words == 0 || words > (ipc::kMaxLinksPerRobot + 63) / 64) refuse(Refusal::kSize, std::to_string(words) + " mask words");
    in.need_items(words, 8, "mask words");
    r.mask.resize(words);
    in.raw(r.mask.data(), words * 8u);
    std::size_t count = 0;
    for (const std::uint64_t w : r.mask) count += static_cast<std::size_t>(std::popcount(w));
    links_total += count;
    if (links_total > ipc::kReaderMaxLinks) refuse(Refusal::kSize, "more than " + std::to_string(ipc::kReaderMaxLinks) + " links");
  }
  in.need_items(links_total, sizeof(ipc::PoseRecord), "poses");  // before allocating any
  for (RobotPoses& r : b.robots) {
    std::size_t count = 0;
    for (const std::uint64_t w : r.mask) count += static_cast<std::size_t>(std::popcount(w));
    r.poses.resize(count);
  }
  std::vector<std::byte> block(static_cast<std::size_t>(links_total) * sizeof(ipc::PoseRecord));
  in.raw(block.data(), block.size());
  const auto total = static_cast<std::size_t>(links_total);
  std::size_t i = 0;
  for (RobotPoses& r : b.robots) {
    for (ipc::PoseRecord& p : r.poses) {
      auto* bytes = reinterpret_cast<std::byte*>(&p);
      for (std::size_t j = 0; j < sizeof(ipc::PoseRecord); ++j) bytes[j] = block[j * total + i];
      ++i;
    }
  }
  const std::uint32_t attributes = in.get<std::uint32_t>();
  if (attributes > ipc::kReaderMaxRobots) refuse(Refusal::kSize, std::to_string(attributes) + " attribute entries");
  in.need_items(attributes, 40, "attribute entries");
  b.attributes.resize(attributes);
  for (std::uint32_t i = 0; i < attributes; ++i) {
    RobotAttributes& a = b.attributes[i];
    a.slot = in.get<std::uint32_t>();
    if (a.slot >= ipc::kReaderMaxRobots || (i > 0 && a.slot <= b.attributes[i - 1].slot)) {
      refuse(Refusal::kIndex, "attribute slot " + std::to_string(a.slot) + " out of order or range");
    }
    check_reserved(in.get<std::uint32_t>() == 0, "attributes");
    a.words.color_and_flags = in.get<std::uint64_t>();
    a.words.producer = in.get<std::uint64_t>();
    a.words.scalar_bits = in.get<std::uint64_t>();
    a.words.episode = in.get<std::uint64_t>();
  }
  return b;
}

Body read_telemetry(In& in) {
  TelemetryMessage b;
  b.reset = flag(in, "reset");
  const bool workers = flag(in, "has_workers");
  const bool jobs = flag(in, "has_jobs");
  check_reserved(in.get<std::uint8_t>() == 0, "telemetry");
  b.tag_first = in.get<std::uint32_t>();
  const std::uint32_t tags = in.get<std::uint32_t>();
  if (b.tag_first > kMaxTags || tags > kMaxTags - b.tag_first) {
    refuse(Refusal::kIndex, "tags [" + std::to_string(b.tag_first) + ", +" + std::to_string(tags) + ")");
  }
  in.need_items(tags, 2, "tags");
  b.tags.reserve(tags);
  for (std::uint32_t i = 0; i < tags; ++i) b.tags.push_back(in.str(0, kTagBytes, "tag"));
  b.first_index = in.get<std::uint64_t>();
  b.lost = in.get<std::uint64_t>();
  const std::uint32_t samples = in.get<std::uint32_t>();
  if (samples > kMaxSamplesPerMessage) refuse(Refusal::kSize, std::to_string(samples) + " samples");
  if (b.first_index > UINT64_MAX - samples) refuse(Refusal::kIndex, "sample index overflows");
  in.need_items(samples, 32, "samples");
  b.samples.resize(samples);
  for (ipc::ScalarSample& s : b.samples) {
    s.tag = in.get<std::uint32_t>();
    if (s.tag >= kMaxTags) refuse(Refusal::kIndex, "sample of tag " + std::to_string(s.tag));
    check_reserved(in.get<std::uint32_t>() == 0, "sample");
    s.step = in.get<std::int64_t>();
    s.wall_unix_ns = in.get<std::uint64_t>();
    s.value = in.get<double>();
  }
  if (workers) {
    const std::uint32_t n = in.get<std::uint32_t>();
    if (n > kMaxWorkerRows) refuse(Refusal::kSize, std::to_string(n) + " worker rows");
    in.need_items(n, 74, "worker rows");
    std::vector<ipc::WorkerRowRead> rows(n);
    for (ipc::WorkerRowRead& w : rows) {
      w.worker_id = in.get<std::uint32_t>();
      w.pid = in.get<std::int32_t>();
      w.start_ticks = in.get<std::uint64_t>();
      w.host = in.str(0, kHostBytes, "worker host");
      w.state = static_cast<ipc::WorkerState>(in.get<std::uint32_t>());  // unknown values shown as "unknown"
      w.chunk_size = in.get<std::uint32_t>();
      w.steps = in.get<std::uint64_t>();
      w.steps_per_s = in.get<double>();
      w.exec_s = in.get<double>();
      w.ipc_s = in.get<double>();
      w.heartbeat_ns = in.get<std::uint64_t>();
      w.restarts = in.get<std::uint32_t>();
      check_reserved(in.get<std::uint32_t>() == 0, "worker row");
    }
    b.workers = std::move(rows);
  }
  if (jobs) {
    const std::uint32_t n = in.get<std::uint32_t>();
    if (n > kMaxJobRows) refuse(Refusal::kSize, std::to_string(n) + " job rows");
    in.need_items(n, 58, "job rows");
    std::vector<ipc::JobRowRead> rows(n);
    for (ipc::JobRowRead& j : rows) {
      j.object_code = in.str(0, kObjectCodeBytes, "job object code");
      j.target_count = in.get<std::uint64_t>();
      j.collected_count = in.get<std::uint64_t>();
      j.rounds_done = in.get<std::uint32_t>();
      j.rounds_failed = in.get<std::uint32_t>();
      j.rounds_retried = in.get<std::uint32_t>();
      j.gpu = in.get<std::int32_t>();
      j.last_seed = in.get<std::uint64_t>();
      j.state = static_cast<ipc::JobState>(in.get<std::uint32_t>());
      check_reserved(in.get<std::uint32_t>() == 0, "job row");
      j.updated_ns = in.get<std::uint64_t>();
    }
    b.jobs = std::move(rows);
  }
  return b;
}

Body read_mesh(In& in) {
  MeshMessage b;
  b.index = in.get<std::uint32_t>();
  if (b.index >= ipc::kMaxMeshes) refuse(Refusal::kIndex, "mesh " + std::to_string(b.index));
  const std::uint32_t v = in.get<std::uint32_t>();
  const std::uint32_t t = in.get<std::uint32_t>();
  const bool normals = flag(in, "normals");
  check_reserved(in.get<std::uint8_t>() == 0 && in.get<std::uint16_t>() == 0, "mesh");
  if (v == 0 || v > ipc::kMaxMeshVertices || t == 0 || t > ipc::kMaxMeshTriangles) {
    refuse(Refusal::kSize, "mesh of " + std::to_string(v) + " vertices and " + std::to_string(t) + " triangles");
  }
  in.need_items(std::uint64_t{v} * (normals ? 2 : 1) + t, 12, "mesh vertices and triangles");
  b.mesh.vertices.resize(std::size_t{v} * 3);
  in.raw(b.mesh.vertices.data(), b.mesh.vertices.size() * 4);
  b.mesh.triangles.resize(std::size_t{t} * 3);
  in.raw(b.mesh.triangles.data(), b.mesh.triangles.size() * 4);
  if (normals) {
    b.mesh.normals.resize(std::size_t{v} * 3);
    in.raw(b.mesh.normals.data(), b.mesh.normals.size() * 4);
  }
  try {
    ipc::validate_mesh(b.mesh);
  } catch (const ipc::SegmentError& e) {
    refuse(Refusal::kContent, std::string("mesh ") + std::to_string(b.index) + ": " + e.what());
  }
  return b;
}

Body read_body(MessageType type, In& in) {
  switch (type) {
    case MessageType::kSnapshotRequest: return SnapshotRequest{};
    case MessageType::kSnapshotBegin: {
      SnapshotBegin b;
      b.streams = in.get<std::uint32_t>();
      check_reserved(in.get<std::uint32_t>() == 0, "snapshot begin");
      if (b.streams > kMaxStreams) refuse(Refusal::kSize, std::to_string(b.streams) + " streams");
      return b;
    }
    case MessageType::kSnapshotEnd: {
      SnapshotEnd b;
      b.messages = in.get<std::uint32_t>();
      check_reserved(in.get<std::uint32_t>() == 0, "snapshot end");
      return b;
    }
    case MessageType::kHeartbeat: {
      Heartbeat b;
      b.relay_wall_ns = in.get<std::uint64_t>();
      b.streams = in.get<std::uint32_t>();
      check_reserved(in.get<std::uint32_t>() == 0, "heartbeat");
      if (b.streams > kMaxStreams) refuse(Refusal::kSize, std::to_string(b.streams) + " streams");
      return b;
    }
    case MessageType::kStream: return read_stream(in);
    case MessageType::kLayout: return read_layout(in);
    case MessageType::kPoses: return read_poses(in);
    case MessageType::kTelemetry: return read_telemetry(in);
    case MessageType::kRemoved: return Removed{};
    case MessageType::kMesh: return read_mesh(in);
  }
  refuse(Refusal::kType, "unknown message type " + std::to_string(static_cast<unsigned>(type)));
}

bool needs_stream(MessageType type) {
  switch (type) {
    case MessageType::kStream:
    case MessageType::kLayout:
    case MessageType::kPoses:
    case MessageType::kTelemetry:
    case MessageType::kRemoved:
    case MessageType::kMesh: return true;
    default: return false;
  }
}

}  // namespace

const char* message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::kSnapshotRequest: return "snapshot-request";
    case MessageType::kSnapshotBegin: return "snapshot-begin";
    case MessageType::kSnapshotEnd: return "snapshot-end";
    case MessageType::kHeartbeat: return "heartbeat";
    case MessageType::kStream: return "stream";
    case MessageType::kLayout: return "layout";
    case MessageType::kPoses: return "poses";
    case MessageType::kTelemetry: return "telemetry";
    case MessageType::kRemoved: return "removed";
    case MessageType::kMesh: return "mesh";
  }
  return "unknown";
}

const char* refusal_name(Refusal refusal) noexcept {
  switch (refusal) {
    case Refusal::kTruncated: return "truncated";
    case Refusal::kMagic: return "magic";
    case Refusal::kVersion: return "version";
    case Refusal::kType: return "type";
    case Refusal::kSize: return "size";
    case Refusal::kCompression: return "compression";
    case Refusal::kContent: return "content";
    case Refusal::kIndex: return "index";
    case Refusal::kCount_: break;
  }
  return "unknown";
}

std::vector<std::byte> encode(const Header& header, const Body& body, bool compress) {
  Out payload;
  std::visit([&](const auto& b) { write_body(payload, b); }, body);
  if (payload.bytes.size() > kMaxPayloadBytes) {
    throw std::length_error("relay message of " + std::to_string(payload.bytes.size()) + " bytes exceeds the protocol's limit");
  }
  std::vector<std::byte> stored;
  std::uint32_t flags = 0;
  if (compress && payload.bytes.size() >= 256) {
    stored.resize(ZSTD_compressBound(payload.bytes.size()));
    const std::size_t n = ZSTD_compress(stored.data(), stored.size(), payload.bytes.data(), payload.bytes.size(), 3);
    if (!ZSTD_isError(n) && n < payload.bytes.size()) {
      stored.resize(n);
      flags |= kFlagZstd;
    } else {
      stored.clear();
    }
  }
  const std::vector<std::byte>& data = (flags & kFlagZstd) ? stored : payload.bytes;
  Out o;
  o.bytes.reserve(kHeaderBytes + data.size());
  o.put<std::uint32_t>(kMagic);
  o.put<std::uint16_t>(kVersion);
  o.put<std::uint16_t>(static_cast<std::uint16_t>(body.index() + 1));
  o.put<std::uint64_t>(header.session);
  o.put<std::uint64_t>(header.seq);
  o.put<std::uint32_t>(header.stream);
  o.put<std::uint32_t>(flags);
  o.put<std::uint32_t>(static_cast<std::uint32_t>(payload.bytes.size()));
  o.put<std::uint32_t>(static_cast<std::uint32_t>(data.size()));
  o.raw(data.data(), data.size());
  return std::move(o.bytes);
}

namespace {
struct RawHeader {
  Header header;
  std::uint32_t flags = 0;
  std::uint32_t raw_size = 0;
  std::uint32_t stored_size = 0;
};

RawHeader read_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kHeaderBytes) refuse(Refusal::kTruncated, std::to_string(bytes.size()) + " bytes, shorter than the header");
  In in(bytes.first(kHeaderBytes));
  RawHeader r;
  if (in.get<std::uint32_t>() != kMagic) refuse(Refusal::kMagic, "not a fleetscope relay message");
  const std::uint16_t version = in.get<std::uint16_t>();
  if (version != kVersion) {
    refuse(Refusal::kVersion, "protocol version " + std::to_string(version) + ", this side speaks " + std::to_string(kVersion));
  }
  const std::uint16_t type = in.get<std::uint16_t>();
  if (type < 1 || type > std::variant_size_v<Body>) refuse(Refusal::kType, "unknown message type " + std::to_string(type));
  r.header.type = static_cast<MessageType>(type);
  r.header.session = in.get<std::uint64_t>();
  r.header.seq = in.get<std::uint64_t>();
  r.header.stream = in.get<std::uint32_t>();
  r.flags = in.get<std::uint32_t>();
  r.raw_size = in.get<std::uint32_t>();
  r.stored_size = in.get<std::uint32_t>();
  if (r.flags & ~kFlagZstd) refuse(Refusal::kCompression, "unknown flags " + std::to_string(r.flags));
  if (r.stored_size != bytes.size() - kHeaderBytes) {
    refuse(Refusal::kSize, "header says " + std::to_string(r.stored_size) + " payload bytes, the message has " +
                               std::to_string(bytes.size() - kHeaderBytes));
  }
  if (r.raw_size > kMaxPayloadBytes) refuse(Refusal::kSize, "payload of " + std::to_string(r.raw_size) + " bytes");
  if (!(r.flags & kFlagZstd) && r.raw_size != r.stored_size) refuse(Refusal::kSize, "uncompressed payload sizes differ");
  if (needs_stream(r.header.type) == (r.header.stream == kNoStream)) {
    refuse(Refusal::kIndex, std::string(message_type_name(r.header.type)) + " message with stream " + std::to_string(r.header.stream));
  }
  if (r.header.stream != kNoStream && r.header.stream >= kMaxStreams) {
    refuse(Refusal::kIndex, "stream " + std::to_string(r.header.stream));
  }
  return r;
}
}  // namespace

Header decode_header(std::span<const std::byte> bytes) { return read_header(bytes).header; }

Message decode(std::span<const std::byte> bytes) {
  const RawHeader h = read_header(bytes);
  const std::span<const std::byte> stored = bytes.subspan(kHeaderBytes);
  std::vector<std::byte> raw;
  std::span<const std::byte> payload = stored;
  if (h.flags & kFlagZstd) {
    // One frame, with its content size, equal to the declared size: checked before allocating or
    // decompressing anything (a bomb declares a small size or none).
    const unsigned long long content = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (content == ZSTD_CONTENTSIZE_ERROR) refuse(Refusal::kCompression, "not a zstd frame");
    if (content == ZSTD_CONTENTSIZE_UNKNOWN) refuse(Refusal::kCompression, "zstd frame without its content size");
    if (content != h.raw_size) {
      refuse(Refusal::kCompression, "zstd frame holds " + std::to_string(content) + " bytes, the header says " + std::to_string(h.raw_size));
    }
    const std::size_t frame = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
    if (ZSTD_isError(frame) || frame != stored.size()) refuse(Refusal::kCompression, "zstd frame size does not match the payload");
    raw.resize(h.raw_size);
    const std::size_t n = ZSTD_decompress(raw.data(), raw.size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != h.raw_size) refuse(Refusal::kCompression, "zstd frame does not decompress to its content size");
    payload = raw;
  }
  In in(payload);
  Message m;
  m.header = h.header;
  m.body = read_body(h.header.type, in);
  in.finish();
  return m;
}

}  // namespace fleetscope::relay
