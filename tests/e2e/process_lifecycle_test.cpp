// Writers as real processes: killed, paused, stopped cleanly; what readers and gc make of them.
#include <gtest/gtest.h>

#include <thread>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;
using fleetscope::testing::ChildProcess;

namespace {

ChildProcess start_writer(const std::string& name, const std::string& mode) {
  return ChildProcess({FLEETSCOPE_TEST_WRITER, name, mode, "4", "6"});
}

std::string run_shm(const std::vector<std::string>& args, int* status_out = nullptr) {
  std::vector<std::string> argv{FLEETSCOPE_SHM};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess shm(argv);
  std::string out;
  while (auto line = shm.read_line(std::chrono::seconds(20))) out += *line + "\n";
  const int status = shm.wait();
  if (status_out) *status_out = status;
  return out;
}

}  // namespace

TEST(ProcessLifecycle, AWriterKilledWithSigkillIsReportedDead) {
  const std::string name = fleetscope::testing::unique_name("killed");
  ChildProcess writer = start_writer(name, "steady");
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto reader = SegmentReader::open(name);
  EXPECT_EQ(reader.writer_status().state, WriterState::kLive);
  writer.signal(SIGKILL);
  writer.wait();
  EXPECT_EQ(reader.writer_status().state, WriterState::kDead);
  SharedMemoryMapping::remove(name);
}

TEST(ProcessLifecycle, AZombieWriterIsDeadBeforeItsParentReapsIt) {
  const std::string name = fleetscope::testing::unique_name("zombie");
  ChildProcess writer = start_writer(name, "steady");
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto reader = SegmentReader::open(name);
  writer.signal(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // not reaped yet
  EXPECT_EQ(reader.writer_status().state, WriterState::kDead);
  writer.wait();
  SharedMemoryMapping::remove(name);
}

TEST(ProcessLifecycle, AWriterThatStopsPublishingIsPausedNotDead) {
  const std::string name = fleetscope::testing::unique_name("paused");
  ChildProcess writer = start_writer(name, "paused");
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto reader = SegmentReader::open(name);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(reader.writer_status(200'000'000ULL).state, WriterState::kPaused);
  writer.signal(SIGTERM);
  EXPECT_TRUE(writer.wait_for_exit(std::chrono::seconds(5)));
}

TEST(ProcessLifecycle, SigtermClosesCleanlyAndRemovesTheSegment) {
  const std::string name = fleetscope::testing::unique_name("sigterm");
  ChildProcess writer = start_writer(name, "steady");
  ASSERT_TRUE(writer.wait_for("ready"));
  const auto reader = SegmentReader::open(name);
  writer.signal(SIGTERM);
  const auto status = writer.wait_for_exit(std::chrono::seconds(5));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_EQ(reader.writer_status().state, WriterState::kClosed) << "an attached reader sees the clean close";
  try {
    SegmentReader::open(name);
    FAIL() << "the segment outlived its writer";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(ProcessLifecycle, GcRemovesTheDeadWriterSegmentAndNeverTheLiveOne) {
  const std::string dead = fleetscope::testing::unique_name("gc.dead");
  const std::string live = fleetscope::testing::unique_name("gc.live");
  ChildProcess victim = start_writer(dead, "steady");
  ChildProcess survivor = start_writer(live, "steady");
  ASSERT_TRUE(victim.wait_for("ready"));
  ASSERT_TRUE(survivor.wait_for("ready"));
  victim.signal(SIGKILL);
  victim.wait();
  int status = 0;
  const std::string out = run_shm({"gc"}, &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(out.find("removed " + dead), std::string::npos) << out;
  EXPECT_EQ(out.find(live), std::string::npos) << out;
  EXPECT_THROW(SegmentReader::open(dead), SegmentError);
  EXPECT_EQ(SegmentReader::open(live).writer_status().state, WriterState::kLive);
  survivor.signal(SIGTERM);
  survivor.wait();
}

TEST(ProcessLifecycle, ARestartedWriterReplacesItsDeadPredecessorsSegment) {
  const std::string name = fleetscope::testing::unique_name("restart");
  {
    ChildProcess first = start_writer(name, "steady");
    ASSERT_TRUE(first.wait_for("ready"));
    first.signal(SIGKILL);
    first.wait();
  }
  ChildProcess second = start_writer(name, "steady");
  ASSERT_TRUE(second.wait_for("ready")) << "a dead writer's leftover blocked the restart";
  EXPECT_EQ(SegmentReader::open(name).info().writer_pid, second.pid());
  second.signal(SIGTERM);
  second.wait();
}

TEST(ProcessLifecycle, ShmToolListsInspectsAndRejectsBadInput) {
  const std::string name = fleetscope::testing::unique_name("tool");
  ChildProcess writer = start_writer(name, "steady");
  ASSERT_TRUE(writer.wait_for("ready"));
  int status = 0;
  const std::string list = run_shm({"list"}, &status);
  EXPECT_NE(list.find(name), std::string::npos) << list;
  EXPECT_NE(list.find("live"), std::string::npos) << list;
  const std::string inspect = run_shm({"inspect", name}, &status);
  EXPECT_NE(inspect.find("robots       4"), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("mode 0600"), std::string::npos) << inspect;
  const std::string dump = run_shm({"dump", name}, &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(dump.find("r3 5 "), std::string::npos) << dump;
  const std::string watch = run_shm({"watch", name, "--seconds", "1.2"}, &status);
  EXPECT_NE(watch.find("fps="), std::string::npos) << watch;

  run_shm({"inspect", "no.such.segment"}, &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  run_shm({"frobnicate"}, &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
  run_shm({"list", "--no-such-flag"}, &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
  writer.signal(SIGTERM);
  writer.wait();
}

TEST(ProcessLifecycle, ReferenceSimulationRunsForItsDurationAndLeavesNothing) {
  const std::string name = fleetscope::testing::unique_name("sim");
  ChildProcess sim({FLEETSCOPE_SIM, "--name", name, "--robots", "20", "--duration", "1.5", "--rate", "60"});
  const auto line = sim.wait_for("write_us", std::chrono::seconds(10));
  ASSERT_TRUE(line) << "the simulation printed no write cost";
  const auto status = sim.wait_for_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_THROW(SegmentReader::open(name), SegmentError);
}

TEST(ProcessLifecycle, ReferenceSimulationRejectsBadFlags) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--links", "30-10"}, {"--rate", "0"}, {"--robots", "many"}, {"--bogus"}, {"--name", "a/b"}}) {
    std::vector<std::string> argv{FLEETSCOPE_SIM};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess sim(argv);
    const auto status = sim.wait_for_exit(std::chrono::seconds(10));
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << args[0];
  }
}
