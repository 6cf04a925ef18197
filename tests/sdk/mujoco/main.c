/* Publishes a MuJoCo simulation through the installed MuJoCo C ABI (libfleetscope_mujoco.so,
 * found with pkg-config fleetscope-mujoco; the program links MuJoCo itself). Built and run by
 * tests/sdk/sdk_test.sh: main SEGMENT MODEL.xml. */
#include <fleetscope/mujoco.h>
#include <mujoco/mujoco.h>

#include <stdio.h>

int main(int argc, char** argv) {
  char error[1000] = "";
  mjModel* model = NULL;
  mjData* data = NULL;
  fs_mujoco* publisher = NULL;
  fs_mujoco_options options;
  fs_publish_stats stats = {0};
  uint32_t robots = 0, static_robots = 0;
  int step, ok = 0;
  if (argc != 3) {
    fprintf(stderr, "usage: %s SEGMENT MODEL.xml\n", argv[0]);
    return 2;
  }
  model = mj_loadXML(argv[2], NULL, error, sizeof error);
  if (!model) {
    fprintf(stderr, "MuJoCo C consumer: %s: %s\n", argv[2], error);
    return 1;
  }
  data = mj_makeData(model);
  fs_mujoco_options_init(&options);
  options.name = argv[1];
  if (fs_mujoco_create(model, &options, &publisher) != FS_OK ||
      fs_mujoco_robot_count(publisher, &robots, &static_robots) != FS_OK) {
    fprintf(stderr, "MuJoCo C consumer: %s\n", fs_mujoco_last_error());
  } else {
    for (step = 0; step < 10; ++step) mj_step(model, data);
    if (fs_mujoco_publish(publisher, data, &stats) != FS_OK) {
      fprintf(stderr, "MuJoCo C consumer: fs_mujoco_publish: %s\n", fs_mujoco_last_error());
    } else {
      printf("MuJoCo C consumer: MuJoCo %s (fleetscope built for %d), segment %s, frame %llu at t = %g s, "
             "%u robot(s), %u static\n",
             mj_versionString(), fs_mujoco_version(), argv[1], (unsigned long long)stats.frame, data->time,
             (unsigned)robots, (unsigned)static_robots);
      /* Frame 1 is the floor, published once when created (static world geometry). */
      ok = stats.frame == 2 && robots == 4 && static_robots == 1;
    }
  }
  fs_mujoco_destroy(publisher);
  mj_deleteData(data);
  mj_deleteModel(model);
  return ok ? 0 : 1;
}
