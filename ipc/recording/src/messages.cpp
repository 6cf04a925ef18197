#include "fleetscope/recording/messages.hpp"

#include <algorithm>
#include <cmath>
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

// --- pose messages ----------------------------------------------------------------------------------
// Exact poses are stored byte-plane by byte-plane (FORMAT.md): byte b of field k (x y z qx qy qz qw)
// of every pose, for b = 0..3, k = 0..6. Neighbouring links' exponents and high mantissa bytes then
// sit together, which zstd compresses about 1.6 times better than whole records. Quantised poses
// store the zigzagged residuals of a prediction from the same link's previous values in the same
// byte-plane order.

namespace {

constexpr std::uint8_t kResetFlag = 1;
constexpr std::int64_t kMaxQuantised = std::int64_t{1} << 30;

std::size_t total_links(const PoseFrameMessage& m) {
  std::size_t total = 0;
  for (const auto& r : m.robots) total += r.links.size();
  return total;
}

void put_pose_header(ByteWriter& w, const PoseFrameMessage& m, PoseEncoding encoding) {
  w.put<std::uint64_t>(m.frame);
  w.put<double>(m.sim_time);
  w.put<std::uint64_t>(m.publish_ns);
  w.put<std::uint64_t>(m.generation);
  w.put<std::uint64_t>(m.epoch);
  w.put<std::uint64_t>(m.frames_lost);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(encoding));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.robots.size()));
  for (const auto& r : m.robots) {
    w.put<std::uint32_t>(r.slot);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(r.links.size()));
  }
  for (const auto& r : m.robots) {
    for (auto l : r.links) w.put<std::uint16_t>(l);
  }
}

void put_planes(std::vector<std::byte>& out, const std::uint32_t* words, std::size_t total) {
  const std::size_t at = out.size();
  out.resize(at + total * 28);
  std::byte* base = out.data() + at;
  for (std::size_t i = 0; i < total; ++i) {
    for (int k = 0; k < 7; ++k) {
      const std::uint32_t v = words[i * 7 + static_cast<std::size_t>(k)];
      for (int b = 0; b < 4; ++b) base[(static_cast<std::size_t>(b) * 7 + k) * total + i] = static_cast<std::byte>(v >> (8 * b));
    }
  }
}

std::uint32_t plane_word(std::span<const std::byte> planes, std::size_t total, std::size_t i, int k) {
  std::uint32_t w = 0;
  for (int b = 0; b < 4; ++b) w |= static_cast<std::uint32_t>(planes[(static_cast<std::size_t>(b) * 7 + k) * total + i]) << (8 * b);
  return w;
}

std::uint32_t zigzag(std::uint32_t r) { return (r << 1) ^ static_cast<std::uint32_t>(static_cast<std::int32_t>(r) >> 31); }
std::uint32_t unzigzag(std::uint32_t z) { return (z >> 1) ^ (0u - (z & 1u)); }

// Prediction of field k from the link's history with at most `order` previous values, modulo 2^32;
// a link without history is predicted by the previous pose of the message (`previous`, null for
// the first: 0).
std::uint32_t predict(const PosePredictor::Link& link, int k, unsigned order, const std::int32_t* previous) {
  const unsigned n = std::min<unsigned>(order, link.n);
  const auto h = [&](int j) { return static_cast<std::uint32_t>(link.h[j][k]); };
  switch (n) {
    case 0: return previous ? static_cast<std::uint32_t>(previous[k]) : 0u;
    case 1: return h(0);
    case 2: return 2u * h(0) - h(1);
    default: return 3u * h(0) - 3u * h(1) + h(2);
  }
}

void push(PosePredictor::Link& link, const std::int32_t* v) {
  std::memcpy(link.h[2], link.h[1], sizeof link.h[1]);
  std::memcpy(link.h[1], link.h[0], sizeof link.h[0]);
  std::memcpy(link.h[0], v, sizeof link.h[0]);
  link.n = static_cast<std::uint8_t>(std::min(3, link.n + 1));
}

double orientation_scale(const PoseQuantisation& q) { return std::ldexp(1.0, q.orientation_bits) - 1.0; }

// Quantises a pose; false when it cannot be (not finite, too far, not a unit quaternion).
bool quantise(const ipc::PoseRecord& p, const PoseQuantisation& q, std::int32_t* v) {
  const double grid = std::ldexp(1.0, q.position_shift);
  for (int k = 0; k < 3; ++k) {
    const double x = std::nearbyint(static_cast<double>(p.position[k]) * grid);
    if (!(std::fabs(x) <= static_cast<double>(kMaxQuantised))) return false;
    v[k] = static_cast<std::int32_t>(x);
  }
  double norm = 0;
  for (float c : p.orientation) norm += static_cast<double>(c) * c;
  norm = std::sqrt(norm);
  if (!(std::fabs(norm - 1.0) <= 1e-3)) return false;
  const double scale = (p.orientation[3] < 0 ? -1.0 : 1.0) * orientation_scale(q) / norm;  // w >= 0
  for (int k = 0; k < 4; ++k) v[3 + k] = static_cast<std::int32_t>(std::nearbyint(p.orientation[k] * scale));
  return true;
}

ipc::PoseRecord dequantise(const std::int32_t* v, const PoseQuantisation& q) {
  ipc::PoseRecord p{};
  for (int k = 0; k < 3; ++k) p.position[k] = static_cast<float>(std::ldexp(static_cast<double>(v[k]), -q.position_shift));
  double c[4], norm = 0;
  for (int k = 0; k < 4; ++k) {
    c[k] = static_cast<double>(v[3 + k]);
    norm += c[k] * c[k];
  }
  norm = std::sqrt(norm);
  if (norm == 0) {
    p.orientation[3] = 1.0f;
  } else {
    for (int k = 0; k < 4; ++k) p.orientation[k] = static_cast<float>(c[k] / norm);
  }
  return p;
}

// Quantised residuals (zigzagged) are stored as 2-bit symbols min(z, 3), four to a byte, then a
// LEB128 varint of z - 3 for each symbol 3: most residuals are -1, 0 or 1.
constexpr std::uint32_t kSymbolEscape = 3;

unsigned varint_bytes(std::uint32_t v) { return v < (1u << 7) ? 1 : v < (1u << 14) ? 2 : v < (1u << 21) ? 3 : v < (1u << 28) ? 4 : 5; }

// The bits a residual costs as stored.
unsigned residual_bits(std::uint32_t z) { return z < kSymbolEscape ? 2 : 2 + 8 * varint_bytes(z - kSymbolEscape); }

void put_residuals(std::vector<std::byte>& out, const std::uint32_t* z, std::size_t count) {
  const std::size_t at = out.size();
  out.resize(at + (count + 3) / 4);
  for (std::size_t j = 0; j < count; ++j) {
    const std::uint32_t sym = std::min(z[j], kSymbolEscape);
    out[at + j / 4] |= static_cast<std::byte>(sym << (2 * (j % 4)));
  }
  for (std::size_t j = 0; j < count; ++j) {
    if (z[j] < kSymbolEscape) continue;
    for (std::uint32_t v = z[j] - kSymbolEscape;; v >>= 7) {
      if (v < 0x80) {
        out.push_back(static_cast<std::byte>(v));
        break;
      }
      out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    }
  }
}

std::uint32_t get_varint(Reader& r) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    const auto b = r.get<std::uint8_t>();
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (v > UINT32_MAX - kSymbolEscape) break;
      return static_cast<std::uint32_t>(v);
    }
  }
  throw McapError("pose message: residual out of range");
}

}  // namespace

double position_error_bound(const PoseQuantisation& q, double value) {
  // Half a grid step, then the f32 rounding of the grid value: half an ulp of a float near it.
  const double half_step = std::ldexp(1.0, -q.position_shift - 1);
  const double mag = std::fabs(value) + half_step;
  const double half_ulp = mag > 0 ? std::ldexp(1.0, std::ilogb(mag) - 24) : 0.0;
  return half_step + half_ulp;
}

double orientation_error_bound(const PoseQuantisation& q) {
  // Each of the four components is off by at most 1/(2 S) of a unit quaternion: the vector by at
  // most 1/S; the rotation angle is twice the angle between the 4-vectors: 2 asin(1/S), plus the
  // f32 rounding of the normalised result (4 half ulps of 1: ~2.4e-7 rad, rounded up to 1e-6).
  return 2.0 * std::asin(1.0 / orientation_scale(q)) + 1e-6;
}

double rotation_between(const float a[4], const float b[4]) {
  double x[4], y[4], nx = 0, ny = 0, dot = 0;
  for (int k = 0; k < 4; ++k) {
    nx += double(a[k]) * a[k];
    ny += double(b[k]) * b[k];
  }
  nx = std::sqrt(nx);
  ny = std::sqrt(ny);
  for (int k = 0; k < 4; ++k) {
    x[k] = a[k] / nx;
    y[k] = b[k] / ny;
    dot += x[k] * y[k];
  }
  double diff = 0, sum = 0;
  for (int k = 0; k < 4; ++k) {
    const double yk = dot < 0 ? -y[k] : y[k];
    diff += (x[k] - yk) * (x[k] - yk);
    sum += (x[k] + yk) * (x[k] + yk);
  }
  // The 4-vectors are 2 atan2(|x - y|, |x + y|) apart; the rotations twice that.
  return 4.0 * std::atan2(std::sqrt(diff), std::sqrt(sum));
}

void PosePredictor::reset() noexcept {
  for (auto& s : slots_) {
    for (auto& l : s) l.n = 0;
  }
}

PosePredictor::Link& PosePredictor::at(std::uint32_t slot, std::uint16_t link) {
  if (slot >= ipc::kMaxRobots) throw McapError("pose message: slot " + std::to_string(slot) + " out of range");
  if (link >= ipc::kMaxLinksPerRobot) throw McapError("pose message: link " + std::to_string(link) + " out of range");
  if (slot >= slots_.size()) slots_.resize(slot + 1);
  auto& s = slots_[slot];
  if (link >= s.size()) s.resize(link + 1u);
  return s[link];
}

std::vector<std::byte> encode(const PoseFrameMessage& m) {
  const std::size_t total = total_links(m);
  std::vector<std::byte> out;
  out.reserve(53 + m.robots.size() * 8 + total * 30);
  ByteWriter w(out);
  put_pose_header(w, m, PoseEncoding::kExact);
  std::vector<std::uint32_t> words(total * 7);
  std::size_t i = 0;
  for (const auto& r : m.robots) {
    for (const auto& p : r.poses) {
      std::memcpy(&words[i * 7], p.position, 12);
      std::memcpy(&words[i * 7 + 3], p.orientation, 16);
      ++i;
    }
  }
  put_planes(out, words.data(), total);
  return out;
}

std::vector<std::byte> PoseEncoder::encode(const PoseFrameMessage& m, bool keyframe) {
  if (encoding_ == PoseEncoding::kExact) {
    predictor_.reset();
    return fleetscope::recording::encode(m);
  }
  const std::size_t total = total_links(m);
  values_.resize(total * 7);
  std::size_t i = 0;
  for (const auto& r : m.robots) {
    for (std::size_t j = 0; j < r.links.size(); ++j, ++i) {
      if (j >= r.poses.size() || r.links[j] >= ipc::kMaxLinksPerRobot || r.slot >= ipc::kMaxRobots ||
          !quantise(r.poses[j], q_, &values_[i * 7])) {
        predictor_.reset();  // an exact message resets the prediction
        return fleetscope::recording::encode(m);
      }
    }
  }
  if (keyframe) predictor_.reset();
  // Per field, the predictor order (1 previous value, 2 linear, 3 quadratic) with the fewest
  // residual bits in this message.
  unsigned order[7] = {1, 1, 1, 1, 1, 1, 1};
  if (!keyframe) {
    std::uint64_t bits[3][7] = {};
    i = 0;
    for (const auto& r : m.robots) {
      for (const auto l : r.links) {
        const auto& link = predictor_.at(r.slot, l);
        for (int k = 0; k < 7; ++k) {
          const auto v = static_cast<std::uint32_t>(values_[i * 7 + static_cast<std::size_t>(k)]);
          const std::int32_t* previous = i > 0 ? &values_[(i - 1) * 7] : nullptr;
          for (unsigned o = 1; o <= 3; ++o) bits[o - 1][k] += residual_bits(zigzag(v - predict(link, k, o, previous)));
        }
        ++i;
      }
    }
    for (int k = 0; k < 7; ++k) {
      for (unsigned o = 2; o <= 3; ++o) {
        if (bits[o - 1][k] < bits[order[k] - 1][k]) order[k] = o;
      }
    }
  }
  residuals_.resize(total * 7);
  i = 0;
  for (const auto& r : m.robots) {
    for (const auto l : r.links) {
      auto& link = predictor_.at(r.slot, l);
      for (int k = 0; k < 7; ++k) {  // field-major: field k of pose i at k * total + i
        const std::size_t at = i * 7 + static_cast<std::size_t>(k);
        residuals_[static_cast<std::size_t>(k) * total + i] =
            static_cast<std::int32_t>(zigzag(static_cast<std::uint32_t>(values_[at]) -
                                             predict(link, k, order[k], i > 0 ? &values_[(i - 1) * 7] : nullptr)));
      }
      push(link, &values_[i * 7]);
      ++i;
    }
  }
  std::vector<std::byte> out;
  out.reserve(57 + m.robots.size() * 8 + total * 30);
  ByteWriter w(out);
  put_pose_header(w, m, PoseEncoding::kQuantised);
  w.put<std::uint8_t>(keyframe ? kResetFlag : 0);
  w.put<std::uint8_t>(q_.position_shift);
  w.put<std::uint8_t>(q_.orientation_bits);
  for (const unsigned o : order) w.put<std::uint8_t>(static_cast<std::uint8_t>(o));
  put_residuals(out, reinterpret_cast<const std::uint32_t*>(residuals_.data()), total * 7);
  return out;
}

namespace {

// predictor == nullptr: a message on its own (a quantised one must reset the prediction).
PoseFrameMessage decode_pose_message(std::span<const std::byte> data, std::uint32_t major, PosePredictor* predictor) {
  Reader r(data, "pose message");
  PoseFrameMessage m;
  m.frame = r.get<std::uint64_t>();
  m.sim_time = r.get<double>();
  m.publish_ns = r.get<std::uint64_t>();
  m.generation = r.get<std::uint64_t>();
  m.epoch = r.get<std::uint64_t>();
  m.frames_lost = r.get<std::uint64_t>();
  PoseEncoding encoding = PoseEncoding::kExact;
  if (major >= 2) {
    const auto e = r.get<std::uint8_t>();
    if (e > static_cast<std::uint8_t>(PoseEncoding::kQuantised)) {
      throw McapError("pose message: unknown pose encoding " + std::to_string(e));
    }
    encoding = static_cast<PoseEncoding>(e);
  }
  const auto robots = get_count(r, 8, "robot");
  m.robots.resize(robots);
  std::uint64_t total = 0;
  for (auto& rp : m.robots) {
    rp.slot = r.get<std::uint32_t>();
    const auto n = r.get<std::uint32_t>();
    total += n;
    // Exact: 2 bytes of link index and 28 of pose per link; quantised: 2 and at least 7/4.
    if (total > r.remaining() / (encoding == PoseEncoding::kExact ? 30 : 3)) {
      throw McapError("pose message: link count does not fit in the message");
    }
    rp.links.resize(n);
    rp.poses.resize(n);
  }
  for (auto& rp : m.robots) {
    for (auto& l : rp.links) l = r.get<std::uint16_t>();
  }
  if (encoding == PoseEncoding::kExact) {
    if (predictor) predictor->reset();
    const auto planes = r.take(total * 28);
    std::size_t i = 0;
    for (auto& rp : m.robots) {
      for (auto& p : rp.poses) {
        std::uint32_t words[7];
        for (int k = 0; k < 7; ++k) words[k] = plane_word(planes, total, i, k);
        std::memcpy(p.position, words, 12);
        std::memcpy(p.orientation, words + 3, 16);
        p.pad = 0.0f;
        ++i;
      }
    }
    done(r, "pose message");
    return m;
  }
  const auto flags = r.get<std::uint8_t>();
  PoseQuantisation q;
  q.position_shift = r.get<std::uint8_t>();
  q.orientation_bits = r.get<std::uint8_t>();
  std::uint8_t order[7];
  bool orders_ok = true;
  for (auto& o : order) {
    o = r.get<std::uint8_t>();
    orders_ok = orders_ok && o >= 1 && o <= 3;
  }
  if (flags > kResetFlag || q.position_shift > 30 || q.orientation_bits < 2 || q.orientation_bits > 30 || !orders_ok) {
    throw McapError("pose message: bad quantisation parameters");
  }
  PosePredictor own;
  if (!predictor) {
    if (!(flags & kResetFlag)) throw McapError("pose message: a quantised delta message needs the messages before it (PoseDecoder)");
    predictor = &own;
  }
  if (flags & kResetFlag) predictor->reset();
  const auto symbols = r.take((total * 7 + 3) / 4);
  std::vector<std::uint32_t> z(total * 7);
  for (std::size_t j = 0; j < z.size(); ++j) z[j] = (static_cast<std::uint32_t>(symbols[j / 4]) >> (2 * (j % 4))) & 3u;
  for (auto& x : z) {
    if (x == kSymbolEscape) x += get_varint(r);
  }
  std::size_t i = 0;
  std::int32_t previous[7] = {};
  for (auto& rp : m.robots) {
    for (std::size_t j = 0; j < rp.links.size(); ++j, ++i) {
      auto& link = predictor->at(rp.slot, rp.links[j]);
      std::int32_t v[7];
      for (int k = 0; k < 7; ++k) {
        v[k] = static_cast<std::int32_t>(unzigzag(z[static_cast<std::size_t>(k) * total + i]) +
                                         predict(link, k, order[k], i > 0 ? previous : nullptr));
      }
      std::memcpy(previous, v, sizeof v);
      push(link, v);
      rp.poses[j] = dequantise(v, q);
    }
  }
  done(r, "pose message");
  return m;
}

}  // namespace

PoseFrameMessage PoseDecoder::decode(std::span<const std::byte> data) { return decode_pose_message(data, major_, &predictor_); }

PoseFrameMessage decode_pose_frame(std::span<const std::byte> data, std::uint32_t major) {
  return decode_pose_message(data, major, nullptr);
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
         "' message, little-endian, as described in ipc/recording/FORMAT.md of fleetscope";
}

std::uint32_t check_recording_version(const McapReader& reader) {
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
  if (major < kOldestRecordingMajor || major > kRecordingMajor) {
    throw McapError("fleetscope recording format " + v->second + " cannot be read: this fleetscope reads format " +
                    std::to_string(kRecordingMajor) + "." + std::to_string(kRecordingMinor) +
                    (major > kRecordingMajor ? " (the file is newer)" : ""));
  }
  return major;
}

}  // namespace fleetscope::recording
