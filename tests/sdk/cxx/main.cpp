// Publishes one frame with the installed C++ API and reads it back with the installed reader.
#include <fleetscope/ipc/segment_reader.hpp>
#include <fleetscope/sim_bridge/sim_writer.hpp>

#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEGMENT\n", argv[0]);
    return 2;
  }
  try {
    fleetscope::WriterConfig config;
    config.name = argv[1];
    config.max_robots = 4;
    config.max_links = 2;
    fleetscope::SimWriter writer(config);
    fleetscope::LinkVisualDesc base;
    base.name = "base";
    fleetscope::LinkVisualDesc arm;
    arm.name = "arm";
    arm.shape = fleetscope::ipc::Shape::kCapsule;
    arm.dims = {0.05f, 0.3f, 0.0f};
    const auto model = writer.add_model(fleetscope::ModelDesc{"arm", {base, arm}});
    writer.spawn_robot("arm0", model);
    std::vector<double> poses(writer.total_links() * 7, 0.0);
    for (std::size_t link = 0; link < writer.total_links(); ++link) {
      poses[link * 7 + 2] = 0.5 * static_cast<double>(link);  // z
      poses[link * 7 + 6] = 1.0;                               // qw
    }
    writer.set_all_poses(poses);
    const auto stats = writer.publish(0.25);

    const auto reader = fleetscope::ipc::SegmentReader::open(argv[1]);
    const auto frame = reader.frame();
    const auto layout = reader.read_layout();
    std::printf("C++ consumer: segment %s, format %u.%u, frame %llu, %zu robot(s), %zu model(s)\n",
                argv[1], reader.info().abi_major, reader.info().abi_minor,
                static_cast<unsigned long long>(frame.frame), layout.robots.size(), layout.models.size());
    return frame.frame == stats.frame && layout.robots.size() == 1 && layout.models.size() == 1 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "C++ consumer: %s\n", e.what());
    return 1;
  }
}
