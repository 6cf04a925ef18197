// The MCAP writer and reader (ipc/recording/): round trips, summary and message indexes, truncated
// and corrupt files, newer versions, recover; and the fleetscope message encodings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/messages.hpp"
#include "fleetscope/recording/recorder.hpp"

namespace fs = std::filesystem;
using namespace fleetscope::recording;
namespace ipc = fleetscope::ipc;

namespace {

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("fleetscope-mcap-test-" + std::to_string(::getpid()) + "-" + name);
}

std::vector<std::byte> payload(std::uint32_t i, std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<std::byte>((i * 31 + k * 7) & 0xFF);
  std::memcpy(out.data(), &i, std::min<std::size_t>(4, n));
  return out;
}

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// 3 channels, 3000 messages in many small chunks; channel c gets messages i with i % 3 == c - 1,
// log time 1000 + i (channel 3's in reverse order inside each chunk's span: out-of-order times).
struct Written {
  std::uint64_t messages = 0;
  std::uint32_t chunks = 0;
};

Written write_sample(const fs::path& path, bool compress = true) {
  McapWriterOptions o;
  o.profile = "test";
  o.chunk_size = 16 * 1024;
  o.compress = compress;
  McapWriter w(path, o);
  w.add_metadata("fleetscope.recording", {{"version", "1.0"}});
  const std::string text = "schema text";
  const auto s = w.add_schema("test.Schema", "fleetscope", std::as_bytes(std::span(text)));
  const auto c1 = w.add_channel(s, "a/poses", "fleetscope", {{"segment", "a"}});
  const auto c2 = w.add_channel(s, "a/scalars", "fleetscope");
  const auto c3 = w.add_channel(0, "b/raw", "raw");
  EXPECT_EQ(c1, 1);
  EXPECT_EQ(c3, 3);
  for (std::uint32_t i = 0; i < 3000; ++i) {
    const std::uint16_t ch = static_cast<std::uint16_t>(1 + i % 3);
    w.write(ch, 1000 + i, 2000 + i, payload(i, 10 + i % 50));
  }
  (void)c2;
  w.finish();
  return {w.statistics().message_count, w.statistics().chunk_count};
}

}  // namespace

TEST(Mcap, RoundTripWithSummaryAndIndexes) {
  const auto path = temp_file("roundtrip.mcap");
  const Written written = write_sample(path);
  EXPECT_GT(written.chunks, 5u);
  auto r = McapReader::open(path);
  EXPECT_TRUE(r.has_summary());
  EXPECT_TRUE(r.warnings().empty());
  EXPECT_EQ(r.header().profile, "test");
  EXPECT_EQ(r.statistics().message_count, 3000u);
  EXPECT_EQ(r.statistics().chunk_count, written.chunks);
  EXPECT_EQ(r.chunk_indexes().size(), written.chunks);
  ASSERT_EQ(r.channels().size(), 3u);
  EXPECT_EQ(r.schemas().size(), 1u);
  EXPECT_EQ(r.channels().at(1).topic, "a/poses");
  EXPECT_EQ(r.channels().at(1).metadata.at("segment"), "a");
  EXPECT_EQ(r.statistics().channel_message_counts.at(2), 1000u);
  EXPECT_EQ(r.metadata().at("fleetscope.recording").at("version"), "1.0");
  EXPECT_EQ(r.statistics().message_start_time, 1000u);
  EXPECT_EQ(r.statistics().message_end_time, 3999u);
  for (std::uint16_t ch = 1; ch <= 3; ++ch) {
    const auto index = r.message_index(ch);
    ASSERT_EQ(index.size(), 1000u);
    for (std::size_t k = 0; k < index.size(); k += 97) {
      const auto m = r.read(index[k]);
      const std::uint32_t i = static_cast<std::uint32_t>(3 * k + ch - 1);
      EXPECT_EQ(m.channel_id, ch);
      EXPECT_EQ(m.log_time, 1000u + i);
      EXPECT_EQ(m.publish_time, 2000u + i);
      EXPECT_EQ(m.sequence, k);
      EXPECT_EQ(m.data, payload(i, 10 + i % 50));
    }
  }
  std::uint64_t seen = 0;
  r.for_each_message([&](const McapMessage& m) {
    EXPECT_EQ(m.log_time, 1000 + seen);
    ++seen;
    return true;
  });
  EXPECT_EQ(seen, 3000u);
  // A time window and a channel filter.
  std::uint64_t window = 0;
  r.for_each_message([&](const McapMessage&) { return ++window, true; }, std::vector<std::uint16_t>{2}, 1500, 1599);
  EXPECT_EQ(window, 33u);
  fs::remove(path);
}

TEST(Mcap, UncompressedChunksToo) {
  const auto path = temp_file("plain.mcap");
  write_sample(path, false);
  auto r = McapReader::open(path);
  EXPECT_EQ(r.chunk_indexes().front().compression, "");
  EXPECT_EQ(r.message_index(3).size(), 1000u);
  fs::remove(path);
}

TEST(Mcap, TruncatedFileOpensUpToItsLastGoodChunk) {
  const auto path = temp_file("full.mcap");
  write_sample(path);
  const auto full = McapReader::open(path);
  const auto chunks = full.chunk_indexes();
  ASSERT_GT(chunks.size(), 4u);
  // Cut in the middle of chunk 4: chunks 0..3 are whole.
  const auto bytes = slurp(path);
  const auto cut = temp_file("cut.mcap");
  spit(cut, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(chunks[4].chunk_start_offset + chunks[4].chunk_length / 2)));
  auto r = McapReader::open(cut);
  EXPECT_FALSE(r.has_summary());
  ASSERT_FALSE(r.warnings().empty());
  EXPECT_NE(r.warnings().back().find("last good chunk: 4 chunks"), std::string::npos) << r.warnings().back();
  EXPECT_EQ(r.chunk_indexes().size(), 4u);
  EXPECT_EQ(r.channels().size(), 3u);
  std::uint64_t expected = 0;
  auto copy = McapReader::open(path);
  std::uint64_t n = 0;
  for (std::uint16_t ch = 1; ch <= 3; ++ch) {
    for (const auto& ref : copy.message_index(ch)) expected += ref.chunk < 4 ? 1 : 0;
  }
  r.for_each_message([&](const McapMessage& m) {
    EXPECT_EQ(m.log_time, 1000 + n);
    return ++n, true;
  });
  EXPECT_EQ(n, expected);
  EXPECT_EQ(r.statistics().message_count, expected);
  // Message indexes rebuilt from the chunks' records.
  EXPECT_EQ(r.message_index(1).size() + r.message_index(2).size() + r.message_index(3).size(), expected);

  // recover writes a complete file with the same messages.
  const auto fixed = temp_file("fixed.mcap");
  const auto warnings = recover_mcap(cut, fixed);
  EXPECT_FALSE(warnings.empty());
  auto rf = McapReader::open(fixed);
  EXPECT_TRUE(rf.has_summary());
  EXPECT_TRUE(rf.warnings().empty());
  EXPECT_EQ(rf.statistics().message_count, expected);
  EXPECT_EQ(rf.channels().size(), 3u);
  EXPECT_EQ(rf.metadata().at("fleetscope.recording").at("version"), "1.0");
  EXPECT_THROW(recover_mcap(fixed, fixed), McapError);
  fs::remove(path);
  fs::remove(cut);
  fs::remove(fixed);
}

TEST(Mcap, ACorruptChunkIsSkippedAndTheChunksAfterItAreRead) {
  const auto path = temp_file("full2.mcap");
  write_sample(path);
  const auto chunks = McapReader::open(path).chunk_indexes();
  ASSERT_GT(chunks.size(), 3u);
  auto bytes = slurp(path);
  // Flip a byte inside chunk 2's compressed records, and cut the footer off so the reader scans:
  // the record's length is intact, so only that chunk is lost (recover keeps the rest).
  bytes[chunks[2].chunk_start_offset + chunks[2].chunk_length - 10] ^= 0x5A;
  bytes.resize(chunks.back().chunk_start_offset + chunks.back().chunk_length);
  const auto bad = temp_file("bad.mcap");
  spit(bad, bytes);
  auto r = McapReader::open(bad);
  ASSERT_EQ(r.chunk_indexes().size(), chunks.size() - 1);
  EXPECT_EQ(r.chunk_indexes()[2].chunk_start_offset, chunks[3].chunk_start_offset);
  bool named = false;
  for (const auto& w : r.warnings()) {
    named |= w.find("1 damaged chunk(s) skipped: chunk at byte " + std::to_string(chunks[2].chunk_start_offset)) != std::string::npos;
  }
  EXPECT_TRUE(named) << (r.warnings().empty() ? std::string("no warning") : r.warnings().front());
  fs::remove(path);
  fs::remove(bad);
}

TEST(Mcap, CorruptChunkInAFileWithSummaryIsRefusedWhenRead) {
  const auto path = temp_file("full3.mcap");
  write_sample(path);
  const auto chunks = McapReader::open(path).chunk_indexes();
  auto bytes = slurp(path);
  bytes[chunks[1].chunk_start_offset + chunks[1].chunk_length - 10] ^= 0x5A;
  spit(path, bytes);
  auto r = McapReader::open(path);
  try {
    r.chunk_records(1);
    FAIL() << "a corrupt chunk was read";
  } catch (const McapError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("CRC") != std::string::npos || what.find("zstd") != std::string::npos) << what;
  }
  fs::remove(path);
}

TEST(Mcap, BadSummaryFallsBackToScanning) {
  const auto path = temp_file("sumcrc.mcap");
  write_sample(path);
  auto bytes = slurp(path);
  bytes[bytes.size() - 8 - 2] ^= 0x01;  // the footer's summary CRC
  spit(path, bytes);
  auto r = McapReader::open(path);
  EXPECT_FALSE(r.has_summary());
  ASSERT_FALSE(r.warnings().empty());
  EXPECT_NE(r.warnings().front().find("summary CRC mismatch"), std::string::npos) << r.warnings().front();
  EXPECT_EQ(r.statistics().message_count, 3000u);
  fs::remove(path);
}

TEST(Mcap, NewerVersionAndGarbageAreRefusedClearly) {
  const auto path = temp_file("v1.mcap");
  write_sample(path);
  auto bytes = slurp(path);
  bytes[5] = '1';
  spit(path, bytes);
  try {
    McapReader::open(path);
    FAIL();
  } catch (const McapError& e) {
    EXPECT_NE(std::string(e.what()).find("MCAP format version '1'; this reader reads MCAP version '0'"), std::string::npos)
        << e.what();
  }
  spit(path, std::vector<char>(100, 'x'));
  try {
    McapReader::open(path);
    FAIL();
  } catch (const McapError& e) {
    EXPECT_NE(std::string(e.what()).find("not an MCAP file"), std::string::npos) << e.what();
  }
  spit(path, {});
  EXPECT_THROW(McapReader::open(path), McapError);
  EXPECT_THROW(McapReader::open(temp_file("does-not-exist")), McapError);
  EXPECT_THROW(McapReader::open("/"), McapError);
  fs::remove(path);
}

TEST(Mcap, RandomDamageNeverCrashes) {
  const auto path = temp_file("fuzz.mcap");
  write_sample(path);
  const auto original = slurp(path);
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    auto bytes = original;
    const int flips = 1 + round % 8;
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (round % 3 == 0) bytes.resize(rng() % bytes.size());
    spit(path, bytes);
    try {
      auto r = McapReader::open(path);
      for (const auto& [id, c] : r.channels()) {
        for (const auto& ref : r.message_index(id)) r.read(ref);
      }
      r.for_each_message([](const McapMessage&) { return true; });
    } catch (const McapError&) {
      // refused: fine
    }
  }
  fs::remove(path);
}

TEST(RecordingMessages, RoundTrip) {
  LayoutMessage layout;
  layout.segment = "fleet";
  layout.generation = 2;
  layout.writer_pid = 1234;
  layout.has_poses = true;
  layout.has_telemetry = true;
  layout.epoch = 5;
  ipc::ModelSnapshot model;
  model.name = "arm";
  ipc::LinkVisual v{};
  std::strcpy(v.link_name, "base");
  v.shape = 2;
  v.dims[0] = 0.5f;
  v.rgba[3] = 255;
  std::strcpy(v.mesh_path, "meshes/x.stl");
  model.visuals = {v, v};
  model.all_visuals = {{1, v, 7}};
  layout.models = {model};
  layout.robots = {{3, "r3", 0, 2, 99}};
  const auto l2 = decode_layout(encode(layout));
  EXPECT_EQ(l2.segment, "fleet");
  EXPECT_EQ(l2.generation, 2u);
  EXPECT_EQ(l2.writer_pid, 1234);
  EXPECT_TRUE(l2.has_poses && l2.has_telemetry);
  ASSERT_EQ(l2.models.size(), 1u);
  EXPECT_STREQ(l2.models[0].visuals[1].link_name, "base");
  EXPECT_STREQ(l2.models[0].all_visuals[0].visual.mesh_path, "meshes/x.stl");
  EXPECT_EQ(l2.models[0].all_visuals[0].mesh, 7u);
  ASSERT_EQ(l2.robots.size(), 1u);
  EXPECT_EQ(l2.robots[0].name, "r3");
  EXPECT_EQ(l2.robots[0].spawn_id, 99u);

  PoseFrameMessage frame;
  frame.frame = 42;
  frame.sim_time = 0.7;
  frame.robots = {{3, {0, 1}, {ipc::PoseRecord{{1, 2, 3}, {0, 0, 0, 1}, 0}, ipc::PoseRecord{{4, 5, 6}, {0, 1, 0, 0}, 0}}}};
  const auto f2 = decode_pose_frame(encode(frame));
  EXPECT_EQ(f2.frame, 42u);
  EXPECT_EQ(f2.sim_time, 0.7);
  ASSERT_EQ(f2.robots.size(), 1u);
  EXPECT_EQ(f2.robots[0].links, (std::vector<std::uint16_t>{0, 1}));
  EXPECT_EQ(f2.robots[0].poses[1].position[2], 6.0f);
  EXPECT_EQ(f2.robots[0].poses[1].orientation[1], 1.0f);

  ScalarsMessage scalars{3, {{1, -5, 77, 2.5}}};
  const auto s2 = decode_scalars(encode(scalars));
  EXPECT_EQ(s2.lost, 3u);
  ASSERT_EQ(s2.samples.size(), 1u);
  EXPECT_EQ(s2.samples[0].step, -5);
  EXPECT_EQ(s2.samples[0].value, 2.5);
  EXPECT_EQ(decode_tags(encode(TagsMessage{2, {"loss", "reward"}})).names[1], "reward");
  ipc::WorkerRowRead w;
  w.worker_id = 4;
  w.host = "gpu0";
  w.steps = 123;
  EXPECT_EQ(decode_workers(encode_workers({w}))[0].host, "gpu0");
  MeshMessage mesh{3, 5, {{0, 0, 0, 1, 0, 0, 0, 1, 0}, {0, 1, 2}, {0, 0, 1, 0, 0, 1, 0, 0, 1}}};
  const auto m2 = decode_mesh_message(encode(mesh));
  EXPECT_EQ(m2.generation, 3u);
  EXPECT_EQ(m2.index, 5u);
  EXPECT_EQ(m2.mesh, mesh.mesh);
  mesh.mesh.triangles[2] = 7;  // no vertex 7
  EXPECT_THROW(decode_mesh_message(encode(mesh)), McapError);
  ipc::JobRowRead j;
  j.object_code = "mug";
  j.gpu = -1;
  EXPECT_EQ(decode_jobs(encode_jobs({j}))[0].gpu, -1);
}

TEST(RecordingMessages, HostileMessagesAreRefused) {
  // A count that cannot fit, a short message, bytes left over.
  std::vector<std::byte> huge(60, std::byte{0});
  huge[49] = std::byte{0xFF};  // format 2: byte 48 is the pose encoding (exact), then the count
  huge[50] = std::byte{0xFF};
  huge[51] = std::byte{0xFF};
  huge[52] = std::byte{0x7F};
  EXPECT_THROW(decode_pose_frame(huge), McapError);
  huge[48] = std::byte{7};  // no such pose encoding
  huge[52] = std::byte{0};
  EXPECT_THROW(decode_pose_frame(huge), McapError);
  EXPECT_THROW(decode_layout(std::vector<std::byte>(3)), McapError);
  auto tags = encode(TagsMessage{0, {"a"}});
  tags.push_back(std::byte{0});
  EXPECT_THROW(decode_tags(tags), McapError);
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> junk(rng() % 200);
    for (auto& b : junk) b = static_cast<std::byte>(rng());
    for (auto decode : {+[](std::span<const std::byte> d) { decode_layout(d); },
                        +[](std::span<const std::byte> d) { decode_pose_frame(d); },
                        +[](std::span<const std::byte> d) { decode_pose_frame(d, 1); },
                        +[](std::span<const std::byte> d) { PoseDecoder().decode(d); },
                        +[](std::span<const std::byte> d) { decode_scalars(d); },
                        +[](std::span<const std::byte> d) { decode_workers(d); },
                        +[](std::span<const std::byte> d) { decode_jobs(d); },
                        +[](std::span<const std::byte> d) { decode_mesh_message(d); },
                        +[](std::span<const std::byte> d) { decode_attributes(d); },
                        +[](std::span<const std::byte> d) { decode_tags(d); }}) {
      try {
        decode(junk);
      } catch (const McapError&) {
      }
    }
  }
}

namespace {

// A stream of pose messages like a recorder's: `robots` robots of `links` links moving smoothly,
// some robots still (absent) in some frames, one robot turning through w < 0, one far from the
// origin, one jumping; every `key_every`-th message a keyframe of every link.
struct PoseStream {
  std::vector<PoseFrameMessage> messages;
  std::vector<bool> keyframe;
};

ipc::PoseRecord moving_pose(std::uint32_t robot, std::uint32_t link, int frame) {
  const double t = frame / 60.0;
  const double a = 0.7 * t * (1 + robot % 3) + 0.3 * link + (robot == 2 ? 2.5 * t : 0.0);
  ipc::PoseRecord p{};
  const double far = robot == 3 ? 9000.0 : 0.0;
  p.position[0] = static_cast<float>(far + robot * 2.0 + 0.5 * std::cos(a) + 0.01 * link);
  p.position[1] = static_cast<float>(-far + 0.5 * std::sin(a) * (1 + link * 0.1));
  p.position[2] = static_cast<float>(0.3 + 0.05 * link + (robot == 4 && frame % 17 == 0 ? 3.0 : 0.0));  // jumps
  // A rotation about a tilted axis through angle 2a: w = cos(a) changes sign.
  const double ax[3] = {0.36, 0.48, 0.8};
  for (int k = 0; k < 3; ++k) p.orientation[k] = static_cast<float>(ax[k] * std::sin(a));
  p.orientation[3] = static_cast<float>(std::cos(a));
  return p;
}

PoseStream make_stream(std::uint32_t robots, std::uint32_t links, int frames, int key_every) {
  PoseStream s;
  for (int f = 1; f <= frames; ++f) {
    for (const bool key : {false, true}) {
      if (key && f % key_every != 0) continue;
      PoseFrameMessage m;
      m.frame = static_cast<std::uint64_t>(f);
      m.sim_time = f / 60.0;
      for (std::uint32_t r = 0; r < robots; ++r) {
        if (!key && r == 1 && (f / 20) % 2 == 1) continue;  // robot 1 stands still now and then
        RobotPoses rp{r, {}, {}};
        for (std::uint32_t l = 0; l < links; ++l) {
          if (!key && r == 0 && l % 2 == 1 && f % 3 != 0) continue;  // only some links changed
          rp.links.push_back(static_cast<std::uint16_t>(l));
          rp.poses.push_back(moving_pose(r, l, f));
        }
        m.robots.push_back(std::move(rp));
      }
      s.messages.push_back(std::move(m));
      s.keyframe.push_back(key);
    }
  }
  return s;
}

double rotation_angle_between(const ipc::PoseRecord& a, const ipc::PoseRecord& b) {
  return rotation_between(a.orientation, b.orientation);
}

bool bit_equal(const ipc::PoseRecord& a, const ipc::PoseRecord& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(QuantisedPoses, DecodeWithinTheStatedBound) {
  // FORMAT.md "Quantised poses": each decoded position component is within half a grid step
  // (plus f32 rounding) of the original, each rotation within 2 asin(1/S) (+1e-6) of it.
  const PoseQuantisation q;  // the recorder's default grid
  EXPECT_NEAR(position_error_bound(q, 1.0), std::ldexp(1.0, -15) + std::ldexp(1.0, -24), 1e-12);
  EXPECT_LT(orientation_error_bound(q), 1.3e-4);
  const PoseStream s = make_stream(5, 12, 300, 50);
  PoseEncoder encoder;
  PoseDecoder decoder;
  std::size_t bytes = 0, exact_bytes = 0, checked = 0;
  double worst_position = 0, worst_angle = 0;
  for (std::size_t i = 0; i < s.messages.size(); ++i) {
    const auto data = encoder.encode(s.messages[i], s.keyframe[i]);
    bytes += data.size();
    exact_bytes += encode(s.messages[i]).size();
    const PoseFrameMessage got = decoder.decode(data);
    ASSERT_EQ(got.frame, s.messages[i].frame);
    ASSERT_EQ(got.robots.size(), s.messages[i].robots.size());
    for (std::size_t r = 0; r < got.robots.size(); ++r) {
      const auto& want = s.messages[i].robots[r];
      ASSERT_EQ(got.robots[r].slot, want.slot);
      ASSERT_EQ(got.robots[r].links, want.links);
      for (std::size_t l = 0; l < want.poses.size(); ++l) {
        const auto& a = want.poses[l];
        const auto& b = got.robots[r].poses[l];
        for (int k = 0; k < 3; ++k) {
          const double err = std::fabs(double(b.position[k]) - a.position[k]);
          ASSERT_LE(err, position_error_bound(q, a.position[k])) << "message " << i << " robot " << r << " link " << l;
          worst_position = std::max(worst_position, err);
        }
        const double angle = rotation_angle_between(a, b);
        ASSERT_LE(angle, orientation_error_bound(q)) << "message " << i << " robot " << r << " link " << l;
        EXPECT_GE(b.orientation[3], 0.0f);  // sign canonical
        worst_angle = std::max(worst_angle, angle);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 15000u);
  EXPECT_GT(worst_position, 0.0);  // the grid is coarser than f32 here
  EXPECT_LT(bytes * 3, exact_bytes) << "quantised " << bytes << " bytes, exact " << exact_bytes;
}

TEST(QuantisedPoses, DecodingFromAKeyframeEqualsDecodingFromTheStart) {
  // A seek reads the keyframe, then the deltas after it: bit for bit what a reader that decoded
  // every message from the start has (the prediction restarts at each keyframe).
  const PoseStream s = make_stream(4, 9, 240, 40);
  PoseEncoder encoder;
  std::vector<std::vector<std::byte>> data;
  for (std::size_t i = 0; i < s.messages.size(); ++i) data.push_back(encoder.encode(s.messages[i], s.keyframe[i]));
  std::vector<PoseFrameMessage> sequential;
  PoseDecoder all;
  for (const auto& d : data) sequential.push_back(all.decode(d));
  std::size_t seeks = 0;
  for (std::size_t k = 0; k < data.size(); ++k) {
    if (!s.keyframe[k]) continue;
    // A keyframe decodes on its own, too.
    const auto alone = decode_pose_frame(data[k]);
    PoseDecoder from_key;
    for (std::size_t i = k; i < data.size(); ++i) {
      const auto got = from_key.decode(data[i]);
      for (std::size_t r = 0; r < got.robots.size(); ++r) {
        for (std::size_t l = 0; l < got.robots[r].poses.size(); ++l) {
          ASSERT_TRUE(bit_equal(got.robots[r].poses[l], sequential[i].robots[r].poses[l])) << "from keyframe " << k << " message " << i;
          if (i == k) {
            ASSERT_TRUE(bit_equal(alone.robots[r].poses[l], got.robots[r].poses[l]));
          }
        }
      }
    }
    ++seeks;
  }
  EXPECT_EQ(seeks, 6u);
  // A delta message cannot be decoded on its own.
  EXPECT_THROW(decode_pose_frame(data[1]), McapError);
}

TEST(QuantisedPoses, UnrepresentablePosesAreWrittenExactly) {
  // A NaN, a position beyond the grid's range or a quaternion that is not unit: that message is
  // exact (bit for bit) and restarts the prediction; the messages after it decode as before.
  const PoseStream s = make_stream(2, 4, 30, 10);
  PoseEncoder encoder;
  PoseDecoder decoder;
  for (std::size_t i = 0; i < s.messages.size(); ++i) {
    PoseFrameMessage m = s.messages[i];
    if (i == 7) m.robots.back().poses[2].position[1] = std::nanf("");
    if (i == 12) m.robots[0].poses[0].position[0] = 1e6f;
    if (i == 20) m.robots.back().poses[0].orientation[3] = 3.0f;
    const auto data = encoder.encode(m, s.keyframe[i]);
    const bool odd = i == 7 || i == 12 || i == 20;
    EXPECT_EQ(static_cast<int>(data.at(48)), odd ? 0 : 1) << "message " << i;  // the encoding byte
    const auto got = decoder.decode(data);
    for (std::size_t r = 0; r < m.robots.size(); ++r) {
      for (std::size_t l = 0; l < m.robots[r].poses.size(); ++l) {
        const auto& a = m.robots[r].poses[l];
        const auto& b = got.robots[r].poses[l];
        if (odd) {
          EXPECT_TRUE(bit_equal(a, b) || (std::isnan(a.position[1]) && std::isnan(b.position[1])));
        } else {
          for (int k = 0; k < 3; ++k) EXPECT_LE(std::fabs(double(b.position[k]) - a.position[k]), position_error_bound({}, a.position[k]));
          EXPECT_LE(rotation_angle_between(a, b), orientation_error_bound({}));
        }
      }
    }
  }
  // Exact mode: every message bit for bit.
  PoseEncoder exact(PoseEncoding::kExact);
  PoseDecoder d2;
  for (std::size_t i = 0; i < s.messages.size(); ++i) {
    const auto got = d2.decode(exact.encode(s.messages[i], s.keyframe[i]));
    for (std::size_t r = 0; r < got.robots.size(); ++r) {
      for (std::size_t l = 0; l < got.robots[r].poses.size(); ++l) EXPECT_TRUE(bit_equal(got.robots[r].poses[l], s.messages[i].robots[r].poses[l]));
    }
  }
}

TEST(QuantisedPoses, Format1PoseMessagesStillDecode) {
  // Format 1.x had no encoding byte: its poses are exact f32 byte planes.
  PoseFrameMessage frame;
  frame.frame = 9;
  frame.robots = {{1, {0, 2}, {ipc::PoseRecord{{1.5f, 2, 3}, {0, 0, 0, 1}, 0}, ipc::PoseRecord{{4, 5, 6.25f}, {0, 1, 0, 0}, 0}}}};
  auto v2 = encode(frame);
  ASSERT_EQ(static_cast<int>(v2[48]), 0);
  std::vector<std::byte> v1(v2.begin(), v2.begin() + 48);
  v1.insert(v1.end(), v2.begin() + 49, v2.end());
  const auto got = decode_pose_frame(v1, 1);
  ASSERT_EQ(got.robots.size(), 1u);
  EXPECT_EQ(got.robots[0].poses[1].position[2], 6.25f);
  EXPECT_EQ(PoseDecoder(1).decode(v1).robots[0].poses[0].position[0], 1.5f);
  EXPECT_THROW(decode_pose_frame(v1, 2), McapError);  // read as format 2 it is corrupt
}

// Never written over: a live segment's shared memory object (its writer would die of SIGBUS),
// nor an existing recording when a named segment does not exist.
TEST(Mcap, OutputsThatWouldDestroySomethingAreRefused) {
  try {
    McapWriter w("/dev/shm/fleetscope.mcap-test-" + std::to_string(::getpid()), {});
    FAIL() << "wrote into /dev/shm/fleetscope.*";
  } catch (const McapError& e) {
    EXPECT_NE(std::string(e.what()).find("segment's shared memory object"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists("/dev/shm/fleetscope.mcap-test-" + std::to_string(::getpid())));

  const auto kept = temp_file("yesterday.mcap");
  spit(kept, std::vector<char>(1000, 42));
  RecorderOptions options;
  options.segments = {"no-such-segment-" + std::to_string(::getpid())};
  options.output = kept;
  EXPECT_THROW(Recorder recorder(options), fleetscope::ipc::SegmentError);
  EXPECT_EQ(slurp(kept), std::vector<char>(1000, 42)) << "an existing recording was overwritten";
  fs::remove(kept);
}
