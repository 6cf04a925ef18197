// libFuzzer target: any byte string as a segment image. Validation, layout snapshot, frame,
// robot and telemetry reads must either succeed or throw SegmentError; never crash or read out of bounds
// (built with ASan+UBSan). Run: build-fuzz/tests/segment_validator_fuzz -max_total_time=60 CORPUS
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

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
    const auto layout = reader.read_layout();
    const auto& l = reader.info().layout;
    std::vector<std::uint64_t> dirty(l.dirty_words);
    std::vector<fleetscope::ipc::PoseRecord> poses(l.capacities.links_per_robot);
    for (const auto& robot : layout.robots) {
      reader.read_robot(robot.slot, std::nullopt, robot.link_count, dirty, poses);
      reader.read_robot(robot.slot, 1, robot.link_count, dirty, poses);
    }
    fleetscope::ipc::PoseIngestor ingestor(reader);
    ingestor.ingest();
    ingestor.ingest();
  } catch (const fleetscope::ipc::SegmentError&) {
  }
  return 0;
}
