// Writes one relay message of each type (compressed and not) into DIR, as the seed corpus of
// relay_decoder_fuzz (.ci/run).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "fleetscope/relay/protocol.hpp"

int main(int argc, char** argv) {
  using namespace fleetscope;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  ipc::LinkVisual v{};
  std::strcpy(v.link_name, "base");
  v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
  relay::LayoutMessage layout;
  layout.layout.epoch = 2;
  layout.layout.models.push_back({"arm", {v, v}, {{0, v, 0}, {1, v, 0}}});
  layout.layout.models[0].all_visuals[1].visual.shape = 7;
  layout.layout.models[0].all_visuals[1].mesh = 1;
  layout.layout.robots.push_back({0, "r0", 0, 2, 1});
  layout.layout.robots.push_back({3, "r3", 0, 2, 2});
  relay::PosesMessage poses;
  poses.frame = {10, 1000, 0.5, 2, 1};
  poses.robots.push_back({3, {3}, {ipc::PoseRecord{{1, 2, 3}, {0, 0, 0, 1}, 0}, ipc::PoseRecord{{4, 5, 6}, {0, 0, 0, 1}, 0}}});
  poses.attributes.push_back({3, {0xFF0000FFu, 1, 2, 3}});
  relay::TelemetryMessage telemetry;
  telemetry.reset = true;
  telemetry.tags = {"loss", "reward"};
  telemetry.samples.push_back({1, 5, 99, 0.5});
  ipc::WorkerRowRead w;
  w.host = "gpu0";
  telemetry.workers = std::vector<ipc::WorkerRowRead>{w};
  ipc::JobRowRead j;
  j.object_code = "mug";
  telemetry.jobs = std::vector<ipc::JobRowRead>{j};
  relay::MeshMessage mesh;
  mesh.index = 1;
  mesh.mesh.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  mesh.mesh.triangles = {0, 1, 2};
  const relay::Body bodies[] = {relay::SnapshotRequest{}, relay::SnapshotBegin{1}, relay::SnapshotEnd{4},
                                relay::Heartbeat{123, 1},
                                relay::StreamInfo{"fleet", 1, 42, ipc::WriterState::kLive, true, true, ""},
                                layout, poses, telemetry, relay::Removed{}, mesh};
  int n = 0;
  for (const relay::Body& body : bodies) {
    for (const bool compress : {false, true}) {
      relay::Header h;
      h.session = 7;
      h.seq = 1;
      h.stream = body.index() < 4 ? relay::kNoStream : 0;
      const auto bytes = relay::encode(h, body, compress);
      std::ofstream out(std::string(argv[1]) + "/seed" + std::to_string(n++), std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
  }
  return 0;
}
