#include "fleetscope/ipc/mesh_data.hpp"

#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::ipc {
namespace {

std::uint64_t payload_bytes(std::uint64_t vertices, std::uint64_t triangles, bool normals) {
  return vertices * 12 + triangles * 12 + (normals ? vertices * 12 : 0);
}

// The checks shared by writer and reader; `fail` throws with the caller's error code and wording.
template <typename Fail>
void check_mesh(const MeshData& m, Fail&& fail) {
  if (m.vertices.size() % 3 != 0 || m.triangles.size() % 3 != 0 || m.normals.size() % 3 != 0) {
    fail("vertex, triangle and normal arrays must hold multiples of 3 values");
  }
  const std::size_t v = m.vertex_count();
  const std::size_t t = m.triangle_count();
  if (v == 0 || t == 0) fail("a mesh needs at least one vertex and one triangle");
  if (v > kMaxMeshVertices) fail(std::to_string(v) + " vertices, above the limit of " + std::to_string(kMaxMeshVertices));
  if (t > kMaxMeshTriangles) fail(std::to_string(t) + " triangles, above the limit of " + std::to_string(kMaxMeshTriangles));
  if (!m.normals.empty() && m.normals.size() != m.vertices.size()) fail("normals must be empty or one per vertex");
  for (std::size_t i = 0; i < m.vertices.size(); ++i) {
    // Also refuses NaN: the comparison is false for it.
    if (!(std::fabs(m.vertices[i]) <= kMaxMeshCoordinate)) {
      fail("vertex " + std::to_string(i / 3) + " has a coordinate that is not finite or beyond " +
           std::to_string(static_cast<int>(kMaxMeshCoordinate)) + " m");
    }
  }
  for (const float n : m.normals) {
    if (!std::isfinite(n)) fail("a normal is not finite");
  }
  for (std::size_t i = 0; i < m.triangles.size(); ++i) {
    if (m.triangles[i] >= v) {
      fail("triangle " + std::to_string(i / 3) + " refers to vertex " + std::to_string(m.triangles[i]) + " of " +
           std::to_string(v));
    }
  }
}

struct ZstdContext {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t previous) noexcept {
  // zlib's crc32 takes a uInt length: feed large buffers in pieces.
  uLong crc = previous;
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = ::crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

void validate_mesh(const MeshData& mesh) {
  check_mesh(mesh, [](const std::string& what) { throw SegmentError(ErrorCode::kInvalidArgument, "mesh: " + what); });
}

EncodedMesh encode_mesh(const MeshData& mesh, bool compress) {
  validate_mesh(mesh);
  const bool normals = !mesh.normals.empty();
  const std::uint64_t raw = payload_bytes(mesh.vertex_count(), mesh.triangle_count(), normals);
  std::vector<std::byte> payload(raw);
  std::byte* out = payload.data();
  std::memcpy(out, mesh.vertices.data(), mesh.vertices.size() * 4);
  out += mesh.vertices.size() * 4;
  std::memcpy(out, mesh.triangles.data(), mesh.triangles.size() * 4);
  out += mesh.triangles.size() * 4;
  if (normals) std::memcpy(out, mesh.normals.data(), mesh.normals.size() * 4);

  EncodedMesh e;
  e.record.raw_bytes = raw;
  e.record.vertex_count = static_cast<std::uint32_t>(mesh.vertex_count());
  e.record.triangle_count = static_cast<std::uint32_t>(mesh.triangle_count());
  e.record.flags = normals ? kMeshHasNormals : 0;
  e.record.crc32 = crc32(payload);
  for (int a = 0; a < 3; ++a) {
    e.record.bounds_min[a] = mesh.vertices[a];
    e.record.bounds_max[a] = mesh.vertices[a];
  }
  for (std::size_t i = 0; i < mesh.vertices.size(); ++i) {
    e.record.bounds_min[i % 3] = std::min(e.record.bounds_min[i % 3], mesh.vertices[i]);
    e.record.bounds_max[i % 3] = std::max(e.record.bounds_max[i % 3], mesh.vertices[i]);
  }
  if (compress) {
    std::vector<std::byte> packed(ZSTD_compressBound(raw));
    const std::unique_ptr<ZSTD_CCtx, ZstdContext> ctx(ZSTD_createCCtx());
    const std::size_t n = ctx ? ZSTD_compressCCtx(ctx.get(), packed.data(), packed.size(), payload.data(), raw, 3) : 0;
    if (ctx && !ZSTD_isError(n) && n < raw) {
      packed.resize(n);
      e.stored = std::move(packed);
      e.record.flags |= kMeshZstd;
    }
  }
  if ((e.record.flags & kMeshZstd) == 0) e.stored = std::move(payload);
  e.record.stored_bytes = e.stored.size();
  return e;
}

MeshData decode_mesh(const MeshRecord& r, std::span<const std::byte> stored, const std::string& where) {
  auto corrupt = [&](const std::string& what) -> void {
    throw SegmentError(ErrorCode::kCorrupt, where + " is corrupt: " + what);
  };
  if ((r.flags & ~kKnownMeshFlags) != 0) corrupt("unknown mesh flags " + std::to_string(r.flags));
  if (r.vertex_count == 0 || r.vertex_count > kMaxMeshVertices || r.triangle_count == 0 ||
      r.triangle_count > kMaxMeshTriangles) {
    corrupt(std::to_string(r.vertex_count) + " vertices and " + std::to_string(r.triangle_count) +
            " triangles (allowed 1.." + std::to_string(kMaxMeshVertices) + " and 1.." +
            std::to_string(kMaxMeshTriangles) + ")");
  }
  const bool normals = (r.flags & kMeshHasNormals) != 0;
  const std::uint64_t raw = payload_bytes(r.vertex_count, r.triangle_count, normals);
  if (r.raw_bytes != raw) corrupt("payload size " + std::to_string(r.raw_bytes) + ", the counts need " + std::to_string(raw));
  if (r.stored_bytes != stored.size()) corrupt("stored size does not match its record");
  std::vector<std::byte> payload;
  std::span<const std::byte> bytes = stored;
  if ((r.flags & kMeshZstd) != 0) {
    // The frame's own content size must agree before anything is allocated for it.
    const unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (size != raw) corrupt("its zstd frame does not hold " + std::to_string(raw) + " bytes");
    payload.resize(raw);
    const std::unique_ptr<ZSTD_DCtx, ZstdContext> ctx(ZSTD_createDCtx());
    if (!ctx) throw SegmentError(ErrorCode::kSystem, "out of memory for a zstd context");
    const std::size_t n = ZSTD_decompressDCtx(ctx.get(), payload.data(), raw, stored.data(), stored.size());
    if (ZSTD_isError(n) || n != raw) {
      corrupt(std::string("zstd: ") + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
    }
    bytes = payload;
  } else if (stored.size() != raw) {
    corrupt("stored size does not match the payload size");
  }
  if (crc32(bytes) != r.crc32) corrupt("checksum mismatch (CRC-32 of the payload)");
  MeshData m;
  m.vertices.resize(std::size_t{r.vertex_count} * 3);
  m.triangles.resize(std::size_t{r.triangle_count} * 3);
  const std::byte* in = bytes.data();
  std::memcpy(m.vertices.data(), in, m.vertices.size() * 4);
  in += m.vertices.size() * 4;
  std::memcpy(m.triangles.data(), in, m.triangles.size() * 4);
  in += m.triangles.size() * 4;
  if (normals) {
    m.normals.resize(m.vertices.size());
    std::memcpy(m.normals.data(), in, m.normals.size() * 4);
  }
  check_mesh(m, [&](const std::string& what) { corrupt(what); });
  return m;
}

}  // namespace fleetscope::ipc
