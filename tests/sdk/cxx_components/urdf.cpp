// Loads a URDF (its meshes through assimp), publishes two robots of it with the installed
// fleetscope::urdf and reads the segment back: models, robots, links and stored meshes.
#include <fleetscope/ipc/segment_reader.hpp>
#include <fleetscope/sim_bridge/urdf_model.hpp>

#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SEGMENT URDF\n", argv[0]);
    return 2;
  }
  try {
    const auto arm = fleetscope::urdf::UrdfModel::load(argv[2]);
    fleetscope::WriterConfig config;
    config.name = argv[1];
    config.max_robots = 0;
    config.max_models = 0;
    arm.reserve_capacity(config, 2);
    fleetscope::SimWriter writer(config);
    fleetscope::urdf::UrdfFleet fleet(writer, arm);
    fleet.spawn("arm0");
    fleet.spawn("arm1", std::vector<double>{1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0});
    fleet.set_joint_positions(std::vector<double>(2 * arm.dof(), 0.3));
    const auto stats = writer.publish(0.0);

    const auto reader = fleetscope::ipc::SegmentReader::open(argv[1]);
    const auto layout = reader.read_layout();
    std::printf("URDF consumer: %s: %zu links, %zu joints, %zu mesh(es); segment %s, frame %llu, %zu robot(s), %u stored mesh(es)\n",
                arm.name().c_str(), arm.link_count(), arm.dof(), arm.meshes().size(), argv[1],
                static_cast<unsigned long long>(stats.frame), layout.robots.size(), reader.mesh_count());
    return stats.frame == 1 && layout.robots.size() == 2 && layout.models.size() == 1 && !arm.meshes().empty() &&
                   reader.mesh_count() == arm.meshes().size()
               ? 0
               : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "URDF consumer: %s\n", e.what());
    return 1;
  }
}
