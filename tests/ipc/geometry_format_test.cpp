// Segment format 1.3 through ipc alone: the geometry section's visual records (every shape, any
// number per link), meshes stored in the segment (CRC-32, zstd, the reader's checks on each),
// the section header's validation, the robot attribute words, and how a 1.2 reader sees a 1.3
// segment (abi_minor patched to 2 in a copy).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/fixed_text.hpp"
#include "fleetscope/ipc/geometry_format.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using namespace fleetscope::ipc;
using fleetscope::testing::AlignedImage;
using fleetscope::testing::copy_segment;
using fleetscope::testing::unique_name;

namespace {

constexpr auto kShapeBox = static_cast<std::uint32_t>(Shape::kBox);
constexpr auto kShapeInlineMesh = static_cast<std::uint32_t>(Shape::kInlineMesh);

WriterOptions geometry_options(const std::string& name, std::uint64_t mesh_bytes = 1 << 16) {
  WriterOptions options;
  options.name = name;
  options.capacities = {8, 4, 4, 16, 4};
  options.geometry = GeometryCapacities{32, 8, mesh_bytes};
  return options;
}

// A visual whose every field differs from the defaults and from its neighbours (`k` makes it so).
LinkVisual visual(std::uint32_t shape, float k, const char* link_name = "") {
  LinkVisual v{};
  copy_fixed_text(v.link_name, link_name, "link name");
  v.shape = shape;
  v.dims[0] = 0.1f * k;
  v.dims[1] = 0.2f * k;
  v.dims[2] = 0.3f * k;
  v.scale[0] = 1.5f + k;
  v.scale[1] = 2.5f + k;
  v.scale[2] = -0.5f - k;
  v.offset_position[0] = k;
  v.offset_position[1] = -k;
  v.offset_position[2] = 2 * k;
  v.offset_orientation[0] = 0.0f;
  v.offset_orientation[1] = std::sin(0.1f * k);
  v.offset_orientation[2] = 0.0f;
  v.offset_orientation[3] = std::cos(0.1f * k);
  v.rgba[0] = static_cast<std::uint8_t>(10 * k);
  v.rgba[1] = static_cast<std::uint8_t>(20 + k);
  v.rgba[2] = static_cast<std::uint8_t>(250 - k);
  v.rgba[3] = static_cast<std::uint8_t>(100 + k);
  return v;
}

VisualRecord record(std::uint32_t link, const LinkVisual& v, std::uint32_t mesh = 0) {
  VisualRecord r{};
  r.visual = v;
  r.link = link;
  r.mesh = mesh;
  return r;
}

bool same_bytes(const LinkVisual& a, const LinkVisual& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A flat grid of n x n vertices: positions repeat enough for zstd to shrink them.
MeshData grid(int n, bool normals) {
  MeshData m;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      m.vertices.insert(m.vertices.end(), {0.25f * x, 0.25f * y, 0.0f});
      if (normals) m.normals.insert(m.normals.end(), {0.0f, 0.0f, 1.0f});
    }
  }
  for (int y = 0; y + 1 < n; ++y) {
    for (int x = 0; x + 1 < n; ++x) {
      const auto i = static_cast<std::uint32_t>(y * n + x);
      const auto row = static_cast<std::uint32_t>(n);
      m.triangles.insert(m.triangles.end(), {i, i + 1, i + row + 1, i, i + row + 1, i + row});
    }
  }
  return m;
}

MeshData tetrahedron(bool normals) {
  MeshData m;
  m.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  m.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  if (normals) m.normals = {-1, -1, -1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  return m;
}

// The payload bytes of a mesh, laid out as the format says (positions, indices, normals).
std::vector<std::byte> payload_of(const std::vector<float>& positions, const std::vector<std::uint32_t>& indices) {
  std::vector<std::byte> out(positions.size() * 4 + indices.size() * 4);
  std::memcpy(out.data(), positions.data(), positions.size() * 4);
  std::memcpy(out.data() + positions.size() * 4, indices.data(), indices.size() * 4);
  return out;
}

// A hand-made mesh (no validation on the way in): record counts from the arrays, a correct CRC.
EncodedMesh hand_made(const std::vector<float>& positions, const std::vector<std::uint32_t>& indices) {
  EncodedMesh e;
  e.stored = payload_of(positions, indices);
  e.record.raw_bytes = e.stored.size();
  e.record.stored_bytes = e.stored.size();
  e.record.vertex_count = static_cast<std::uint32_t>(positions.size() / 3);
  e.record.triangle_count = static_cast<std::uint32_t>(indices.size() / 3);
  e.record.crc32 = crc32(e.stored);
  return e;
}

template <typename Call>
void expect_error(ErrorCode code, const std::string& needle, Call&& call) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// The parts of a copied 1.3 segment a test corrupts.
struct GeometryImage {
  AlignedImage image;
  std::uint64_t section = 0;  // geometry_offset
  GeometryLayout layout;

  explicit GeometryImage(const std::string& name) : image(copy_segment(name)) {
    const SegmentReader reader = SegmentReader::over_bytes(image.bytes());
    EXPECT_TRUE(reader.info().geometry.has_value());
    section = reader.info().geometry_offset;
    layout = *reader.info().geometry;
  }
  GeometryHeader& header() { return image.at<GeometryHeader>(section); }
  MeshRecord& mesh(std::uint32_t i) { return image.at<MeshRecord>(section + layout.meshes_offset + i * sizeof(MeshRecord)); }
  std::byte* arena(std::uint64_t offset) { return image.data.get() + section + layout.arena_offset + offset; }
  VisualRecord& visual(std::uint32_t i) {
    return image.at<VisualRecord>(section + layout.visuals_offset + i * sizeof(VisualRecord));
  }
  ModelRecord& model(std::uint32_t i) {
    return image.at<ModelRecord>(image.header().models_offset + i * sizeof(ModelRecord));
  }
  SegmentReader reader() const { return SegmentReader::over_bytes(image.bytes()); }
};

// The Frame_Content_Size field of a zstd frame (RFC 8878 3.1.1.1): its offset and width.
struct ContentSizeField {
  std::size_t offset = 0;
  std::size_t width = 0;
};

ContentSizeField content_size_field(std::span<const std::byte> frame) {
  const auto descriptor = static_cast<unsigned>(frame[4]);
  const unsigned fcs_flag = descriptor >> 6;
  const bool single_segment = (descriptor & 0x20) != 0;
  const unsigned dictionary_flag = descriptor & 3;
  const std::size_t dictionary_bytes[4] = {0, 1, 2, 4};
  ContentSizeField f;
  f.offset = 5 + (single_segment ? 0 : 1) + dictionary_bytes[dictionary_flag];
  const std::size_t widths[4] = {single_segment ? 1u : 0u, 2, 4, 8};
  f.width = widths[fcs_flag];
  return f;
}

// Rewrites the frame's content size to `size` (which must fit the field's width).
void set_content_size(std::span<std::byte> frame, std::uint64_t size) {
  const ContentSizeField f = content_size_field(frame);
  ASSERT_GT(f.width, 0u) << "frame without a content size";
  if (f.width == 2) {
    ASSERT_GE(size, 256u);
    size -= 256;
  }
  for (std::size_t i = 0; i < f.width; ++i) frame[f.offset + i] = static_cast<std::byte>((size >> (8 * i)) & 0xFF);
}

}  // namespace

// Every shape 0..7, several visuals on one link, a link without any, records out of link order:
// the reader hands back each visual as written, with its link and mesh index.
TEST(GeometryFormat, EveryShapeRoundTripsWithSeveralVisualsPerLinkAndALinkWithout) {
  const std::string name = unique_name("geom.shapes");
  SegmentWriter writer(geometry_options(name));
  ASSERT_TRUE(writer.has_geometry());
  const std::uint32_t mesh0 = writer.add_mesh(encode_mesh(tetrahedron(false), false));
  const std::uint32_t mesh1 = writer.add_mesh(encode_mesh(grid(4, true), true));
  ASSERT_EQ(mesh0, 0u);
  ASSERT_EQ(mesh1, 1u);

  const LinkVisual links[3] = {visual(kShapeBox, 1, "base"), visual(kShapeBox, 0, "empty"),
                               visual(static_cast<std::uint32_t>(Shape::kSphere), 2, "tool")};
  LinkVisual by_path = visual(static_cast<std::uint32_t>(Shape::kMesh), 7, "tool");
  copy_fixed_text(by_path.mesh_path, "/meshes/gripper.stl", "mesh path");
  std::vector<VisualRecord> visuals = {
      record(2, visual(static_cast<std::uint32_t>(Shape::kCapsule), 6, "tool")),  // not in link order
      record(0, visual(kShapeBox, 2, "base")),
      record(0, visual(static_cast<std::uint32_t>(Shape::kSphere), 3, "base")),
      record(0, visual(static_cast<std::uint32_t>(Shape::kCylinder), 4, "base")),
      record(2, by_path),
      record(2, visual(static_cast<std::uint32_t>(Shape::kPlane), 8, "tool")),
      record(0, visual(static_cast<std::uint32_t>(Shape::kEllipsoid), 9, "base")),
      record(2, visual(kShapeInlineMesh, 10, "tool"), mesh1),
      record(0, visual(kShapeInlineMesh, 11, "base"), mesh0),
  };
  // A model of one visual per link before it: its records start past 0 in both tables.
  const LinkVisual plain[1] = {visual(kShapeBox, 12, "only")};
  ASSERT_EQ(writer.add_model("plain", plain), 0u);
  ASSERT_EQ(writer.add_model("everything", links, visuals), 1u);

  const SegmentReader reader = SegmentReader::open(name);
  EXPECT_EQ(reader.info().abi_minor, 3);
  const LayoutSnapshot layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 2u);
  const ModelSnapshot& first = layout.models[0];
  ASSERT_EQ(first.all_visuals.size(), 1u);  // no geometry-section visuals: the per-link table
  EXPECT_EQ(first.all_visuals[0].link, 0u);
  EXPECT_TRUE(same_bytes(first.all_visuals[0].visual, plain[0]));

  const ModelSnapshot& model = layout.models[1];
  EXPECT_EQ(model.name, "everything");
  ASSERT_EQ(model.visuals.size(), 3u);
  for (int l = 0; l < 3; ++l) EXPECT_TRUE(same_bytes(model.visuals[l], links[l])) << "link " << l;
  ASSERT_EQ(model.all_visuals.size(), visuals.size());
  std::vector<bool> seen_shape(kExtendedShapeCount, false);
  std::size_t on_link1 = 0;
  for (std::size_t i = 0; i < visuals.size(); ++i) {
    const ModelVisual& got = model.all_visuals[i];
    const VisualRecord& want = visuals[i];
    EXPECT_EQ(got.link, want.link) << i;
    EXPECT_EQ(got.mesh, want.visual.shape == kShapeInlineMesh ? want.mesh : 0u) << i;
    EXPECT_EQ(got.visual.shape, want.visual.shape) << i;
    for (int a = 0; a < 3; ++a) {
      EXPECT_EQ(got.visual.dims[a], want.visual.dims[a]) << i;
      EXPECT_EQ(got.visual.scale[a], want.visual.scale[a]) << i;
      EXPECT_EQ(got.visual.offset_position[a], want.visual.offset_position[a]) << i;
    }
    for (int a = 0; a < 4; ++a) {
      EXPECT_EQ(got.visual.offset_orientation[a], want.visual.offset_orientation[a]) << i;
      EXPECT_EQ(got.visual.rgba[a], want.visual.rgba[a]) << i;
    }
    EXPECT_STREQ(got.visual.mesh_path, want.visual.mesh_path) << i;
    EXPECT_TRUE(same_bytes(got.visual, want.visual)) << i;
    seen_shape[got.visual.shape] = true;
    on_link1 += got.link == 1;
  }
  for (std::uint32_t s = 0; s < kExtendedShapeCount; ++s) EXPECT_TRUE(seen_shape[s]) << "shape " << s;
  EXPECT_EQ(on_link1, 0u);
  EXPECT_STREQ(model.all_visuals[4].visual.mesh_path, "/meshes/gripper.stl");
}

TEST(GeometryFormat, WriterRefusesVisualsReadersWouldRefuse) {
  const std::string name = unique_name("geom.refuse");
  SegmentWriter writer(geometry_options(name));
  const LinkVisual links[2] = {visual(kShapeBox, 1, "a"), visual(kShapeBox, 2, "b")};
  expect_error(ErrorCode::kInvalidArgument, "unknown shape 8", [&] {
    const VisualRecord v[1] = {record(0, visual(8, 1, "a"))};
    writer.add_model("m", links, v);
  });
  expect_error(ErrorCode::kInvalidArgument, "link 2 of 2", [&] {
    const VisualRecord v[1] = {record(2, visual(kShapeBox, 1, "a"))};
    writer.add_model("m", links, v);
  });
  expect_error(ErrorCode::kInvalidArgument, "mesh 0 of 0", [&] {
    const VisualRecord v[1] = {record(0, visual(kShapeInlineMesh, 1, "a"), 0)};
    writer.add_model("m", links, v);
  });
  // The per-link table still takes shapes 0..4 only.
  expect_error(ErrorCode::kInvalidArgument, "unknown shape 5", [&] {
    const LinkVisual bad[1] = {visual(static_cast<std::uint32_t>(Shape::kPlane), 1, "a")};
    writer.add_model("m", bad, {});
  });
  EXPECT_EQ(SegmentReader::open(name).read_layout().models.size(), 0u);

  // Without a geometry section there is nowhere to put them.
  WriterOptions plain = geometry_options(unique_name("geom.refuse.plain"));
  plain.geometry.reset();
  SegmentWriter old(plain);
  EXPECT_FALSE(old.has_geometry());
  expect_error(ErrorCode::kInvalidArgument, "no geometry section", [&] {
    const VisualRecord v[1] = {record(0, visual(kShapeBox, 1, "a"))};
    old.add_model("m", links, v);
  });
  expect_error(ErrorCode::kInvalidArgument, "no geometry section",
               [&] { old.add_mesh(encode_mesh(tetrahedron(false), false)); });
  const SegmentReader reader = SegmentReader::open(old.name());
  EXPECT_FALSE(reader.info().geometry.has_value());
  EXPECT_EQ(reader.mesh_count(), 0u);
  expect_error(ErrorCode::kInvalidArgument, "there is no mesh 0", [&] { reader.read_mesh(0); });
}

TEST(GeometryFormat, StoredMeshesReadBackEqualWithAndWithoutNormalsAndCompression) {
  const std::string name = unique_name("geom.meshes");
  SegmentWriter writer(geometry_options(name));
  const std::vector<MeshData> meshes = {grid(12, false), grid(12, true), tetrahedron(false), tetrahedron(true),
                                        grid(9, true)};
  const bool compress[] = {true, true, false, false, false};
  for (std::size_t i = 0; i < meshes.size(); ++i) {
    const EncodedMesh e = encode_mesh(meshes[i], compress[i]);
    // The grids shrink under zstd; a mesh stored plain is its payload.
    EXPECT_EQ((e.record.flags & kMeshZstd) != 0, compress[i]) << i;
    EXPECT_EQ((e.record.flags & kMeshHasNormals) != 0, !meshes[i].normals.empty()) << i;
    if (compress[i]) {
      EXPECT_LT(e.record.stored_bytes, e.record.raw_bytes) << i;
    } else {
      EXPECT_EQ(e.record.stored_bytes, e.record.raw_bytes) << i;
    }
    EXPECT_EQ(writer.add_mesh(e), i);
  }
  EXPECT_EQ(writer.mesh_count(), meshes.size());

  const SegmentReader reader = SegmentReader::open(name);
  ASSERT_EQ(reader.mesh_count(), meshes.size());
  for (std::uint32_t i = 0; i < meshes.size(); ++i) {
    const MeshData got = reader.read_mesh(i);
    EXPECT_EQ(got, meshes[i]) << "mesh " << i;
  }
  expect_error(ErrorCode::kInvalidArgument, "there is no mesh 5", [&] { reader.read_mesh(5); });

  // Records as stored: data 64-byte aligned in the arena, bounds of the positions, arena_used.
  GeometryImage g(name);
  std::uint64_t end = 0;
  for (std::uint32_t i = 0; i < meshes.size(); ++i) {
    const MeshRecord& r = g.mesh(i);
    EXPECT_EQ(r.data_offset % 64, 0u) << i;
    EXPECT_GE(r.data_offset, end) << i;
    end = r.data_offset + r.stored_bytes;
  }
  EXPECT_EQ(g.header().arena_used.load(), end);
  EXPECT_EQ(g.mesh(0).bounds_min[0], 0.0f);
  EXPECT_EQ(g.mesh(0).bounds_max[0], 0.25f * 11);
  EXPECT_EQ(g.mesh(3).bounds_max[2], 1.0f);
  EXPECT_EQ(g.mesh(0).crc32, crc32(payload_of(meshes[0].vertices, meshes[0].triangles)));
}

TEST(GeometryFormat, MeshesBeyondTheTableOrTheArenaAreRefusedByTheWriter) {
  const std::string name = unique_name("geom.full");
  WriterOptions options = geometry_options(name, 1024);
  options.geometry->meshes = 2;
  SegmentWriter writer(options);
  expect_error(ErrorCode::kCapacity, "bytes left for meshes", [&] { writer.add_mesh(encode_mesh(grid(12, false), false)); });
  EXPECT_EQ(writer.add_mesh(encode_mesh(tetrahedron(false), false)), 0u);
  EXPECT_EQ(writer.add_mesh(encode_mesh(tetrahedron(true), false)), 1u);
  expect_error(ErrorCode::kCapacity, "at most 2 meshes", [&] { writer.add_mesh(encode_mesh(tetrahedron(false), false)); });
  const SegmentReader reader = SegmentReader::open(name);
  EXPECT_EQ(reader.mesh_count(), 2u);
  EXPECT_EQ(reader.read_mesh(1), tetrahedron(true));
}

TEST(GeometryFormat, EncodeMeshRefusesWhatAReaderWouldRefuse) {
  MeshData m = tetrahedron(false);
  m.triangles[4] = 4;
  expect_error(ErrorCode::kInvalidArgument, "triangle 1 refers to vertex 4 of 4", [&] { encode_mesh(m, false); });
  m = tetrahedron(false);
  m.vertices[5] = std::numeric_limits<float>::quiet_NaN();
  expect_error(ErrorCode::kInvalidArgument, "vertex 1 has a coordinate that is not finite", [&] { encode_mesh(m, true); });
  m = tetrahedron(false);
  m.vertices[0] = 2.0e5f;
  expect_error(ErrorCode::kInvalidArgument, "beyond 100000 m", [&] { encode_mesh(m, false); });
  m = tetrahedron(true);
  m.normals[2] = std::numeric_limits<float>::infinity();
  expect_error(ErrorCode::kInvalidArgument, "normal is not finite", [&] { encode_mesh(m, false); });
  m = tetrahedron(true);
  m.normals.resize(9);
  expect_error(ErrorCode::kInvalidArgument, "one per vertex", [&] { encode_mesh(m, false); });
  m = tetrahedron(false);
  m.triangles.clear();
  expect_error(ErrorCode::kInvalidArgument, "at least one vertex and one triangle", [&] { encode_mesh(m, false); });
  m = tetrahedron(false);
  m.vertices.pop_back();
  expect_error(ErrorCode::kInvalidArgument, "multiples of 3", [&] { encode_mesh(m, false); });
}

// Hand-made meshes with a correct CRC, stored through SegmentWriter::add_mesh (which takes encoded
// bytes as they are): the reader's own checks refuse each, naming the problem.
TEST(GeometryFormat, HandMadeMeshesWithACorrectCrcAreStillChecked) {
  const std::string name = unique_name("geom.handmade");
  SegmentWriter writer(geometry_options(name));
  const std::vector<float> three = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  // 0: a good hand-made mesh (so the hand-made layout itself is right).
  writer.add_mesh(hand_made(three, {0, 1, 2}));
  // 1: a triangle refers to vertex 3 of 3.
  writer.add_mesh(hand_made(three, {0, 1, 3}));
  // 2: a NaN position.
  std::vector<float> nan_vertex = three;
  nan_vertex[4] = std::numeric_limits<float>::quiet_NaN();
  writer.add_mesh(hand_made(nan_vertex, {0, 1, 2}));
  // 3: a position beyond the limit.
  std::vector<float> far = three;
  far[8] = -1.0e6f;
  writer.add_mesh(hand_made(far, {0, 1, 2}));
  // 4, 5: counts above the limits (the record claims them; the data is small).
  EncodedMesh many_vertices = hand_made(three, {0, 1, 2});
  many_vertices.record.vertex_count = kMaxMeshVertices + 1;
  writer.add_mesh(many_vertices);
  EncodedMesh many_triangles = hand_made(three, {0, 1, 2});
  many_triangles.record.triangle_count = kMaxMeshTriangles + 1;
  writer.add_mesh(many_triangles);
  // 6: raw_bytes disagreeing with the counts.
  EncodedMesh bad_raw = hand_made(three, {0, 1, 2});
  bad_raw.record.raw_bytes += 12;
  writer.add_mesh(bad_raw);
  // 7: an unknown flag bit.
  EncodedMesh bad_flags = hand_made(three, {0, 1, 2});
  bad_flags.record.flags = 1u << 2;
  writer.add_mesh(bad_flags);

  const SegmentReader reader = SegmentReader::open(name);
  ASSERT_EQ(reader.mesh_count(), 8u);
  EXPECT_EQ(reader.read_mesh(0).vertices, three);
  const std::pair<std::uint32_t, std::string> expected[] = {
      {1, "triangle 0 refers to vertex 3 of 3"},
      {2, "vertex 1 has a coordinate that is not finite"},
      {3, "vertex 2 has a coordinate that is not finite or beyond 100000 m"},
      {4, std::to_string(kMaxMeshVertices + 1) + " vertices and 1 triangles (allowed"},
      {5, "3 vertices and " + std::to_string(kMaxMeshTriangles + 1) + " triangles (allowed"},
      {6, "payload size 60, the counts need 48"},
      {7, "unknown mesh flags 4"},
  };
  for (const auto& [index, needle] : expected) {
    SCOPED_TRACE("mesh " + std::to_string(index));
    expect_error(ErrorCode::kCorrupt, "mesh " + std::to_string(index) + " is corrupt: " + needle,
                 [&] { reader.read_mesh(index); });
  }
  // A visual may refer to a mesh the reader then refuses: the layout is still read.
  const LinkVisual links[1] = {visual(kShapeBox, 1, "a")};
  const VisualRecord v[1] = {record(0, visual(kShapeInlineMesh, 1, "a"), 1)};
  writer.add_model("uses-bad-mesh", links, v);
  const LayoutSnapshot layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 1u);
  EXPECT_EQ(layout.models[0].all_visuals[0].mesh, 1u);
}

// Corruption of stored bytes, in a copy of the segment: each refused with kCorrupt naming it.
TEST(GeometryFormat, CorruptStoredMeshesAreRefusedNamingTheProblem) {
  const std::string name = unique_name("geom.corrupt");
  SegmentWriter writer(geometry_options(name));
  writer.add_mesh(encode_mesh(tetrahedron(true), false));  // 0: plain
  writer.add_mesh(encode_mesh(grid(12, true), true));      // 1: zstd
  const SegmentReader live = SegmentReader::open(name);
  ASSERT_EQ(live.read_mesh(0), tetrahedron(true));
  ASSERT_EQ(live.read_mesh(1), grid(12, true));

  auto expect_corrupt = [&](const std::string& what, std::uint32_t index, const std::string& needle, auto&& corrupt) {
    SCOPED_TRACE(what);
    GeometryImage g(name);
    corrupt(g);
    const SegmentReader reader = g.reader();  // the section header is intact: it opens
    expect_error(ErrorCode::kCorrupt, "mesh " + std::to_string(index) + " is corrupt: " + needle,
                 [&] { reader.read_mesh(index); });
    // The other mesh still reads.
    EXPECT_NO_THROW(reader.read_mesh(1 - index));
  };
  expect_corrupt("flipped CRC byte", 0, "checksum mismatch", [](GeometryImage& g) {
    auto* crc = reinterpret_cast<std::uint8_t*>(&g.mesh(0).crc32);
    crc[2] ^= 0x10;
  });
  expect_corrupt("flipped payload byte", 0, "checksum mismatch", [](GeometryImage& g) {
    *g.arena(g.mesh(0).data_offset + 5) ^= std::byte{0x01};
  });
  expect_corrupt("flipped CRC byte of a compressed mesh", 1, "checksum mismatch", [](GeometryImage& g) {
    g.mesh(1).crc32 ^= 0x01000000u;
  });
  expect_corrupt("data_offset beyond the arena", 0, "its data lies outside the mesh arena", [](GeometryImage& g) {
    g.mesh(0).data_offset = g.layout.capacities.mesh_bytes + 64;
  });
  expect_corrupt("data running past the arena's end", 1, "its data lies outside the mesh arena", [](GeometryImage& g) {
    g.mesh(1).data_offset = g.layout.capacities.mesh_bytes - 8;
  });
  expect_corrupt("stored_bytes wrapping around", 0, "its data lies outside the mesh arena", [](GeometryImage& g) {
    g.mesh(0).stored_bytes = ~std::uint64_t{0} - 32;
  });
  expect_corrupt("plain mesh with stored != raw", 0, "stored size does not match the payload size", [](GeometryImage& g) {
    g.mesh(0).stored_bytes -= 12;
  });
  expect_corrupt("zstd frame content size lies", 1, "its zstd frame does not hold", [](GeometryImage& g) {
    MeshRecord& r = g.mesh(1);
    set_content_size({g.arena(r.data_offset), r.stored_bytes}, r.raw_bytes - 12);
  });
  expect_corrupt("zstd frame and record agree, the data is longer", 1, "zstd: ", [](GeometryImage& g) {
    // The record and the frame both claim one vertex fewer than the frame decompresses to.
    MeshRecord& r = g.mesh(1);
    r.vertex_count -= 1;
    r.raw_bytes -= 24;  // a position and a normal
    set_content_size({g.arena(r.data_offset), r.stored_bytes}, r.raw_bytes);
  });
  expect_corrupt("zstd frame cut short", 1, "zstd: ", [](GeometryImage& g) { g.mesh(1).stored_bytes -= 7; });
  expect_corrupt("zstd flag on plain data", 0, "its zstd frame does not hold", [](GeometryImage& g) {
    g.mesh(0).flags |= kMeshZstd;
  });
  expect_corrupt("compressed bytes without the zstd flag", 1, "stored size does not match the payload size",
                 [](GeometryImage& g) { g.mesh(1).flags &= ~kMeshZstd; });

  // A mesh count above the table: nothing past the table is read (the reader clamps the count or
  // refuses it; either way no record beyond the table is touched, which ASan would report).
  GeometryImage g(name);
  g.header().mesh_count.store(1000);
  const SegmentReader reader = g.reader();
  std::uint32_t count = 0;
  try {
    count = reader.mesh_count();
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt) << e.what();
  }
  EXPECT_LE(count, g.layout.capacities.meshes);
  for (std::uint32_t i : {2u, g.layout.capacities.meshes - 1, g.layout.capacities.meshes, 999u}) {
    EXPECT_THROW(reader.read_mesh(i), SegmentError) << i;  // all-zero records, or beyond the table
  }
}

// The section header must hold exactly what its capacities imply, and lie where the header says.
TEST(GeometryFormat, ABadGeometryHeaderIsRefusedAtOpen) {
  const std::string name = unique_name("geom.header");
  SegmentWriter writer(geometry_options(name));
  writer.add_mesh(encode_mesh(tetrahedron(false), false));
  auto expect_refused = [&](const std::string& what, const std::string& needle, auto&& corrupt) {
    SCOPED_TRACE(what);
    GeometryImage g(name);
    corrupt(g);
    expect_error(ErrorCode::kCorrupt, needle, [&] { SegmentReader::over_bytes(g.image.bytes()); });
    // Through a real object and SegmentReader::open as well.
    const std::string copy = name + ".copy";
    fleetscope::testing::write_object(copy, g.image.bytes());
    expect_error(ErrorCode::kCorrupt, needle, [&] { SegmentReader::open(copy); });
    SharedMemoryMapping::remove(copy);
  };
  expect_refused("magic", "geometry section has magic 0x", [](GeometryImage& g) { g.header().magic ^= 1; });
  expect_refused("meshes offset", "geometry section offsets do not match its capacities",
                 [](GeometryImage& g) { g.header().meshes_offset += 64; });
  expect_refused("visuals offset", "geometry section offsets do not match its capacities",
                 [](GeometryImage& g) { g.header().visuals_offset = 0; });
  expect_refused("arena offset", "geometry section offsets do not match its capacities",
                 [](GeometryImage& g) { g.header().arena_offset -= 64; });
  expect_refused("section size", "geometry section offsets do not match its capacities",
                 [](GeometryImage& g) { g.header().size += 64; });
  expect_refused("capacities disagree with the size", "geometry section offsets do not match its capacities",
                 [](GeometryImage& g) { g.header().mesh_capacity += 1; });
  expect_refused("visual capacity 0", "geometry capacities out of range",
                 [](GeometryImage& g) { g.header().visual_capacity = 0; });
  expect_refused("mesh capacity above the limit", "geometry capacities out of range",
                 [](GeometryImage& g) { g.header().mesh_capacity = kMaxMeshes + 1; });
  expect_refused("arena above the limit", "geometry capacities out of range",
                 [](GeometryImage& g) { g.header().arena_size = kMaxMeshArenaBytes + 1; });
  expect_refused("geometry_size larger than the object", "does not follow the layout",
                 [](GeometryImage& g) { g.image.header().geometry_size += 64; });
  expect_refused("geometry_size huge", "does not follow the layout",
                 [](GeometryImage& g) { g.image.header().geometry_size = ~std::uint64_t{0}; });
  expect_refused("geometry_size smaller than the section", "geometry section offsets do not match",
                 [](GeometryImage& g) { g.image.header().geometry_size -= 64; });
  expect_refused("geometry_size below the header", "smaller than its header",
                 [](GeometryImage& g) { g.image.header().geometry_size = 64; });
  expect_refused("geometry_offset not total_size", "does not follow the layout",
                 [](GeometryImage& g) { g.image.header().geometry_offset += 64; });
  expect_refused("geometry_size without an offset", "does not follow the layout",
                 [](GeometryImage& g) { g.image.header().geometry_offset = 0; });

  // The intact copy opens, and a 1.2 segment (abi_minor 2) never looks at the section at all.
  GeometryImage g(name);
  EXPECT_NO_THROW(g.reader());
  g.header().magic = 0;
  g.image.header().abi_minor = 2;
  const SegmentReader old = g.reader();
  EXPECT_FALSE(old.info().geometry.has_value());
  EXPECT_EQ(old.mesh_count(), 0u);
}

// Visual records are checked by read_layout, as the per-link table is.
TEST(GeometryFormat, BadVisualRecordsAreRefusedByReadLayout) {
  const std::string name = unique_name("geom.visuals");
  SegmentWriter writer(geometry_options(name));
  writer.add_mesh(encode_mesh(tetrahedron(false), false));
  const LinkVisual links[2] = {visual(kShapeBox, 1, "a"), visual(kShapeBox, 2, "b")};
  const VisualRecord visuals[3] = {record(0, visual(kShapeBox, 3, "a")), record(1, visual(kShapeInlineMesh, 4, "b"), 0),
                                   record(1, visual(static_cast<std::uint32_t>(Shape::kPlane), 5, "b"))};
  writer.add_model("m", links, visuals);
  ASSERT_EQ(SegmentReader::open(name).read_layout().models[0].all_visuals.size(), 3u);

  auto expect_refused = [&](const std::string& what, const std::string& needle, auto&& corrupt) {
    SCOPED_TRACE(what);
    GeometryImage g(name);
    corrupt(g);
    const SegmentReader reader = g.reader();
    expect_error(ErrorCode::kCorrupt, needle, [&] { reader.read_layout(); });
  };
  expect_refused("shape 8", "model 0 has unknown shape 8", [](GeometryImage& g) { g.visual(2).visual.shape = 8; });
  expect_refused("shape far out", "model 0 has unknown shape 4294967295",
                 [](GeometryImage& g) { g.visual(0).visual.shape = ~0u; });
  expect_refused("link == link_count", "model 0 has a visual of link 2 of 2", [](GeometryImage& g) { g.visual(0).link = 2; });
  expect_refused("link far out", "of link 4294967295 of 2", [](GeometryImage& g) { g.visual(1).link = ~0u; });
  expect_refused("mesh == capacity", "model 0 refers to mesh 8 beyond the mesh table",
                 [](GeometryImage& g) { g.visual(1).mesh = g.layout.capacities.meshes; });
  expect_refused("link name without a NUL", "not NUL-terminated",
                 [](GeometryImage& g) { std::memset(g.visual(0).visual.link_name, 'x', sizeof g.visual(0).visual.link_name); });
  expect_refused("mesh path without a NUL", "not NUL-terminated",
                 [](GeometryImage& g) { std::memset(g.visual(2).visual.mesh_path, 'x', sizeof g.visual(2).visual.mesh_path); });
  expect_refused("visual range past the table", "lie outside the geometry section's visual table",
                 [](GeometryImage& g) { g.model(0).first_extended_visual = g.layout.capacities.visuals - 1; });
  expect_refused("visual count overflowing", "lie outside the geometry section's visual table",
                 [](GeometryImage& g) { g.model(0).extended_visual_count = ~0u; });
  expect_refused("extended visuals without a section", "lie outside the geometry section's visual table",
                 [](GeometryImage& g) {
                   g.image.header().geometry_offset = 0;
                   g.image.header().geometry_size = 0;
                 });

  // A mesh index below the capacity but not (yet) stored is not a layout error: read_mesh says so.
  GeometryImage g(name);
  g.visual(1).mesh = 5;
  const SegmentReader reader = g.reader();
  EXPECT_EQ(reader.read_layout().models[0].all_visuals[1].mesh, 5u);
  expect_error(ErrorCode::kInvalidArgument, "there is no mesh 5", [&] { reader.read_mesh(5); });
  // The mesh field of a visual that is not a stored mesh is not looked at.
  g.visual(1).mesh = 0;
  g.visual(2).mesh = ~0u;
  EXPECT_EQ(g.reader().read_layout().models[0].all_visuals[2].mesh, 0u);
}

TEST(GeometryFormat, RobotAttributeWordsRoundTripAndAChangeAloneBumpsTheChangeCount) {
  const std::string name = unique_name("geom.attributes");
  SegmentWriter writer(geometry_options(name));
  const LinkVisual links[2] = {visual(kShapeBox, 1, "a"), visual(kShapeBox, 2, "b")};
  const std::uint32_t model = writer.add_model("m", links);
  RobotAttributeWords coloured;
  coloured.color_and_flags = std::uint64_t{kRobotColorOverride | kRobotHasProducer | kRobotHasScalar} << 32 | 0x80FF4020u;
  coloured.producer = std::uint64_t{7} << 32 | 3;
  coloured.scalar_bits = std::bit_cast<std::uint64_t>(-12.5);
  const std::uint32_t plain = writer.spawn_robot("plain", model);
  const std::uint32_t painted = writer.spawn_robot("painted", model, coloured);
  std::vector<float> poses(2 * 7, 0.0f);
  poses[6] = poses[13] = 1.0f;
  const std::uint64_t both = 0b11;
  writer.write_robot(plain, poses, std::span(&both, 1));
  writer.write_robot(painted, poses, std::span(&both, 1));
  writer.end_frame(1.0, 4, 2);

  const SegmentReader reader = SegmentReader::open(name);
  std::vector<std::uint64_t> dirty(reader.info().layout.dirty_words);
  std::vector<PoseRecord> out(2);
  const auto first = reader.read_robot(painted, std::nullopt, 2, dirty, out);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attributes, coloured);
  EXPECT_EQ(first->attributes.flags(), kRobotColorOverride | kRobotHasProducer | kRobotHasScalar);
  EXPECT_EQ(std::bit_cast<double>(first->attributes.scalar_bits), -12.5);
  EXPECT_EQ(reader.read_robot(plain, std::nullopt, 2, dirty, out)->attributes, RobotAttributeWords{});

  PoseIngestor ingestor(reader);
  ingestor.ingest();
  // A robot's first read reports its attributes when it has any.
  ASSERT_EQ(ingestor.attribute_changes().size(), 1u);
  EXPECT_EQ(ingestor.attribute_changes()[0], painted);
  EXPECT_EQ(ingestor.attributes(painted), coloured);
  EXPECT_EQ(ingestor.attributes(plain), RobotAttributeWords{});
  EXPECT_EQ(ingestor.changes().size(), 4u);

  // An attribute change alone: one more change with an empty mask.
  const std::uint64_t changes_before = reader.change_count(plain);
  RobotAttributeWords fixed;
  fixed.color_and_flags = std::uint64_t{kRobotStatic} << 32;
  writer.write_robot_attributes(plain, fixed);
  writer.end_frame(2.0, 0, 1);
  EXPECT_EQ(reader.change_count(plain), changes_before + 1);
  const auto later = reader.read_robot(plain, changes_before, 2, dirty, out);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->attributes, fixed);
  EXPECT_EQ(later->last_change_frame, 2u);
  EXPECT_EQ(dirty[0], 0u);  // no link in the change
  ingestor.ingest();
  EXPECT_TRUE(ingestor.changes().empty());
  ASSERT_EQ(ingestor.attribute_changes().size(), 1u);
  EXPECT_EQ(ingestor.attribute_changes()[0], plain);
  EXPECT_EQ(ingestor.attributes(plain), fixed);
  EXPECT_EQ(ingestor.attributes(painted), coloured);
  ingestor.ingest();
  EXPECT_TRUE(ingestor.attribute_changes().empty());

  // Poses and attributes in one frame: one change carrying both.
  poses[0] = 5.0f;
  const std::uint64_t link0 = 0b01;
  const std::uint64_t before = reader.change_count(painted);
  writer.write_robot(painted, poses, std::span(&link0, 1));
  writer.write_robot_attributes(painted, RobotAttributeWords{});
  writer.end_frame(3.0, 1, 1);
  EXPECT_EQ(reader.change_count(painted), before + 1);
  ingestor.ingest();
  ASSERT_EQ(ingestor.changes().size(), 1u);
  EXPECT_EQ(ingestor.changes()[0].slot, painted);
  EXPECT_EQ(ingestor.changes()[0].link, 0u);
  EXPECT_EQ(ingestor.poses(painted)[0].position[0], 5.0f);
  ASSERT_EQ(ingestor.attribute_changes().size(), 1u);
  EXPECT_EQ(ingestor.attributes(painted), RobotAttributeWords{});

  expect_error(ErrorCode::kInvalidArgument, "not in use", [&] { writer.write_robot_attributes(7, fixed); });
}

// A 1.3 segment read as 1.2 (abi_minor patched to 2 in a copy): the per-link table is all there
// is (one visual per link), the attribute words are not read, the geometry section is ignored.
TEST(GeometryFormat, ASegmentPatchedToMinor2IsReadAs12) {
  const std::string name = unique_name("geom.as12");
  SegmentWriter writer(geometry_options(name));
  writer.add_mesh(encode_mesh(tetrahedron(false), false));
  LinkVisual empty = visual(kShapeBox, 0, "empty");
  empty.dims[0] = empty.dims[1] = empty.dims[2] = 0.0f;
  // Stand-ins as a 1.3 writer stores them (SimWriter computes them; its tests check how).
  const LinkVisual links[3] = {visual(kShapeBox, 1, "plane"), empty, visual(kShapeBox, 3, "mesh")};
  const VisualRecord visuals[3] = {record(0, visual(static_cast<std::uint32_t>(Shape::kPlane), 1, "plane")),
                                   record(2, visual(kShapeInlineMesh, 3, "mesh"), 0),
                                   record(2, visual(static_cast<std::uint32_t>(Shape::kEllipsoid), 4, "mesh"))};
  const std::uint32_t model = writer.add_model("m", links, visuals);
  RobotAttributeWords attributes;
  attributes.color_and_flags = std::uint64_t{kRobotColorOverride} << 32 | 0xFF0000FFu;
  attributes.scalar_bits = std::bit_cast<std::uint64_t>(1.0);
  const std::uint32_t robot = writer.spawn_robot("r", model, attributes);
  std::vector<float> poses(3 * 7, 0.0f);
  for (int l = 0; l < 3; ++l) poses[l * 7 + 6] = 1.0f;
  const std::uint64_t all = 0b111;
  writer.write_robot(robot, poses, std::span(&all, 1));
  writer.end_frame(0.0, 3, 1);

  AlignedImage image = copy_segment(name);
  {
    const SegmentReader reader = SegmentReader::over_bytes(image.bytes());
    EXPECT_EQ(reader.read_layout().models[0].all_visuals.size(), 3u);
  }
  image.header().abi_minor = 2;
  const SegmentReader reader = SegmentReader::over_bytes(image.bytes());
  EXPECT_EQ(reader.info().abi_minor, 2);
  EXPECT_FALSE(reader.info().geometry.has_value());
  EXPECT_EQ(reader.mesh_count(), 0u);
  const LayoutSnapshot layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 1u);
  const ModelSnapshot& m = layout.models[0];
  ASSERT_EQ(m.all_visuals.size(), 3u);
  for (std::uint32_t l = 0; l < 3; ++l) {
    EXPECT_EQ(m.all_visuals[l].link, l);
    EXPECT_EQ(m.all_visuals[l].mesh, 0u);
    EXPECT_TRUE(same_bytes(m.all_visuals[l].visual, links[l])) << l;
    EXPECT_LT(m.all_visuals[l].visual.shape, kShapeCount);
  }
  std::vector<std::uint64_t> dirty(reader.info().layout.dirty_words);
  std::vector<PoseRecord> out(3);
  const auto read = reader.read_robot(robot, std::nullopt, 3, dirty, out);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->attributes, RobotAttributeWords{});
  PoseIngestor ingestor(reader);
  ingestor.ingest();
  EXPECT_TRUE(ingestor.attribute_changes().empty());
  EXPECT_EQ(ingestor.changes().size(), 3u);

  // A 1.2 segment's model words 56..63 are not read either (they were reserved before 1.3).
  image.at<ModelRecord>(image.header().models_offset).extended_visual_count = 1000;
  EXPECT_EQ(SegmentReader::over_bytes(image.bytes()).read_layout().models[0].all_visuals.size(), 3u);
}
