/* Publishes one frame through the installed C ABI (built with pkg-config by tests/sdk/sdk_test.sh). */
#include <fleetscope/fleetscope.h>

#include <stdio.h>

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != FS_OK) {                                             \
      fprintf(stderr, "C consumer: %s: %s\n", #call, fs_last_error()); \
      fs_writer_destroy(writer);                                       \
      return 1;                                                        \
    }                                                                  \
  } while (0)

int main(int argc, char** argv) {
  fs_writer* writer = NULL;
  fs_writer_options options;
  fs_link_visual link = {0};
  uint32_t model = 0, robot = 0;
  const double pose[7] = {0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0};
  fs_publish_stats stats;
  if (argc != 2) {
    fprintf(stderr, "usage: %s SEGMENT\n", argv[0]);
    return 2;
  }
  fs_writer_options_init(&options);
  options.name = argv[1];
  options.max_robots = 4;
  options.max_links = 2;
  CHECK(fs_writer_create(&options, &writer));
  link.name = "block";
  link.shape = FS_SHAPE_BOX;
  link.dims[0] = link.dims[1] = link.dims[2] = 0.2f;
  link.scale[0] = link.scale[1] = link.scale[2] = 1.0f;
  link.rgba[0] = link.rgba[3] = 255;
  CHECK(fs_writer_add_model(writer, "block", &link, 1, &model));
  CHECK(fs_writer_spawn_robot(writer, "block0", model, &robot));
  CHECK(fs_writer_set_all_poses_f64(writer, pose, 1));
  CHECK(fs_writer_publish(writer, 0.0, &stats));
  printf("C consumer: segment %s, ABI %u.%u, frame %llu, %llu dirty link(s)\n", argv[1],
         (unsigned)(fs_abi_version() >> 16), (unsigned)(fs_abi_version() & 0xFFFF),
         (unsigned long long)stats.frame, (unsigned long long)stats.dirty_links);
  fs_writer_destroy(writer);
  return stats.frame == 1 ? 0 : 1;
}
