// Triangle meshes stored in a segment (format 1.3): the in-memory form, and its encoding into the
// geometry section's payload (positions, indices, optional normals; CRC-32; optionally zstd).
// Both directions validate: a writer cannot store a mesh a reader would refuse, and a reader
// checks counts, sizes, the checksum, index ranges and finite, bounded coordinates before
// anything else sees the mesh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fleetscope/ipc/geometry_format.hpp"

namespace fleetscope::ipc {

struct MeshData {
  std::vector<float> vertices;          // 3 per vertex (x, y, z), metres in the mesh frame
  std::vector<std::uint32_t> triangles; // 3 vertex indices per triangle, counter-clockwise seen from outside
  std::vector<float> normals;           // empty, or 3 per vertex

  std::size_t vertex_count() const noexcept { return vertices.size() / 3; }
  std::size_t triangle_count() const noexcept { return triangles.size() / 3; }
  bool operator==(const MeshData&) const = default;
};

// A mesh ready for the arena: its record (data_offset left 0 for the writer to set) and the
// bytes to store.
struct EncodedMesh {
  MeshRecord record{};
  std::vector<std::byte> stored;
};

// Throws SegmentError(kInvalidArgument) naming the problem: sizes not multiples of 3, no
// triangles, counts above the limits, an index out of range, a coordinate not finite or above
// kMaxMeshCoordinate, normals of the wrong count.
void validate_mesh(const MeshData& mesh);
// Validates, then encodes; `compress` stores a zstd frame when that is smaller.
EncodedMesh encode_mesh(const MeshData& mesh, bool compress);
// Checks the record against the limits and `stored` (sizes, flags), decompresses, verifies the
// CRC and validates the mesh. Throws SegmentError(kCorrupt) with `where` (e.g. "segment 'x' mesh 3").
MeshData decode_mesh(const MeshRecord& record, std::span<const std::byte> stored, const std::string& where);

// CRC-32 as zlib computes it (IEEE 802.3, reflected, initial and final xor 0xFFFFFFFF); `previous`
// continues a CRC over bytes that came before (0: none).
std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t previous = 0) noexcept;

}  // namespace fleetscope::ipc
