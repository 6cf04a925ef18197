// Publishes a MuJoCo simulation with the installed fleetscope::mujoco (MujocoPublisher) and reads
// the segment back: the two pendulums share a model, the floor is static.
#include <fleetscope/ipc/segment_reader.hpp>
#include <fleetscope/sim_bridge/mujoco_publisher.hpp>
#include <mujoco/mujoco.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SEGMENT MODEL.xml\n", argv[0]);
    return 2;
  }
  char error[1000] = "";
  mjModel* model = mj_loadXML(argv[2], nullptr, error, sizeof error);
  if (model == nullptr) {
    std::fprintf(stderr, "MuJoCo C++ consumer: %s: %s\n", argv[2], error);
    return 1;
  }
  mjData* data = mj_makeData(model);
  int status = 1;
  try {
    fleetscope::MujocoPublisherOptions options;
    options.name = argv[1];
    fleetscope::MujocoPublisher publisher(model, options);
    for (int step = 0; step < 10; ++step) mj_step(model, data);
    const auto stats = publisher.publish(data);
    const auto reader = fleetscope::ipc::SegmentReader::open(argv[1]);
    const auto layout = reader.read_layout();
    const auto& summary = publisher.summary();
    std::printf("MuJoCo C++ consumer: segment %s, frame %llu, %zu model(s), %zu robot(s) (%zu static), %zu link(s)\n",
                argv[1], static_cast<unsigned long long>(stats.frame), layout.models.size(), layout.robots.size(),
                summary.static_robots, summary.links);
    status = layout.robots.size() == 4 && summary.static_robots == 1 && summary.models == 3 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "MuJoCo C++ consumer: %s\n", e.what());
  }
  mj_deleteData(data);
  mj_deleteModel(model);
  return status;
}
