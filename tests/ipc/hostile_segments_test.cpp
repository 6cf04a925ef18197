// What any local user can put in /dev/shm, and what a crashed writer leaves behind: FIFOs,
// directories and symlinks named like segments, files that shrink while mapped, other users'
// segments, forged capacities, corrupt ring counters, odd seqlocks of dead writers, terminal
// escapes in names. None may hang, crash or bloat a reader.
#include <fcntl.h>
#include <signal.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <chrono>
#include <thread>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/layout.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "fleetscope/ipc/shared_access.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using namespace fleetscope::ipc;

namespace {

std::string path_of(const std::string& name) { return "/dev/shm/fleetscope." + name; }

// A segment's file mapped read-write by the test, to corrupt it as a buggy or hostile writer would.
struct WritableMapping {
  std::byte* data = nullptr;
  std::size_t size = 0;
  explicit WritableMapping(const std::string& name) {
    const int fd = ::open(path_of(name).c_str(), O_RDWR);
    EXPECT_GE(fd, 0);
    struct stat st {};
    ::fstat(fd, &st);
    size = static_cast<std::size_t>(st.st_size);
    data = static_cast<std::byte*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
  }
  ~WritableMapping() { ::munmap(data, size); }
  SegmentHeader& header() { return *reinterpret_cast<SegmentHeader*>(data); }
};

LinkVisual box_visual() {
  LinkVisual v{};
  v.shape = static_cast<std::uint32_t>(Shape::kBox);
  v.dims[0] = v.dims[1] = v.dims[2] = 0.1f;
  v.scale[0] = v.scale[1] = v.scale[2] = 1.0f;
  v.offset_orientation[3] = 1.0f;
  v.rgba[3] = 255;
  return v;
}

// A writer with `robots` robots of 3 links, one frame published.
SegmentWriter small_writer(const std::string& name, std::uint32_t robots = 2) {
  WriterOptions options;
  options.name = name;
  options.capacities = {8, 4, 2, 8, 4};
  SegmentWriter writer(options);
  const LinkVisual visuals[3] = {box_visual(), box_visual(), box_visual()};
  const std::uint32_t model = writer.add_model("arm", visuals);
  std::vector<float> poses(3 * 7, 0.0f);
  for (int l = 0; l < 3; ++l) {
    poses[l * 7 + 0] = 1.0f + l;
    poses[l * 7 + 6] = 1.0f;
  }
  const std::uint64_t all = 0b111;
  for (std::uint32_t r = 0; r < robots; ++r) {
    writer.write_robot(writer.spawn_robot("robot" + std::to_string(r), model), poses, std::span(&all, 1));
  }
  writer.end_frame(0.0, 3 * robots, robots);
  return writer;
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST(HostileSegments, AFifoNamedLikeASegmentIsRefusedWithoutBlocking) {
  const std::string name = fleetscope::testing::unique_name("fifo");
  ASSERT_EQ(::mkfifo(path_of(name).c_str(), 0600), 0);
  try {
    SegmentReader::open(name);
    ADD_FAILURE() << "a FIFO was opened as a segment";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("FIFO"), std::string::npos) << e.what();
  }
  bool listed = false;
  for (const auto& s : discover_segments()) {
    if (s.name == name) {
      listed = true;
      EXPECT_FALSE(s.readable);
    }
  }
  EXPECT_TRUE(listed);
  for (const auto& removed : remove_dead_segments()) EXPECT_NE(removed.name, name);
  // A writer asked for that name neither hangs nor removes the FIFO.
  WriterOptions options;
  options.name = name;
  options.capacities = {1, 1, 1, 1, 1};
  EXPECT_THROW(SegmentWriter{options}, SegmentError);
  ::unlink(path_of(name).c_str());
}

TEST(HostileSegments, DirectoriesAndSymlinksNamedLikeSegmentsAreRefused) {
  const std::string dir = fleetscope::testing::unique_name("dir");
  const std::string link = fleetscope::testing::unique_name("link");
  const std::string real = fleetscope::testing::unique_name("real");
  ASSERT_EQ(::mkdir(path_of(dir).c_str(), 0700), 0);
  SegmentWriter writer = small_writer(real);
  ASSERT_EQ(::symlink(path_of(real).c_str(), path_of(link).c_str()), 0);
  EXPECT_THROW(SegmentReader::open(dir), SegmentError);
  try {
    SegmentReader::open(link);
    ADD_FAILURE() << "a symlink was followed";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
  ::rmdir(path_of(dir).c_str());
  ::unlink(path_of(link).c_str());
}

TEST(HostileSegments, ASegmentTruncatedWhileMappedIsReportedNotAFault) {
  const std::string name = fleetscope::testing::unique_name("shrunk");
  SegmentWriter writer = small_writer(name);
  const std::size_t size = writer.layout().total_size;
  const SegmentReader reader = SegmentReader::open(name);
  PoseIngestor ingestor(reader);
  ingestor.ingest();
  ASSERT_EQ(::truncate(path_of(name).c_str(), 0), 0);
  // The size is checked at most every kMappingCheckNs; reads in between see zeros, never SIGBUS.
  EXPECT_NO_FATAL_FAILURE(try { ingestor.ingest(); } catch (const SegmentError&) {});
  std::this_thread::sleep_for(std::chrono::nanoseconds(ReaderState::kMappingCheckNs + 5'000'000));
  try {
    ingestor.ingest();
    ADD_FAILURE() << "a truncated segment was read";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reader.frame(), SegmentError);
  EXPECT_THROW(reader.writer_status(), SegmentError);
  EXPECT_THROW(reader.read_layout(), SegmentError);
  // Between a check and a read the file can still shrink: such a read sees zeros, never SIGBUS.
  const volatile std::byte* bytes = reader.bytes().data();
  EXPECT_EQ(static_cast<int>(bytes[0]), 0);
  EXPECT_EQ(static_cast<int>(bytes[size - 1]), 0);
  // Give the writer its size back so it can close; the reader stays failed.
  ASSERT_EQ(::truncate(path_of(name).c_str(), static_cast<off_t>(size)), 0);
  EXPECT_THROW(reader.frame(), SegmentError);
}

TEST(HostileSegments, AnotherUsersSegmentIsListedWithoutBeingMappedAndItsOwnerIsNamed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a segment to another uid";
  const std::string name = fleetscope::testing::unique_name("theirs");
  const uid_t other = 54321;
  {
    WriterOptions options;
    options.name = name;
    options.capacities = {1, 1, 1, 1, 1};
    SegmentWriter writer(options);
    writer.close(false);
  }
  ASSERT_EQ(::chown(path_of(name).c_str(), other, other), 0);
  bool listed = false;
  for (const auto& s : discover_segments()) {
    if (s.name != name) continue;
    listed = true;
    EXPECT_TRUE(s.other_user);
    EXPECT_FALSE(s.readable);
    EXPECT_EQ(s.owner_uid, other);
  }
  EXPECT_TRUE(listed);
  EXPECT_THROW(SegmentReader::open(name), SegmentError);
  EXPECT_NO_THROW(SegmentReader::open(name, ReaderOptions{.allow_other_users = true}));
  // gc never judges another user's segment; a writer wanting the name is told who holds it.
  for (const auto& removed : remove_dead_segments()) EXPECT_NE(removed.name, name);
  WriterOptions options;
  options.name = name;
  options.capacities = {1, 1, 1, 1, 1};
  try {
    SegmentWriter writer(options);
    ADD_FAILURE() << "another user's segment was replaced";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(std::string(e.what()).find("belongs to uid 54321"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("fleetscope-shm gc"), std::string::npos) << e.what();
  }
  ::unlink(path_of(name).c_str());
}

TEST(HostileSegments, ReaderMemoryFollowsRobotsInUseNotClaimedCapacity) {
  // A small file claiming 2^20 robots x 64 links (sparse: the claim costs its writer nothing).
  const std::string name = fleetscope::testing::unique_name("claims");
  const Layout layout = compute_layout({1u << 20, 64, 1, 64, 4});
  {
    WriterOptions options;
    options.name = name;
    options.capacities = {1, 64, 1, 64, 4};
    SegmentWriter writer(options);
    writer.close(false);
  }
  {
    WritableMapping m(name);
    SegmentHeader& h = m.header();
    h.robot_capacity = 1u << 20;
    h.robots_offset = layout.robots_offset;
    h.blocks_offset = layout.blocks_offset;
    h.block_stride = layout.block_stride;
    h.total_size = layout.total_size;
    h.state.store(static_cast<std::uint32_t>(SegmentState::kOpen));
  }
  ASSERT_EQ(::truncate(path_of(name).c_str(), static_cast<off_t>(layout.total_size)), 0);
  const std::size_t before = resident_bytes();
  {
    const SegmentReader reader = SegmentReader::open(name);
    PoseIngestor ingestor(reader);
    ingestor.ingest();
    EXPECT_TRUE(ingestor.layout().robots.empty());
    EXPECT_LT(resident_bytes() - before, 64u << 20) << "the reader allocated by capacity";
  }
  // A high-water mark beyond what this reader takes is refused with a message, not allocated.
  {
    WritableMapping m(name);
    m.header().robot_high_water.store(kReaderMaxRobots + 1);
  }
  const SegmentReader reader = SegmentReader::open(name);
  try {
    reader.read_layout();
    ADD_FAILURE() << "a high-water mark above the reader's limit was accepted";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCapacity);
  }
  SharedMemoryMapping::remove(name);
}

TEST(HostileSegments, ACorruptRingCounterNeverMovesAReaderBackOrCountsNegativeLoss) {
  WriterOptions options;
  options.name = fleetscope::testing::unique_name("ringcounter");
  options.capacities = {1, 1, 1, 1, 1};
  options.telemetry = TelemetryCapacities{16, 4, 1, 1};
  SegmentWriter writer(options);
  auto& telemetry = writer.telemetry();
  const std::uint32_t tag = telemetry.tag("loss");
  const SegmentReader segment = SegmentReader::open(writer.name());
  const auto reader = TelemetryReader::of(segment);
  ASSERT_TRUE(reader);
  ScalarCursor cursor;
  std::vector<ScalarSample> got;
  for (int i = 0; i < 10; ++i) telemetry.scalar(tag, i, i);
  EXPECT_EQ(reader->read_scalars(cursor, got), 0u);
  ASSERT_EQ(got.size(), 10u);

  WritableMapping m(writer.name());
  auto& head = *reinterpret_cast<std::atomic<std::uint64_t>*>(m.data + segment.info().telemetry_offset + 64);
  for (const std::uint64_t forged : {std::uint64_t{1'000'000}, ~std::uint64_t{0} - 3, std::uint64_t{3}}) {
    head.store(forged);
    got.clear();
    EXPECT_EQ(reader->read_scalars(cursor, got), 0u) << "forged head " << forged;
    EXPECT_TRUE(got.empty()) << "forged head " << forged;
    EXPECT_EQ(cursor.lost, 0u);
    EXPECT_EQ(cursor.next, 10u);
  }
  head.store(10);
  for (int i = 10; i < 14; ++i) telemetry.scalar(tag, i, i);
  got.clear();
  EXPECT_EQ(reader->read_scalars(cursor, got), 0u);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front().step, 10);
  EXPECT_EQ(cursor.lost, 0u);
}

TEST(HostileSegments, ADeadWritersOddSeqlocksAreReadOnceAndNeverRetried) {
  const std::string name = fleetscope::testing::unique_name("oddseq");
  // The writer dies in the middle of writes: robot 0's, the layout's and the frame's seqlocks odd.
  const pid_t child = ::fork();
  if (child == 0) {
    SegmentWriter writer = small_writer(name);
    WritableMapping m(name);
    SegmentHeader& h = m.header();
    const Layout& l = writer.layout();
    auto& robot0 = *reinterpret_cast<RobotSync*>(m.data + l.blocks_offset);
    robot0.seq.fetch_add(1);
    robot0.change_count.fetch_add(1);
    h.frame_seq.fetch_add(1);
    h.frame.fetch_add(1);
    std::_Exit(0);  // no destructor: the segment stays as the crash left it
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  const SegmentReader reader = SegmentReader::open(name);
  PoseIngestor ingestor(reader);
  // First ingest: learns the writer is gone when the seqlocks stay odd, takes what it left.
  const IngestStats first = ingestor.ingest();
  EXPECT_TRUE(reader.writer_gone());
  EXPECT_EQ(first.robots_deferred, 0u);
  EXPECT_EQ(ingestor.layout().robots.size(), 2u);
  ASSERT_EQ(ingestor.poses(1).size(), 3u);
  EXPECT_FLOAT_EQ(ingestor.poses(1)[2].position[0], 3.0f);
  // Later ingests find nothing to do: no retries of the odd robot.
  for (int i = 0; i < 3; ++i) {
    const IngestStats again = ingestor.ingest();
    EXPECT_EQ(again.robots_deferred, 0u);
    EXPECT_EQ(again.robots_torn, 0u);
    EXPECT_EQ(again.links_changed, 0u);
  }
  EXPECT_EQ(reader.writer_status().state, WriterState::kDead);
  SharedMemoryMapping::remove(name);
}

TEST(HostileSegments, GcRacingWritersRestartedUnderTheSameNameNeverRemovesALiveOne) {
  const std::string name = fleetscope::testing::unique_name("restarts");
  // gc runs as a process of its own, as `fleetscope-shm gc` does: this process stays single-
  // threaded, so forking the writers below is safe (also under the sanitizers). It reports how
  // many segments it removed when told to stop.
  int gc_report[2];
  ASSERT_EQ(::pipe(gc_report), 0);
  const pid_t gc = ::fork();
  if (gc == 0) {
    ::close(gc_report[0]);
    static std::atomic<bool> stop{false};
    ::signal(SIGTERM, [](int) { stop.store(true); });
    int removed = 0;
    while (!stop.load()) {
      if (remove_if_stale(name)) ++removed;
    }
    (void)!::write(gc_report[1], &removed, sizeof removed);
    std::_Exit(0);
  }
  ::close(gc_report[1]);
  const int restarts = 300;
  int lost = 0;
  for (int i = 0; i < restarts; ++i) {
    // Sometimes gc finds the stale segment first, sometimes the new writer does.
    ::usleep(static_cast<useconds_t>((i % 4) * 400));
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(ready[0]);
      int code = 0;
      try {
        WriterOptions options;
        options.name = name;
        options.capacities = {1, 1, 1, 1, 1};
        SegmentWriter writer(options);  // replaces the stale segment the last one left
        // While this writer lives, its segment must stay under its name.
        for (int check = 0; check < 3; ++check) {
          ::usleep(300);
          struct stat st {};
          const SegmentReader mine = SegmentReader::open(name);
          if (::lstat(path_of(name).c_str(), &st) != 0 || mine.info().writer_pid != ::getpid()) code = 3;
        }
        const char byte = static_cast<char>(code);
        (void)!::write(ready[1], &byte, 1);
        std::_Exit(code);  // a crash: the segment stays, stale, for gc or the next writer to replace
      } catch (const SegmentError&) {
        code = 4;  // the name vanished under a live writer, or creation failed
      }
      const char byte = static_cast<char>(code);
      (void)!::write(ready[1], &byte, 1);
      std::_Exit(code);
    }
    ::close(ready[1]);
    char byte = 0;
    (void)!::read(ready[0], &byte, 1);
    ::close(ready[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++lost;
  }
  ::kill(gc, SIGTERM);
  int gc_removed = 0;
  (void)!::read(gc_report[0], &gc_removed, sizeof gc_removed);
  ::close(gc_report[0]);
  ::waitpid(gc, nullptr, 0);
  EXPECT_EQ(lost, 0) << "of " << restarts << " restarts, gc removed a live writer's segment";
  EXPECT_GT(gc_removed, 0) << "the race was not exercised";
  SharedMemoryMapping::remove(name);
}

TEST(HostileSegments, NamesWithTerminalEscapesArePrintedEscaped) {
  EXPECT_EQ(printable("plain-name_1.x"), "plain-name_1.x");
  EXPECT_EQ(printable("a\x1b[31mred"), "a\\x1b[31mred");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(printable("back\\slash"), "back\\x5cslash");
  try {
    validate_segment_name("bad\x1b]0;title\x07");
    ADD_FAILURE();
  } catch (const SegmentError& e) {
    EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos) << "raw escape in the message";
  }
}

TEST(HostileSegments, ADeadWritersSegmentHeldOpenByItsChildIsNotReplacedAndTheMessageSaysWhy) {
  const std::string name = fleetscope::testing::unique_name("held");
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t writer = ::fork();
  if (writer == 0) {
    SegmentWriter w = small_writer(name);
    const pid_t child = ::fork();  // inherits the segment's descriptor, and with it the lock
    if (child == 0) {
      ::pause();
      std::_Exit(0);
    }
    (void)!::write(report[1], &child, sizeof child);
    std::_Exit(0);  // the writer dies; its child lives on
  }
  pid_t child = 0;
  ASSERT_EQ(::read(report[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::waitpid(writer, nullptr, 0);
  WriterOptions options;
  options.name = name;
  options.capacities = {1, 1, 1, 1, 1};
  try {
    SegmentWriter replacement(options);
    ADD_FAILURE() << "a segment still held open was replaced";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(std::string(e.what()).find("still holds the segment open"), std::string::npos) << e.what();
  }
  ::kill(child, SIGKILL);
  // Once nobody holds it, the stale segment is replaced as usual.
  for (int i = 0; i < 100 && ::kill(child, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NO_THROW(SegmentWriter{options});
}

TEST(HostileSegments, ASegmentWhoseCreatorDiedHalfWayIsRemovedByGc) {
  const std::string name = fleetscope::testing::unique_name("half-made");
  const pid_t child = ::fork();
  if (child == 0) {
    SegmentWriter w = small_writer(name);
    WritableMapping m(name);
    m.header().state.store(static_cast<std::uint32_t>(SegmentState::kInitialising));  // as if never finished
    std::_Exit(0);
  }
  ::waitpid(child, nullptr, 0);
  EXPECT_THROW(SegmentReader::open(name), SegmentError);  // "still being created"
  const auto removed = remove_if_stale(name);
  ASSERT_TRUE(removed.has_value());
  EXPECT_NE(removed->find("creation never finished"), std::string::npos) << *removed;
  struct stat st {};
  EXPECT_NE(::lstat(path_of(name).c_str(), &st), 0);
}
