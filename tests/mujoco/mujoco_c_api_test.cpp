// libfleetscope_mujoco.so as a C caller sees it: status codes, messages, poses read back, and an
// export table of fs_* only.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/mujoco.h"
#include "mujoco/mujoco_test_support.hpp"
#include "support/child_process.hpp"

namespace {

using namespace fleetscope::testing;

TEST(MujocoCAbi, RefusesNullArgumentsWithAMessage) {
  fs_mujoco* p = reinterpret_cast<fs_mujoco*>(0x1);
  EXPECT_EQ(fs_mujoco_create(nullptr, nullptr, &p), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(std::string(fs_mujoco_last_error()).find("model is NULL"), std::string::npos) << fs_mujoco_last_error();
  EXPECT_EQ(fs_mujoco_create(nullptr, nullptr, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_mujoco_publish(nullptr, nullptr, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fs_mujoco_robot_count(nullptr, nullptr, nullptr), FS_ERR_INVALID_ARGUMENT);
  fs_mujoco_destroy(nullptr);
  EXPECT_EQ(fs_mujoco_version(), mjVERSION_HEADER);
}

TEST(MujocoCAbi, PublishesWhatAReaderGetsBackAndRemovesTheSegment) {
  Simulation sim = load_simulation(mujoco_resource("fleet.xml"));
  const std::string name = unique_name("mujoco.cabi");
  fs_mujoco_options o;
  fs_mujoco_options_init(&o);
  o.name = name.c_str();
  o.detect_changes = 0;
  fs_mujoco* p = nullptr;
  ASSERT_EQ(fs_mujoco_create(sim.model.get(), &o, &p), FS_OK) << fs_mujoco_last_error();
  EXPECT_STREQ(fs_mujoco_last_error(), "");
  uint32_t robots = 0, fixed = 0;
  ASSERT_EQ(fs_mujoco_robot_count(p, &robots, &fixed), FS_OK);
  EXPECT_EQ(robots, 10u);
  EXPECT_EQ(fixed, 2u);
  fs_publish_stats stats{};
  for (int s = 0; s < 20; ++s) {
    mj_step(sim.model.get(), sim.data.get());
    ASSERT_EQ(fs_mujoco_publish(p, sim.data.get(), &stats), FS_OK) << fs_mujoco_last_error();
  }
  EXPECT_EQ(fs_mujoco_publish(p, nullptr, nullptr), FS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(stats.changed_robots, 8u);  // every dynamic robot, every frame without change detection
  {
    const auto reader = fleetscope::ipc::SegmentReader::open(name);
    EXPECT_DOUBLE_EQ(reader.frame().sim_time, sim.data->time);
    const ReadSegment segment = read_segment(reader);
    const ReadRobot* ball = segment.robot("ball");
    ASSERT_NE(ball, nullptr);
    const int b = mj_name2id(sim.model.get(), mjOBJ_BODY, "ball");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ball->poses[0].position[i], static_cast<float>(sim.data->xpos[3 * b + i]));
  }
  // A second publisher of the same name is refused while the first lives.
  fs_mujoco* twin = nullptr;
  EXPECT_EQ(fs_mujoco_create(sim.model.get(), &o, &twin), FS_ERR_ALREADY_EXISTS);
  EXPECT_NE(std::string(fs_mujoco_last_error()), "");
  fs_mujoco_destroy(p);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/fleetscope." + name));
}

TEST(MujocoCAbi, LibraryExportsOnlyFsSymbols) {
  ChildProcess nm({FLEETSCOPE_NM, "-D", "--defined-only", FLEETSCOPE_MUJOCO_C_LIBRARY});
  std::vector<std::string> exported, foreign;
  while (const auto line = nm.read_line()) {
    std::istringstream fields(*line);
    std::string address, type, symbol;
    if (!(fields >> address >> type >> symbol)) continue;
    symbol = symbol.substr(0, symbol.find('@'));
    if (type == "A" && symbol.rfind("FLEETSCOPE_", 0) == 0) continue;  // the version node
    (symbol.rfind("fs_", 0) == 0 ? exported : foreign).push_back(type + " " + symbol);
  }
  const int status = nm.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string listed;
  for (const auto& s : foreign) listed += "\n  " + s;
  EXPECT_TRUE(foreign.empty()) << foreign.size() << " exported symbols outside the C ABI:" << listed;
  EXPECT_NE(std::find(exported.begin(), exported.end(), "T fs_mujoco_create"), exported.end());
  EXPECT_NE(std::find(exported.begin(), exported.end(), "T fs_mujoco_publish"), exported.end());
}

}  // namespace
