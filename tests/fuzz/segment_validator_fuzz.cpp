// libFuzzer target: any byte string as a segment image. Validation, layout snapshot (with the
// geometry section's visuals of format 1.3), frame, robot (with the 1.3 attribute words), stored
// mesh and telemetry reads must either succeed or throw SegmentError; never crash or read out of
// bounds (built with ASan+UBSan). Run: build-fuzz/tests/segment_validator_fuzz -max_total_time=60 CORPUS
// (.ci/run seeds CORPUS with a copy of a fleetscope-test-writer segment that has all of these).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/geometry_format.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace {

// What read_mesh promises of a mesh it returns (FORMAT.md, "Geometry section"): counts within the
// limits, every index below the vertex count, positions finite and bounded, normals finite.
void check_mesh(const fleetscope::ipc::MeshData& m) {
  using namespace fleetscope::ipc;
  const std::size_t v = m.vertex_count();
  if (m.vertices.size() != v * 3 || m.triangles.size() % 3 != 0 || v == 0 || v > kMaxMeshVertices ||
      m.triangle_count() == 0 || m.triangle_count() > kMaxMeshTriangles ||
      (!m.normals.empty() && m.normals.size() != m.vertices.size())) {
    std::abort();
  }
  for (const std::uint32_t i : m.triangles) {
    if (i >= v) std::abort();
  }
  for (const float x : m.vertices) {
    if (!(std::fabs(x) <= kMaxMeshCoordinate)) std::abort();
  }
  for (const float n : m.normals) {
    if (!std::isfinite(n)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The reader requires 64-byte alignment, as a real mapping has.
  const std::size_t padded = (size + 63) / 64 * 64 + 64;
  std::unique_ptr<std::byte, decltype(&std::free)> image(
      static_cast<std::byte*>(std::aligned_alloc(64, padded)), &std::free);
  std::memset(image.get(), 0, padded);
  if (size > 0) std::memcpy(image.get(), data, size);
  try {
    const auto reader = fleetscope::ipc::SegmentReader::over_bytes({image.get(), size});
    // Half the inputs learn the writer's liveness first: a gone writer's odd seqlocks are then
    // read once as torn copies (the other half learns it when a seqlock stays busy).
    if (data[0] & 1) reader.writer_status();
    if (const auto telemetry = fleetscope::ipc::TelemetryReader::of(reader)) {
      telemetry->tags_from(0);
      telemetry->workers();
      telemetry->jobs();
      fleetscope::ipc::ScalarCursor cursor;
      std::vector<fleetscope::ipc::ScalarSample> samples;
      telemetry->read_scalars(cursor, samples, 4096);
      telemetry->read_scalars(cursor, samples, 4096);  // a cursor that has started
    }
    reader.frame();
    reader.writer_status();
    // Stored meshes (1.3) do not depend on the layout: every one is read, each refusal on its own.
    const std::uint32_t meshes = reader.mesh_count();
    for (std::uint32_t i = 0; i <= meshes; ++i) {  // and one past the count
      try {
        const auto mesh = reader.read_mesh(i);
        check_mesh(mesh);
      } catch (const fleetscope::ipc::SegmentError&) {
      }
    }
    const auto layout = reader.read_layout();
    for (const auto& model : layout.models) {
      for (const auto& v : model.all_visuals) {
        // What read_layout promises of every visual it hands out.
        if (v.link >= model.visuals.size() || v.visual.shape >= fleetscope::ipc::kExtendedShapeCount) std::abort();
        if (v.visual.shape == static_cast<std::uint32_t>(fleetscope::ipc::Shape::kInlineMesh)) {
          if (!reader.info().geometry || v.mesh >= reader.info().geometry->capacities.meshes) std::abort();
        }
      }
    }
    const auto& l = reader.info().layout;
    std::vector<std::uint64_t> dirty(l.dirty_words);
    std::vector<fleetscope::ipc::PoseRecord> poses(l.capacities.links_per_robot);
    for (const auto& robot : layout.robots) {
      const auto first = reader.read_robot(robot.slot, std::nullopt, robot.link_count, dirty, poses);
      reader.read_robot(robot.slot, 1, robot.link_count, dirty, poses);
      // Attribute words are read only from 1.3 segments (reserved, maybe not zero, before).
      if (first && reader.info().abi_minor < 3 && first->attributes != fleetscope::ipc::RobotAttributeWords{}) {
        std::abort();
      }
    }
    fleetscope::ipc::PoseIngestor ingestor(reader);
    for (int pass = 0; pass < 2; ++pass) {
      ingestor.ingest();
      for (const std::uint32_t slot : ingestor.attribute_changes()) {
        const auto attributes = ingestor.attributes(slot);
        (void)attributes.flags();
      }
      for (const auto& robot : ingestor.layout().robots) (void)ingestor.attributes(robot.slot);
    }
  } catch (const fleetscope::ipc::SegmentError&) {
  }
  return 0;
}
