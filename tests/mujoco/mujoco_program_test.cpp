// fleetscope-mujoco as a user runs it: errors and exit codes, statistics, a clean end on signals.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "mujoco/mujoco_test_support.hpp"
#include "support/child_process.hpp"

namespace {

using fleetscope::testing::ChildProcess;
using fleetscope::testing::mujoco_resource;
using fleetscope::testing::unique_name;

// The program with stderr joined to stdout (ChildProcess reads stdout); `exec` keeps its pid.
ChildProcess program(const std::string& arguments) {
  return ChildProcess({"/bin/sh", "-c", std::string("exec '") + FLEETSCOPE_MUJOCO_PROGRAM + "' " + arguments + " 2>&1"});
}

std::string all_output(ChildProcess& child) {
  std::string out;
  while (const auto line = child.read_line(std::chrono::seconds(60))) out += *line + "\n";
  return out;
}

int exit_code(ChildProcess& child) {
  const int status = child.wait();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool segment_exists(const std::string& name) {
  return std::filesystem::exists("/dev/shm/fleetscope." + name);
}

class TempFile {
 public:
  TempFile(const std::string& stem, const std::string& text)
      : path_(std::filesystem::temp_directory_path() / (stem + "." + std::to_string(::getpid()) + ".xml")) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(MujocoProgram, AnInvalidModelGivesMuJoCosMessageAndExit1) {
  const TempFile bad("fleetscope-bad-model", "<mujoco><worldbody><bodyy/></worldbody></mujoco>\n");
  char expected[1024] = "";
  ASSERT_EQ(mj_loadXML(bad.path().c_str(), nullptr, expected, sizeof expected), nullptr);
  ASSERT_NE(expected[0], '\0');
  auto child = program("'" + bad.path() + "' --name " + unique_name("mujoco.bad"));
  const std::string out = all_output(child);
  EXPECT_EQ(exit_code(child), 1);
  EXPECT_NE(out.find("invalid model"), std::string::npos) << out;
  EXPECT_NE(out.find(expected), std::string::npos) << "MuJoCo said: " << expected << "\nthe program said: " << out;
  EXPECT_FALSE(segment_exists(unique_name("mujoco.bad")));
}

TEST(MujocoProgram, AMissingFileIsNamedAndExits1) {
  auto child = program("/nonexistent/model.xml");
  const std::string out = all_output(child);
  EXPECT_EQ(exit_code(child), 1);
  EXPECT_NE(out.find("cannot open model '/nonexistent/model.xml': no such file"), std::string::npos) << out;
}

TEST(MujocoProgram, BadUsageExits2) {
  for (const std::string args : {"", "--frobnicate", "x.xml --controls wild", "x.xml --rtf -1"}) {
    auto child = program(args);
    const std::string out = all_output(child);
    EXPECT_EQ(exit_code(child), 2) << args << ": " << out;
  }
}

TEST(MujocoProgram, RunsForItsDurationAndReportsStepAndPublishTimes) {
  const std::string name = unique_name("mujoco.duration");
  auto child = program("'" + mujoco_resource("fleet.xml") + "' --rtf 0 --duration 0.5 --controls sine --name " + name);
  const std::string out = all_output(child);
  EXPECT_EQ(exit_code(child), 0) << out;
  EXPECT_NE(out.find("10 robots (2 static) of 7 models"), std::string::npos) << out;
  // 0.5 s at a 2 ms time step.
  const auto summary = out.find("summary: steps=");
  ASSERT_NE(summary, std::string::npos) << out;
  const int steps = std::stoi(out.substr(summary + 15));
  EXPECT_GE(steps, 250);
  EXPECT_LE(steps, 251);
  EXPECT_NE(out.find("step_us mean=", summary), std::string::npos) << out;
  EXPECT_NE(out.find("publish_us mean=", summary), std::string::npos) << out;
  EXPECT_NE(out.find("publish/step=", summary), std::string::npos) << out;
  EXPECT_FALSE(segment_exists(name)) << "the segment outlived the program";
}

TEST(MujocoProgram, SigtermAndSigintEndItCleanly) {
  for (const int sig : {SIGTERM, SIGINT}) {
    const std::string name = unique_name("mujoco.signal" + std::to_string(sig));
    auto child = program("'" + mujoco_resource("fleet.xml") + "' --controls random --verbose --name " + name);
    // A statistics line comes once a second of running.
    ASSERT_TRUE(child.wait_for("step_us mean=")) << "no statistics line";
    {
      const auto reader = fleetscope::ipc::SegmentReader::open(name);
      EXPECT_EQ(reader.read_layout().robots.size(), 10u);
      EXPECT_GT(reader.frame().frame, 1u);
    }
    child.signal(sig);
    const auto summary = child.wait_for("summary: steps=");
    EXPECT_TRUE(summary) << "no summary after signal " << sig;
    EXPECT_EQ(exit_code(child), 0);
    EXPECT_FALSE(segment_exists(name)) << "the segment outlived the program (signal " << sig << ")";
  }
}

}  // namespace
