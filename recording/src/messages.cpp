#include "fleetscope/recording/messages.hpp"

#include <cstdio>
#include <cstring>

#include "bytes.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/mesh_data.hpp"

namespace fleetscope::recording {

namespace {

using detail::ByteWriter;
using Reader = detail::ByteReader<McapError>;

// A count read from a message is believed only if that many elements of at least `min_bytes`
// each can follow: a hostile count never makes the decoder allocate more than the message holds.
std::uint32_t get_count(Reader& r, std::size_t min_bytes, const char* what) {
  const auto n = r.get<std::uint32_t>();
  if (min_bytes > 0 && n > r.remaining() / min_bytes) {
    throw McapError(std::string(what) + " count " + std::to_string(n) + " does not fit in the message");
  }
  return n;
}

void done(const Reader& r, const char* what) {
  if (!r.done()) throw McapError(std::string(what) + ": " + std::to_string(r.remaining()) + " bytes left over");
}

template <std::size_t N>
void put_fixed(ByteWriter& w, const char (&field)[N]) {
  w.str(std::string_view(field, strnlen(field, N)));
}

template <std::size_t N>
void get_fixed(Reader& r, char (&field)[N], const char* what) {
  const std::string s = r.str();
  if (s.size() >= N || s.find('\0') != std::string::npos) {
    throw McapError(std::string(what) + " is longer than " + std::to_string(N - 1) + " bytes or holds a NUL");
  }
  std::memset(field, 0, N);
  std::memcpy(field, s.data(), s.size());
}

void put_visual(ByteWriter& w, const ipc::LinkVisual& v) {
  put_fixed(w, v.link_name);
  w.put<std::uint32_t>(v.shape);
  for (float f : v.dims) w.put<float>(f);
  for (float f : v.scale) w.put<float>(f);
  for (float f : v.offset_position) w.put<float>(f);
  for (float f : v.offset_orientation) w.put<float>(f);
  for (std::uint8_t c : v.rgba) w.put<std::uint8_t>(c);
  put_fixed(w, v.mesh_path);
}

constexpr std::size_t kVisualMinBytes = 4 + 4 + 13 * 4 + 4 + 4;

ipc::LinkVisual get_visual(Reader& r) {
  ipc::LinkVisual v{};
  get_fixed(r, v.link_name, "link name");
  v.shape = r.get<std::uint32_t>();
  if (v.shape >= ipc::kExtendedShapeCount) throw McapError("visual shape " + std::to_string(v.shape) + " unknown");
  for (float& f : v.dims) f = r.get<float>();
  for (float& f : v.scale) f = r.get<float>();
  for (float& f : v.offset_position) f = r.get<float>();
  for (float& f : v.offset_orientation) f = r.get<float>();
  for (std::uint8_t& c : v.rgba) c = r.get<std::uint8_t>();
  get_fixed(r, v.mesh_path, "mesh path");
  return v;
}

}  // namespace

std::vector<std::byte> encode(const LayoutMessage& m) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.str(m.segment);
  w.put<std::uint64_t>(m.generation);
  w.put<std::int32_t>(m.writer_pid);
  w.put<std::uint32_t>((m.has_poses ? 1u : 0u) | (m.has_telemetry ? 2u : 0u));
  w.put<std::uint64_t>(m.epoch);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.models.size()));
  for (const auto& model : m.models) {
    w.str(model.name);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(model.visuals.size()));
    for (const auto& v : model.visuals) put_visual(w, v);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(model.all_visuals.size()));
    for (const auto& mv : model.all_visuals) {
      w.put<std::uint32_t>(mv.link);
      w.put<std::uint32_t>(mv.mesh);
      put_visual(w, mv.visual);
    }
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.robots.size()));
  for (const auto& r : m.robots) {
    w.put<std::uint32_t>(r.slot);
    w.str(r.name);
    w.put<std::uint32_t>(r.model);
    w.put<std::uint32_t>(r.link_count);
    w.put<std::uint64_t>(r.spawn_id);
  }
  return out;
}

LayoutMessage decode_layout(std::span<const std::byte> data) {
  Reader r(data, "layout message");
  LayoutMessage m;
  m.segment = r.str();
  m.generation = r.get<std::uint64_t>();
  m.writer_pid = r.get<std::int32_t>();
  const auto flags = r.get<std::uint32_t>();
  m.has_poses = flags & 1u;
  m.has_telemetry = flags & 2u;
  m.epoch = r.get<std::uint64_t>();
  const auto models = get_count(r, 12, "model");
  m.models.resize(models);
  for (auto& model : m.models) {
    model.name = r.str();
    const auto links = get_count(r, kVisualMinBytes, "link");
    if (links > ipc::kMaxLinksPerRobot) throw McapError("model '" + model.name + "' has too many links");
    model.visuals.reserve(links);
    for (std::uint32_t l = 0; l < links; ++l) model.visuals.push_back(get_visual(r));
    const auto visuals = get_count(r, 8 + kVisualMinBytes, "visual");
    model.all_visuals.reserve(visuals);
    for (std::uint32_t v = 0; v < visuals; ++v) {
      ipc::ModelVisual mv;
      mv.link = r.get<std::uint32_t>();
      mv.mesh = r.get<std::uint32_t>();
      mv.visual = get_visual(r);
      if (mv.link >= links) throw McapError("visual of model '" + model.name + "' names link " + std::to_string(mv.link));
      model.all_visuals.push_back(mv);
    }
  }
  const auto robots = get_count(r, 24, "robot");
  m.robots.resize(robots);
  for (auto& robot : m.robots) {
    robot.slot = r.get<std::uint32_t>();
    robot.name = r.str();
    robot.model = r.get<std::uint32_t>();
    robot.link_count = r.get<std::uint32_t>();
    robot.spawn_id = r.get<std::uint64_t>();
    if (robot.model >= models) throw McapError("robot '" + robot.name + "' names model " + std::to_string(robot.model));
    if (robot.link_count != m.models[robot.model].visuals.size()) {
      throw McapError("robot '" + robot.name + "' has a link count other than its model's");
    }
  }
  done(r, "layout message");
  return m;
}

// Poses are stored byte-plane by byte-plane (FORMAT.md): byte b of field k (x y z qx qy qz qw) of
// every pose, for b = 0..3, k = 0..6. Neighbouring links' exponents and high mantissa bytes then
// sit together, which zstd compresses about 1.6 times better than whole records.
std::vector<std::byte> encode(const PoseFrameMessage& m) {
  std::vector<std::byte> out;
  std::size_t total = 0;
  for (const auto& r : m.robots) total += r.links.size();
  out.reserve(52 + m.robots.size() * 8 + total * 30);
  ByteWriter w(out);
  w.put<std::uint64_t>(m.frame);
  w.put<double>(m.sim_time);
  w.put<std::uint64_t>(m.publish_ns);
  w.put<std::uint64_t>(m.generation);
  w.put<std::uint64_t>(m.epoch);
  w.put<std::uint64_t>(m.frames_lost);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.robots.size()));
  for (const auto& r : m.robots) {
    w.put<std::uint32_t>(r.slot);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(r.links.size()));
  }
  for (const auto& r : m.robots) {
    for (auto l : r.links) w.put<std::uint16_t>(l);
  }
  const std::size_t planes = out.size();
  out.resize(planes + total * 28);
  std::byte* base = out.data() + planes;
  std::size_t i = 0;
  for (const auto& r : m.robots) {
    for (const auto& p : r.poses) {
      std::uint32_t words[7];
      std::memcpy(words, p.position, 12);
      std::memcpy(words + 3, p.orientation, 16);
      for (int k = 0; k < 7; ++k) {
        for (int b = 0; b < 4; ++b) base[(static_cast<std::size_t>(b) * 7 + k) * total + i] = static_cast<std::byte>(words[k] >> (8 * b));
      }
      ++i;
    }
  }
  return out;
}

PoseFrameMessage decode_pose_frame(std::span<const std::byte> data) {
  Reader r(data, "pose message");
  PoseFrameMessage m;
  m.frame = r.get<std::uint64_t>();
  m.sim_time = r.get<double>();
  m.publish_ns = r.get<std::uint64_t>();
  m.generation = r.get<std::uint64_t>();
  m.epoch = r.get<std::uint64_t>();
  m.frames_lost = r.get<std::uint64_t>();
  const auto robots = get_count(r, 8, "robot");
  m.robots.resize(robots);
  std::uint64_t total = 0;
  for (auto& rp : m.robots) {
    rp.slot = r.get<std::uint32_t>();
    const auto n = r.get<std::uint32_t>();
    total += n;
    if (total > r.remaining() / 30) throw McapError("pose message: link count does not fit in the message");
    rp.links.resize(n);
    rp.poses.resize(n);
  }
  for (auto& rp : m.robots) {
    for (auto& l : rp.links) l = r.get<std::uint16_t>();
  }
  const auto planes = r.take(total * 28);
  std::size_t i = 0;
  for (auto& rp : m.robots) {
    for (auto& p : rp.poses) {
      std::uint32_t words[7];
      for (int k = 0; k < 7; ++k) {
        std::uint32_t w = 0;
        for (int b = 0; b < 4; ++b) w |= static_cast<std::uint32_t>(planes[(static_cast<std::size_t>(b) * 7 + k) * total + i]) << (8 * b);
        words[k] = w;
      }
      std::memcpy(p.position, words, 12);
      std::memcpy(p.orientation, words + 3, 16);
      p.pad = 0.0f;
      ++i;
    }
  }
  done(r, "pose message");
  return m;
}

std::vector<std::byte> encode(const TagsMessage& m) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.put<std::uint32_t>(m.first);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.names.size()));
  for (const auto& n : m.names) w.str(n);
  return out;
}

TagsMessage decode_tags(std::span<const std::byte> data) {
  Reader r(data, "tags message");
  TagsMessage m;
  m.first = r.get<std::uint32_t>();
  const auto n = get_count(r, 4, "tag");
  m.names.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) m.names.push_back(r.str());
  done(r, "tags message");
  return m;
}

std::vector<std::byte> encode(const ScalarsMessage& m) {
  std::vector<std::byte> out;
  out.reserve(12 + m.samples.size() * 28);
  ByteWriter w(out);
  w.put<std::uint64_t>(m.lost);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.samples.size()));
  for (const auto& s : m.samples) {
    w.put<std::uint32_t>(s.tag);
    w.put<std::int64_t>(s.step);
    w.put<std::uint64_t>(s.wall_unix_ns);
    w.put<double>(s.value);
  }
  return out;
}

ScalarsMessage decode_scalars(std::span<const std::byte> data) {
  Reader r(data, "scalars message");
  ScalarsMessage m;
  m.lost = r.get<std::uint64_t>();
  const auto n = get_count(r, 28, "scalar");
  m.samples.resize(n);
  for (auto& s : m.samples) {
    s.tag = r.get<std::uint32_t>();
    s.step = r.get<std::int64_t>();
    s.wall_unix_ns = r.get<std::uint64_t>();
    s.value = r.get<double>();
  }
  done(r, "scalars message");
  return m;
}

std::vector<std::byte> encode(const AttributesMessage& m) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.robots.size()));
  for (const auto& [slot, a] : m.robots) {
    w.put<std::uint32_t>(slot);
    w.put<std::uint64_t>(a.color_and_flags);
    w.put<std::uint64_t>(a.producer);
    w.put<std::uint64_t>(a.scalar_bits);
    w.put<std::uint64_t>(a.episode);
  }
  return out;
}

AttributesMessage decode_attributes(std::span<const std::byte> data) {
  Reader r(data, "attributes message");
  AttributesMessage m;
  const auto n = get_count(r, 36, "robot");
  m.robots.resize(n);
  for (auto& [slot, a] : m.robots) {
    slot = r.get<std::uint32_t>();
    a.color_and_flags = r.get<std::uint64_t>();
    a.producer = r.get<std::uint64_t>();
    a.scalar_bits = r.get<std::uint64_t>();
    a.episode = r.get<std::uint64_t>();
  }
  done(r, "attributes message");
  return m;
}

std::vector<std::byte> encode(const MeshMessage& m) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.put<std::uint64_t>(m.generation);
  w.put<std::uint32_t>(m.index);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.mesh.vertex_count()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.mesh.triangle_count()));
  w.put<std::uint32_t>(m.mesh.normals.empty() ? 0u : 1u);
  w.bytes(m.mesh.vertices.data(), m.mesh.vertices.size() * sizeof(float));
  w.bytes(m.mesh.triangles.data(), m.mesh.triangles.size() * sizeof(std::uint32_t));
  w.bytes(m.mesh.normals.data(), m.mesh.normals.size() * sizeof(float));
  return out;
}

MeshMessage decode_mesh_message(std::span<const std::byte> data) {
  Reader r(data, "mesh message");
  MeshMessage m;
  m.generation = r.get<std::uint64_t>();
  m.index = r.get<std::uint32_t>();
  const auto vertices = r.get<std::uint32_t>();
  const auto triangles = r.get<std::uint32_t>();
  const auto flags = r.get<std::uint32_t>();
  if (flags > 1) throw McapError("mesh message: unknown flags " + std::to_string(flags));
  const std::uint64_t bytes = 12ULL * vertices + 12ULL * triangles + (flags ? 12ULL * vertices : 0);
  if (bytes != r.remaining()) throw McapError("mesh message: counts do not match its size");
  auto copy = [&](auto& v, std::uint64_t n) {
    v.resize(static_cast<std::size_t>(n));
    const auto b = r.take(n * sizeof(v[0]));
    std::memcpy(v.data(), b.data(), b.size());
  };
  copy(m.mesh.vertices, 3ULL * vertices);
  copy(m.mesh.triangles, 3ULL * triangles);
  if (flags) copy(m.mesh.normals, 3ULL * vertices);
  try {
    ipc::validate_mesh(m.mesh);
  } catch (const ipc::SegmentError& e) {
    throw McapError(std::string("mesh message: ") + e.what());
  }
  return m;
}

std::vector<std::byte> encode_workers(const std::vector<ipc::WorkerRowRead>& rows) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(rows.size()));
  for (const auto& row : rows) {
    w.put<std::uint32_t>(row.worker_id);
    w.put<std::int32_t>(row.pid);
    w.str(row.host);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(row.state));
    w.put<std::uint32_t>(row.chunk_size);
    w.put<std::uint64_t>(row.steps);
    w.put<double>(row.steps_per_s);
    w.put<double>(row.exec_s);
    w.put<double>(row.ipc_s);
    w.put<std::uint32_t>(row.restarts);
    w.put<std::uint64_t>(row.start_ticks);
    w.put<std::uint64_t>(row.heartbeat_ns);
  }
  return out;
}

std::vector<ipc::WorkerRowRead> decode_workers(std::span<const std::byte> data) {
  Reader r(data, "workers message");
  std::vector<ipc::WorkerRowRead> rows(get_count(r, 72, "worker"));
  for (auto& row : rows) {
    row.worker_id = r.get<std::uint32_t>();
    row.pid = r.get<std::int32_t>();
    row.host = r.str();
    row.state = static_cast<ipc::WorkerState>(r.get<std::uint32_t>());
    row.chunk_size = r.get<std::uint32_t>();
    row.steps = r.get<std::uint64_t>();
    row.steps_per_s = r.get<double>();
    row.exec_s = r.get<double>();
    row.ipc_s = r.get<double>();
    row.restarts = r.get<std::uint32_t>();
    row.start_ticks = r.get<std::uint64_t>();
    row.heartbeat_ns = r.get<std::uint64_t>();
  }
  done(r, "workers message");
  return rows;
}

std::vector<std::byte> encode_jobs(const std::vector<ipc::JobRowRead>& rows) {
  std::vector<std::byte> out;
  ByteWriter w(out);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(rows.size()));
  for (const auto& row : rows) {
    w.str(row.object_code);
    w.put<std::uint64_t>(row.target_count);
    w.put<std::uint64_t>(row.collected_count);
    w.put<std::uint32_t>(row.rounds_done);
    w.put<std::uint32_t>(row.rounds_failed);
    w.put<std::uint32_t>(row.rounds_retried);
    w.put<std::int32_t>(row.gpu);
    w.put<std::uint64_t>(row.last_seed);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(row.state));
    w.put<std::uint64_t>(row.updated_ns);
  }
  return out;
}

std::vector<ipc::JobRowRead> decode_jobs(std::span<const std::byte> data) {
  Reader r(data, "jobs message");
  std::vector<ipc::JobRowRead> rows(get_count(r, 56, "job"));
  for (auto& row : rows) {
    row.object_code = r.str();
    row.target_count = r.get<std::uint64_t>();
    row.collected_count = r.get<std::uint64_t>();
    row.rounds_done = r.get<std::uint32_t>();
    row.rounds_failed = r.get<std::uint32_t>();
    row.rounds_retried = r.get<std::uint32_t>();
    row.gpu = r.get<std::int32_t>();
    row.last_seed = r.get<std::uint64_t>();
    row.state = static_cast<ipc::JobState>(r.get<std::uint32_t>());
    row.updated_ns = r.get<std::uint64_t>();
  }
  done(r, "jobs message");
  return rows;
}

std::string schema_text(std::string_view kind) {
  return "fleetscope recording " + std::to_string(kRecordingMajor) + "." + std::to_string(kRecordingMinor) +
         ": the '" + std::string(kind) +
         "' message, little-endian, as described in recording/FORMAT.md of fleetscope";
}

void check_recording_version(const McapReader& reader) {
  const auto it = reader.metadata().find(kMetadataName);
  if (it == reader.metadata().end()) {
    throw McapError("not a fleetscope recording (no '" + std::string(kMetadataName) + "' metadata; profile '" +
                    reader.header().profile + "')");
  }
  const auto v = it->second.find("version");
  if (v == it->second.end()) throw McapError("fleetscope recording without a version");
  unsigned major = 0, minor = 0;
  if (std::sscanf(v->second.c_str(), "%u.%u", &major, &minor) != 2) {
    throw McapError("fleetscope recording version '" + v->second + "' unreadable");
  }
  if (major != kRecordingMajor) {
    throw McapError("fleetscope recording format " + v->second + " cannot be read: this fleetscope reads format " +
                    std::to_string(kRecordingMajor) + "." + std::to_string(kRecordingMinor) +
                    (major > kRecordingMajor ? " (the file is newer)" : ""));
  }
}

}  // namespace fleetscope::recording
