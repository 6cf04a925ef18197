// The byte layout of the geometry section (segment format 1.3): every visual of every model (any
// number per link, all shapes including plane, ellipsoid and meshes stored in the segment) and
// the mesh data itself. It lies after the 1.2 part of the segment (after `total_size`), found
// through the header's `geometry_offset`, so a 1.2 reader never looks at it and still reads the
// segment through the per-link table. ipc/FORMAT.md describes it in prose; the static_asserts pin it.
//
// Visual records are written under the layout seqlock, like models. Mesh records and mesh data are
// written once, before `mesh_count` counts them (release), and never change.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fleetscope/ipc/format.hpp"

namespace fleetscope::ipc {

inline constexpr std::uint64_t kGeometryMagic = 0x314D4F4547534600ULL;  // bytes "\0FSGEOM1"

inline constexpr std::uint32_t kMaxExtendedVisuals = 1u << 22;
inline constexpr std::uint32_t kMaxMeshes = 1u << 16;
inline constexpr std::uint64_t kMaxMeshArenaBytes = 1ULL << 33;  // 8 GiB

// Limits a reader enforces on one stored mesh (before allocating anything for it).
inline constexpr std::uint32_t kMaxMeshVertices = 1u << 23;    // 8,388,608
inline constexpr std::uint32_t kMaxMeshTriangles = 5'000'000;  // as for mesh files
inline constexpr float kMaxMeshCoordinate = 1.0e5f;            // metres, before scale

// MeshRecord::flags
inline constexpr std::uint32_t kMeshHasNormals = 1u << 0;  // the payload ends with one normal per vertex
inline constexpr std::uint32_t kMeshZstd = 1u << 1;        // the stored bytes are one zstd frame
inline constexpr std::uint32_t kKnownMeshFlags = kMeshHasNormals | kMeshZstd;

struct GeometryHeader {  // 128 bytes, at geometry_offset
  std::uint64_t magic;                     // 0
  std::uint32_t visual_capacity;           // 8   VisualRecord slots
  std::uint32_t mesh_capacity;             // 12  MeshRecord slots
  std::uint64_t arena_size;                // 16  bytes for mesh data
  std::uint64_t visuals_offset;            // 24  all offsets from the start of the section
  std::uint64_t meshes_offset;             // 32
  std::uint64_t arena_offset;              // 40
  std::uint64_t size;                      // 48  == the header's geometry_size
  std::uint64_t reserved0;                 // 56
  std::atomic<std::uint32_t> mesh_count;   // 64  meshes [0, mesh_count) are complete (release)
  std::uint32_t reserved1;                 // 68
  std::atomic<std::uint64_t> arena_used;   // 72  bytes of the arena written (release)
  std::uint8_t reserved2[128 - 80];        // 80
};

// One visual of a model: the 1.2 LinkVisual layout (its `mesh_path` for shape kMesh), then the
// link it belongs to and, for kInlineMesh, the mesh index.
struct VisualRecord {   // 320 bytes, under layout_seq
  LinkVisual visual;    // 0   shape may be any of kExtendedShapeCount
  std::uint32_t link;   // 288 < the model's link_count
  std::uint32_t mesh;   // 292 kInlineMesh: index into the mesh table; else 0
  std::uint8_t reserved[24];  // 296
};

// One stored mesh. Its payload (uncompressed): vertex_count x f32[3] positions, triangle_count x
// u32[3] vertex indices, then (kMeshHasNormals) vertex_count x f32[3] normals.
struct MeshRecord {           // 64 bytes, immutable once counted
  std::uint64_t data_offset;  // 0  from the start of the arena
  std::uint64_t stored_bytes; // 8  bytes in the arena (compressed size with kMeshZstd)
  std::uint64_t raw_bytes;    // 16 bytes of the payload
  std::uint32_t vertex_count; // 24
  std::uint32_t triangle_count;  // 28
  std::uint32_t flags;        // 32 kMesh*
  std::uint32_t crc32;        // 36 CRC-32 (zlib's, IEEE 802.3) of the uncompressed payload
  float bounds_min[3];        // 40 of the positions
  float bounds_max[3];        // 52
};

static_assert(sizeof(GeometryHeader) == 128);
static_assert(offsetof(GeometryHeader, mesh_count) == 64);
static_assert(offsetof(GeometryHeader, arena_used) == 72);
static_assert(sizeof(VisualRecord) == 320);
static_assert(offsetof(VisualRecord, link) == 288);
static_assert(offsetof(VisualRecord, mesh) == 292);
static_assert(sizeof(MeshRecord) == 64);
static_assert(offsetof(MeshRecord, crc32) == 36);
static_assert(offsetof(MeshRecord, bounds_max) == 52);

}  // namespace fleetscope::ipc
