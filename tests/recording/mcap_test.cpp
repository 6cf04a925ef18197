// The MCAP writer and reader (recording/): round trips, summary and message indexes, truncated
// and corrupt files, newer versions, recover; and the fleetscope message encodings.
#include <gtest/gtest.h>
#include <unistd.h>

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
  huge[48] = std::byte{0xFF};
  huge[49] = std::byte{0xFF};
  huge[50] = std::byte{0xFF};
  huge[51] = std::byte{0x7F};
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
