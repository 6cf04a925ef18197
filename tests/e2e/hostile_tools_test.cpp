// The programs against hostile /dev/shm entries, as an unlucky user meets them: a FIFO named like
// a segment, a name full of terminal escapes, a segment truncated under a running `watch`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fleetscope/ipc/shared_memory.hpp"
#include "support/child_process.hpp"

using fleetscope::testing::ChildProcess;

namespace {

std::string path_of(const std::string& name) { return "/dev/shm/fleetscope." + name; }

// Runs a program to its end (or kills it after `limit`); returns stdout and the wait status.
std::pair<std::string, int> run(std::vector<std::string> argv, std::chrono::seconds limit = std::chrono::seconds(20)) {
  ChildProcess child(std::move(argv));
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (auto line = child.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
             deadline - std::chrono::steady_clock::now()))) {
    out += *line + "\n";
  }
  const auto status = child.wait_for_exit(std::chrono::seconds(2));
  if (!status) {
    child.signal(SIGKILL);
    return {out, -1};
  }
  return {out, *status};
}

}  // namespace

TEST(HostileTools, AFifoNamedLikeASegmentHangsNoProgram) {
  const std::string name = fleetscope::testing::unique_name("fifo-tools");
  ASSERT_EQ(::mkfifo(path_of(name).c_str(), 0666), 0);
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{FLEETSCOPE_SHM, "list"}, {FLEETSCOPE_SHM, "gc"}, {FLEETSCOPE_SHM, "inspect", name},
        {FLEETSCOPE_SIM, "--name", name, "--robots", "1", "--duration", "0.1", "--quiet"}}) {
    const auto [out, status] = run(argv);
    ASSERT_NE(status, -1) << argv[1] << " hung on a FIFO";
    EXPECT_TRUE(WIFEXITED(status)) << argv[1];
  }
  struct stat st {};
  EXPECT_EQ(::lstat(path_of(name).c_str(), &st), 0) << "the FIFO is not ours to remove";
  ::unlink(path_of(name).c_str());
}

TEST(HostileTools, ListPrintsNamesWithTerminalEscapesEscaped) {
  const std::string evil = "evil\x1b]0;pwned\x07\x1b[2J";
  const std::string path = "/dev/shm/fleetscope." + evil;
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto [out, status] = run({FLEETSCOPE_SHM, "list"});
  ::unlink(path.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "raw escape printed";
  EXPECT_NE(out.find("evil\\x1b]0;pwned\\x07\\x1b[2J"), std::string::npos) << out;
}

TEST(HostileTools, WatchEndsWithAnErrorWhenItsSegmentIsTruncated) {
  const std::string name = fleetscope::testing::unique_name("truncated-watch");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "4", "5"});
  ASSERT_TRUE(writer.wait_for("ready"));
  ChildProcess watch({FLEETSCOPE_SHM, "watch", name});
  ASSERT_TRUE(watch.wait_for("watching"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(::truncate(path_of(name).c_str(), 0), 0);
  const auto status = watch.wait_for_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "watch kept running on a truncated segment";
  ASSERT_TRUE(WIFEXITED(*status)) << "watch died of signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  writer.signal(SIGKILL);  // its own mapping is truncated too
  writer.wait();
  fleetscope::ipc::SharedMemoryMapping::remove(name);
}

namespace {

// Runs `command` with sh, stdout and stderr together.
std::pair<std::string, int> shell(const std::string& command) {
  return run({"/bin/sh", "-c", command + " 2>&1"});
}

bool can_run_as_root_with(const char* tool) { return ::geteuid() == 0 && ::access(tool, X_OK) == 0; }

}  // namespace

// A /dev/shm too small for the segment (a container's 64 MB one, filled by data loaders): the
// writer gets an error it can report, not SIGBUS on its first store, and leaves no half-made file.
TEST(HostileTools, AWriterInAFullShmDirectoryFailsWithAMessageNotSigbus) {
  if (!can_run_as_root_with("/usr/bin/unshare")) GTEST_SKIP() << "needs root and unshare for a private /dev/shm";
  const auto [out, status] = shell(std::string("/usr/bin/unshare -m /bin/sh -c 'mount -t tmpfs -o size=64k tmpfs /dev/shm && ") +
                                   FLEETSCOPE_TEST_WRITER + " full steady 64 64; echo rc=$?; ls /dev/shm | wc -l'");
  EXPECT_NE(out.find("not enough space in /dev/shm"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  EXPECT_NE(out.find("\n0\n"), std::string::npos) << "a half-made segment was left: " << out;
}

// Another user (one the test creates) finds a name held by root's segment: every tool names the
// owner, though the user cannot open the file; `list` shows it without reading it.
TEST(HostileTools, AnotherUserIsToldWhoHoldsTheName) {
  if (!can_run_as_root_with("/usr/sbin/runuser") || ::access("/usr/sbin/useradd", X_OK) != 0) {
    GTEST_SKIP() << "needs root, runuser and useradd";
  }
  const std::string user = "fleetscope-e2e-other";
  shell("userdel " + user);
  ASSERT_EQ(shell("useradd --system --no-create-home --shell /usr/sbin/nologin " + user).second, 0);
  const std::string name = fleetscope::testing::unique_name("held-by-root");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "steady", "2", "3"});
  ASSERT_TRUE(writer.wait_for("ready"));
  const std::string as_user = "/usr/sbin/runuser -u " + user + " -- ";
  const auto [sim, sim_status] = shell(as_user + FLEETSCOPE_SIM + " --name " + name + " --duration 0.1 --quiet");
  const auto [list, list_status] = shell(as_user + FLEETSCOPE_SHM + " list");
  const auto [inspect, inspect_status] = shell(as_user + FLEETSCOPE_SHM + " inspect " + name);
  shell("userdel " + user);
  EXPECT_NE(sim.find("belongs to uid 0 (root)"), std::string::npos) << sim;
  EXPECT_NE(list.find("another user's; not read"), std::string::npos) << list;
  EXPECT_EQ(list.find("Permission denied"), std::string::npos) << list;
  EXPECT_NE(inspect.find("belongs to uid 0 (root)"), std::string::npos) << inspect;
}
