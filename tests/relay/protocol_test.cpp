// The relay's wire protocol (relay/PROTOCOL.md): every message type survives encode/decode bit for
// bit, and the strict decoder refuses (with the right reason) wrong versions, bad sizes, bad or
// hostile compression and out-of-range indices.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>

#include "fleetscope/relay/endpoint.hpp"
#include "fleetscope/relay/keys.hpp"
#include "fleetscope/relay/protocol.hpp"

namespace {

using namespace fleetscope;
using relay::Refusal;

ipc::LinkVisual visual(std::uint32_t shape, const char* name) {
  ipc::LinkVisual v{};
  std::strncpy(v.link_name, name, sizeof v.link_name - 1);
  v.shape = shape;
  v.dims[0] = 0.5f;
  v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
  v.offset_orientation[3] = 1.0f;
  v.rgba[3] = 255;
  return v;
}

relay::LayoutMessage sample_layout() {
  relay::LayoutMessage m;
  m.layout.epoch = 7;
  ipc::ModelSnapshot model;
  model.name = "arm";
  for (int l = 0; l < 70; ++l) model.visuals.push_back(visual(0, ("l" + std::to_string(l)).c_str()));
  model.all_visuals.push_back({3, visual(7, "l3"), 2});
  model.all_visuals.push_back({0, visual(5, "l0"), 0});
  m.layout.models.push_back(model);
  m.layout.robots.push_back({0, "r0", 0, 70, 11});
  m.layout.robots.push_back({5, "r5", 0, 70, 12});
  return m;
}

relay::PosesMessage sample_poses() {
  relay::PosesMessage m;
  m.frame = {42, 123456789, 1.5, 3, 1};
  relay::RobotPoses r;
  r.slot = 5;
  r.mask = {0b1001, 1ULL << 5};  // links 0, 3, 69
  for (int i = 0; i < 3; ++i) {
    ipc::PoseRecord p{};
    p.position[0] = 0.1f * static_cast<float>(i);
    p.orientation[3] = 1.0f;
    p.pad = -0.0f;
    r.poses.push_back(p);
  }
  m.robots.push_back(r);
  m.attributes.push_back({5, {0xFF00FF00u, 7, 0x4004000000000000ULL, 9}});
  return m;
}

relay::TelemetryMessage sample_telemetry() {
  relay::TelemetryMessage t;
  t.reset = true;
  t.tags = {"loss", "reward/mean"};
  t.first_index = 100;
  t.lost = 3;
  t.samples.push_back({1, -5, 1700000000000000000ULL, 0.25});
  t.samples.push_back({0, 6, 1700000000000000001ULL, -1e300});
  ipc::WorkerRowRead w;
  w.worker_id = 4;
  w.pid = 1234;
  w.host = "gpu-3";
  w.state = static_cast<ipc::WorkerState>(17);  // unknown to this reader: kept
  w.steps = 99;
  w.steps_per_s = 12.5;
  w.heartbeat_ns = 55;
  t.workers = std::vector<ipc::WorkerRowRead>{w};
  ipc::JobRowRead j;
  j.object_code = "mug_01";
  j.gpu = -1;
  j.updated_ns = 8;
  t.jobs = std::vector<ipc::JobRowRead>{j};
  return t;
}

std::vector<std::byte> encode(const relay::Body& body, bool compress = false, std::uint32_t stream = 3) {
  relay::Header h;
  h.session = 0x1122334455667788ULL;
  h.seq = 99;
  h.stream = body.index() < 4 ? relay::kNoStream : stream;
  return relay::encode(h, body, compress);
}

Refusal refusal_of(std::span<const std::byte> bytes) {
  try {
    relay::decode(bytes);
  } catch (const relay::ProtocolError& e) {
    return e.refusal();
  }
  ADD_FAILURE() << "accepted";
  return Refusal::kCount_;
}

template <typename T>
void put(std::vector<std::byte>& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

TEST(RelayProtocol, EveryMessageRoundTripsWithAndWithoutCompression) {
  for (const bool compress : {false, true}) {
    {
      const auto m = relay::decode(encode(sample_layout(), compress));
      EXPECT_EQ(m.header.type, relay::MessageType::kLayout);
      EXPECT_EQ(m.header.session, 0x1122334455667788ULL);
      EXPECT_EQ(m.header.seq, 99u);
      EXPECT_EQ(m.header.stream, 3u);
      const auto& l = std::get<relay::LayoutMessage>(m.body).layout;
      const auto want = sample_layout().layout;
      ASSERT_EQ(l.models.size(), 1u);
      EXPECT_EQ(l.epoch, 7u);
      EXPECT_EQ(l.models[0].name, "arm");
      ASSERT_EQ(l.models[0].visuals.size(), 70u);
      EXPECT_EQ(std::memcmp(l.models[0].visuals.data(), want.models[0].visuals.data(), 70 * sizeof(ipc::LinkVisual)), 0);
      ASSERT_EQ(l.models[0].all_visuals.size(), 2u);
      EXPECT_EQ(l.models[0].all_visuals[0].mesh, 2u);
      EXPECT_EQ(l.models[0].all_visuals[0].link, 3u);
      ASSERT_EQ(l.robots.size(), 2u);
      EXPECT_EQ(l.robots[1].slot, 5u);
      EXPECT_EQ(l.robots[1].link_count, 70u);
      EXPECT_EQ(l.robots[1].spawn_id, 12u);
      EXPECT_EQ(l.robots[1].name, "r5");
    }
    {
      const auto m = relay::decode(encode(sample_poses(), compress));
      const auto& p = std::get<relay::PosesMessage>(m.body);
      const auto want = sample_poses();
      EXPECT_EQ(p.frame.frame, 42u);
      EXPECT_EQ(p.frame.publish_ns, 123456789u);
      EXPECT_EQ(p.frame.sim_time, 1.5);
      ASSERT_EQ(p.robots.size(), 1u);
      EXPECT_EQ(p.robots[0].mask, want.robots[0].mask);
      ASSERT_EQ(p.robots[0].poses.size(), 3u);
      EXPECT_EQ(std::memcmp(p.robots[0].poses.data(), want.robots[0].poses.data(), 3 * sizeof(ipc::PoseRecord)), 0);
      ASSERT_EQ(p.attributes.size(), 1u);
      EXPECT_EQ(p.attributes[0].words, want.attributes[0].words);
    }
    {
      const auto m = relay::decode(encode(sample_telemetry(), compress));
      const auto& t = std::get<relay::TelemetryMessage>(m.body);
      EXPECT_TRUE(t.reset);
      EXPECT_EQ(t.tags, sample_telemetry().tags);
      EXPECT_EQ(t.first_index, 100u);
      EXPECT_EQ(t.lost, 3u);
      ASSERT_EQ(t.samples.size(), 2u);
      EXPECT_EQ(t.samples[1].value, -1e300);
      EXPECT_EQ(t.samples[0].step, -5);
      ASSERT_TRUE(t.workers && t.jobs);
      EXPECT_EQ((*t.workers)[0].host, "gpu-3");
      EXPECT_EQ(static_cast<std::uint32_t>((*t.workers)[0].state), 17u);
      EXPECT_EQ((*t.jobs)[0].object_code, "mug_01");
      EXPECT_EQ((*t.jobs)[0].gpu, -1);
    }
    {
      relay::StreamInfo s{"fleet.a-1", 3, 77, ipc::WriterState::kPaused, true, false, "an error"};
      const auto m = relay::decode(encode(s, compress));
      const auto& d = std::get<relay::StreamInfo>(m.body);
      EXPECT_EQ(d.name, s.name);
      EXPECT_EQ(d.generation, 3u);
      EXPECT_EQ(d.state, ipc::WriterState::kPaused);
      EXPECT_EQ(d.error, "an error");
    }
    {
      relay::MeshMessage mesh;
      mesh.index = 4;
      mesh.mesh.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0};
      mesh.mesh.triangles = {0, 1, 2};
      const auto m = relay::decode(encode(mesh, compress));
      EXPECT_EQ(std::get<relay::MeshMessage>(m.body).mesh, mesh.mesh);
    }
    EXPECT_EQ(relay::decode(encode(relay::Heartbeat{5, 2}, compress)).header.type, relay::MessageType::kHeartbeat);
    EXPECT_EQ(relay::decode(encode(relay::SnapshotRequest{}, compress)).header.type, relay::MessageType::kSnapshotRequest);
    EXPECT_EQ(std::get<relay::SnapshotEnd>(relay::decode(encode(relay::SnapshotEnd{12}, compress)).body).messages, 12u);
    EXPECT_EQ(relay::decode(encode(relay::Removed{}, compress)).header.type, relay::MessageType::kRemoved);
  }
}

TEST(RelayProtocol, LargePayloadsAreCompressed) {
  relay::PosesMessage m;
  for (std::uint32_t s = 0; s < 100; ++s) {
    relay::RobotPoses r;
    r.slot = s;
    r.mask = {(1ULL << 30) - 1};
    r.poses.assign(30, ipc::PoseRecord{{1, 2, 3}, {0, 0, 0, 1}, 0});
    m.robots.push_back(r);
  }
  const auto plain = encode(m, false);
  const auto packed = encode(m, true);
  EXPECT_LT(packed.size() * 10, plain.size());
  std::uint32_t flags = 0;
  std::memcpy(&flags, packed.data() + 28, 4);
  EXPECT_EQ(flags, relay::kFlagZstd);
  EXPECT_EQ(std::get<relay::PosesMessage>(relay::decode(packed).body).robots.size(), 100u);
}

TEST(RelayProtocol, HeaderProblemsAreRefusedWithTheirReason) {
  const auto good = encode(sample_poses());
  auto bytes = good;
  EXPECT_EQ(refusal_of(std::span(bytes).first(39)), Refusal::kTruncated);
  bytes = good;
  put<std::uint32_t>(bytes, 0, 0x12345678);
  EXPECT_EQ(refusal_of(bytes), Refusal::kMagic);
  bytes = good;
  put<std::uint16_t>(bytes, 4, 2);
  EXPECT_EQ(refusal_of(bytes), Refusal::kVersion);
  try {
    relay::decode(bytes);
  } catch (const relay::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
  bytes = good;
  put<std::uint16_t>(bytes, 6, 11);
  EXPECT_EQ(refusal_of(bytes), Refusal::kType);
  bytes = good;
  put<std::uint16_t>(bytes, 6, 0);
  EXPECT_EQ(refusal_of(bytes), Refusal::kType);
  bytes = good;
  put<std::uint32_t>(bytes, 28, 2);  // unknown flag
  EXPECT_EQ(refusal_of(bytes), Refusal::kCompression);
  bytes = good;
  bytes.push_back(std::byte{0});  // stored_size no longer matches
  EXPECT_EQ(refusal_of(bytes), Refusal::kSize);
  bytes = good;
  put<std::uint32_t>(bytes, 32, 5);  // raw_size differs from stored_size without compression
  EXPECT_EQ(refusal_of(bytes), Refusal::kSize);
  bytes = good;
  put<std::uint32_t>(bytes, 24, relay::kNoStream);  // poses need a stream
  EXPECT_EQ(refusal_of(bytes), Refusal::kIndex);
  auto hb = encode(relay::Heartbeat{1, 1});
  put<std::uint32_t>(hb, 24, 0);  // a heartbeat has none
  EXPECT_EQ(refusal_of(hb), Refusal::kIndex);
}

TEST(RelayProtocol, PayloadProblemsAreRefused) {
  // Trailing bytes in the payload (sizes kept consistent).
  auto bytes = encode(relay::Heartbeat{1, 1});
  bytes.push_back(std::byte{0});
  put<std::uint32_t>(bytes, 32, 17);
  put<std::uint32_t>(bytes, 36, 17);
  EXPECT_EQ(refusal_of(bytes), Refusal::kSize);
  // A payload that ends early.
  bytes = encode(sample_poses());
  bytes.resize(bytes.size() - 8);
  put<std::uint32_t>(bytes, 32, static_cast<std::uint32_t>(bytes.size() - 40));
  put<std::uint32_t>(bytes, 36, static_cast<std::uint32_t>(bytes.size() - 40));
  EXPECT_EQ(refusal_of(bytes), Refusal::kTruncated);
  // A robot referring to a model that is not there.
  auto layout = sample_layout();
  layout.layout.robots[1].model = 1;
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kIndex);
  // Robots out of slot order.
  layout = sample_layout();
  std::swap(layout.layout.robots[0], layout.layout.robots[1]);
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kIndex);
  // A visual of a link the model does not have; an unknown shape; a name without its NUL.
  layout = sample_layout();
  layout.layout.models[0].all_visuals[0].link = 70;
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kIndex);
  layout = sample_layout();
  layout.layout.models[0].visuals[1].shape = 5;  // not allowed in the per-link table
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kContent);
  layout = sample_layout();
  std::memset(layout.layout.models[0].visuals[2].link_name, 'x', sizeof(ipc::LinkVisual::link_name));
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kContent);
  // A spawn id of 0.
  layout = sample_layout();
  layout.layout.robots[0].spawn_id = 0;
  EXPECT_EQ(refusal_of(encode(layout)), Refusal::kContent);
  // Pose robots out of order; too many mask words.
  auto poses = sample_poses();
  poses.robots.push_back(poses.robots[0]);
  EXPECT_EQ(refusal_of(encode(poses)), Refusal::kIndex);
  poses = sample_poses();
  poses.robots[0].mask.assign(17, 0);
  poses.robots[0].poses.clear();
  EXPECT_EQ(refusal_of(encode(poses)), Refusal::kSize);
  // A writer state this protocol does not have.
  relay::StreamInfo s{"seg", 1, 1, static_cast<ipc::WriterState>(4), true, true, ""};
  EXPECT_EQ(refusal_of(encode(s)), Refusal::kContent);
  s.state = ipc::WriterState::kLive;
  s.name = "bad/name";
  EXPECT_EQ(refusal_of(encode(s)), Refusal::kContent);
  // Telemetry: a sample of an impossible tag; tags beyond the limit.
  auto t = sample_telemetry();
  t.samples[0].tag = relay::kMaxTags;
  EXPECT_EQ(refusal_of(encode(t)), Refusal::kIndex);
  t = sample_telemetry();
  t.tag_first = relay::kMaxTags - 1;
  EXPECT_EQ(refusal_of(encode(t)), Refusal::kIndex);
  // A mesh with an index beyond its vertices, or a coordinate that is not finite.
  relay::MeshMessage mesh;
  mesh.mesh.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  mesh.mesh.triangles = {0, 1, 3};
  EXPECT_EQ(refusal_of(encode(mesh)), Refusal::kContent);
  mesh.mesh.triangles = {0, 1, 2};
  mesh.mesh.vertices[4] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(refusal_of(encode(mesh)), Refusal::kContent);
}

// zstd frames whose declared content size is missing, wrong, or above the limit are refused before
// anything is decompressed.
TEST(RelayProtocol, HostileCompressionIsRefusedBeforeDecompressing) {
  const auto plain = encode(sample_telemetry(), false);
  const std::span<const std::byte> payload = std::span(plain).subspan(40);
  auto with_frame = [&](std::span<const std::byte> frame, std::uint32_t raw_size) {
    std::vector<std::byte> m(40 + frame.size());
    std::memcpy(m.data(), plain.data(), 40);
    if (!frame.empty()) std::memcpy(m.data() + 40, frame.data(), frame.size());
    put<std::uint32_t>(m, 28, relay::kFlagZstd);
    put<std::uint32_t>(m, 32, raw_size);
    put<std::uint32_t>(m, 36, static_cast<std::uint32_t>(frame.size()));
    return m;
  };
  std::vector<std::byte> frame(ZSTD_compressBound(payload.size()));
  frame.resize(ZSTD_compress(frame.data(), frame.size(), payload.data(), payload.size(), 1));
  const auto raw = static_cast<std::uint32_t>(payload.size());
  EXPECT_NO_THROW(relay::decode(with_frame(frame, raw)));
  // The declared size differs from the frame's content size.
  EXPECT_EQ(refusal_of(with_frame(frame, raw + 1)), Refusal::kCompression);
  // Not a zstd frame at all.
  EXPECT_EQ(refusal_of(with_frame(payload, raw)), Refusal::kCompression);
  // A frame that does not say its content size (streaming compression).
  {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    std::vector<std::byte> nosize(ZSTD_compressBound(payload.size()));
    nosize.resize(ZSTD_compress2(cctx, nosize.data(), nosize.size(), payload.data(), payload.size()));
    ZSTD_freeCCtx(cctx);
    EXPECT_EQ(refusal_of(with_frame(nosize, raw)), Refusal::kCompression);
  }
  // A bomb: 128 MiB of zeros in a few KiB, declaring its size: refused by size, never decompressed.
  {
    std::vector<std::byte> zeros(std::size_t{1} << 27);
    std::vector<std::byte> bomb(ZSTD_compressBound(zeros.size()));
    bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), zeros.data(), zeros.size(), 1));
    zeros = {};
    EXPECT_LT(bomb.size(), 1u << 20);
    EXPECT_EQ(refusal_of(with_frame(bomb, 1u << 27)), Refusal::kSize);
    EXPECT_EQ(refusal_of(with_frame(bomb, raw)), Refusal::kCompression);
  }
  // A corrupt frame body.
  auto broken = frame;
  for (std::size_t i = 8; i < broken.size(); ++i) broken[i] = std::byte{0xFF};
  EXPECT_EQ(refusal_of(with_frame(broken, raw)), Refusal::kCompression);
  // Trailing bytes after the frame.
  auto trailing = frame;
  trailing.push_back(std::byte{0});
  EXPECT_EQ(refusal_of(with_frame(trailing, raw)), Refusal::kCompression);
}

TEST(RelayProtocol, CountersCountByReason) {
  relay::DecodeCounters c;
  for (const auto& bytes : {std::vector<std::byte>(3), encode(relay::Heartbeat{})}) {
    try {
      relay::decode(bytes);
      ++c.accepted;
    } catch (const relay::ProtocolError& e) {
      c.count(e);
    }
  }
  EXPECT_EQ(c.accepted, 1u);
  EXPECT_EQ(c.refused, 1u);
  EXPECT_EQ(c.by_reason[static_cast<std::size_t>(Refusal::kTruncated)], 1u);
  EXPECT_FALSE(c.last_error.empty());
}

TEST(RelayEndpoint, ParsesAndNames) {
  const auto e = relay::parse_endpoint("tcp://127.0.0.1:7800");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 7800);
  EXPECT_EQ(e.publish(), "tcp://127.0.0.1:7801");
  EXPECT_TRUE(e.loopback());
  EXPECT_EQ(e.source_name("fleet"), "127.0.0.1:7800:fleet");
  EXPECT_EQ(relay::parse_endpoint("simhost").source_name("fleet"), "simhost:fleet");
  EXPECT_FALSE(relay::parse_endpoint("tcp://0.0.0.0:7700").loopback());
  EXPECT_TRUE(relay::parse_endpoint("tcp://[::1]:7700").loopback());
  EXPECT_THROW(relay::parse_endpoint("ipc:///tmp/x"), relay::RelayError);
  EXPECT_THROW(relay::parse_endpoint("tcp://host:65535"), relay::RelayError);
  EXPECT_THROW(relay::parse_endpoint("tcp://host:x"), relay::RelayError);
  EXPECT_THROW(relay::parse_endpoint("tcp://:7700"), relay::RelayError);
}

}  // namespace
