// The dirty-bit contract: a reader sees exactly the links that changed since it last looked
// (up to dirty_history changes per robot; beyond that, all links of that robot).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;

namespace {

constexpr std::uint32_t kRobots = 6;
constexpr std::uint32_t kLinks = 70;  // two mask words per robot

// A SegmentWriter with the caller's side of the contract: the poses of every robot slot and the
// links marked dirty since the last frame, published together by publish().
class DirtyBits : public ::testing::Test {
 protected:
  void SetUp() override {
    WriterOptions options;
    options.name = fleetscope::testing::unique_name("dirty");
    options.capacities.robots = kRobots + 2;
    options.capacities.links_per_robot = kLinks;
    writer_.emplace(options);
    slots_.resize(kRobots + 2);
    model_ = writer_->add_model("m", std::vector<LinkVisual>(kLinks));
    for (std::uint32_t r = 0; r < kRobots; ++r) robots_.push_back(spawn("r" + std::to_string(r)));
    publish();
    reader_.emplace(SegmentReader::open(options.name));
  }

  // Spawns a robot at identity with every link dirty, so the next publish carries it in full.
  std::uint32_t spawn(const std::string& name) {
    const std::uint32_t slot = writer_->spawn_robot(name, model_);
    Slot& s = slots_.at(slot);
    s.poses.assign(kLinks * 7, 0.0f);
    s.dirty.assign(writer_->layout().dirty_words, 0);
    for (std::uint32_t link = 0; link < kLinks; ++link) {
      s.poses[link * 7 + 6] = 1.0f;
      s.dirty[link / 64] |= 1ULL << (link % 64);
    }
    return slot;
  }
  float& x(std::uint32_t slot, std::uint32_t link) { return slots_.at(slot).poses.at(link * 7); }
  // Moves link `link` of the robot in `slot`, marks it dirty and returns its new x.
  float move(std::uint32_t slot, std::uint32_t link) {
    slots_.at(slot).dirty.at(link / 64) |= 1ULL << (link % 64);
    return x(slot, link) += 1.0f;
  }
  // Writes every robot with a dirty link, then ends the frame.
  void publish() {
    std::uint64_t links = 0, robots = 0;
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
      Slot& s = slots_[slot];
      std::uint64_t count = 0;
      for (const std::uint64_t word : s.dirty) count += static_cast<std::uint64_t>(std::popcount(word));
      if (count == 0 || !writer_->slot_in_use(slot)) continue;
      writer_->write_robot(slot, s.poses, s.dirty);
      std::fill(s.dirty.begin(), s.dirty.end(), 0);
      links += count;
      ++robots;
    }
    writer_->end_frame(0.0, links, robots);
  }
  static std::set<std::pair<std::uint32_t, std::uint32_t>> changed(const PoseIngestor& ingestor) {
    std::set<std::pair<std::uint32_t, std::uint32_t>> out;
    for (const auto& c : ingestor.changes()) out.insert({c.slot, c.link});
    return out;
  }

  struct Slot {
    std::vector<float> poses;           // 7 per link
    std::vector<std::uint64_t> dirty;   // links changed since the last publish
  };
  std::optional<SegmentWriter> writer_;
  std::optional<SegmentReader> reader_;
  std::uint32_t model_ = 0;
  std::vector<std::uint32_t> robots_;  // slots, in spawn order
  std::vector<Slot> slots_;            // by slot
};

}  // namespace

TEST_F(DirtyBits, ReaderAttachedMidRunGetsAFullFirstFrame) {
  for (int f = 0; f < 5; ++f) {
    move(1, 3);
    publish();
  }
  PoseIngestor ingestor(*reader_);
  const auto stats = ingestor.ingest();
  EXPECT_TRUE(stats.layout_changed);
  EXPECT_EQ(stats.links_changed, kRobots * kLinks);
  EXPECT_FLOAT_EQ(ingestor.poses(1)[3].position[0], 5.0f);
}

TEST_F(DirtyBits, ANewFrameWithNothingMovedReportsNothing) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  publish();  // a frame in which no robot was written
  const auto stats = ingestor.ingest();
  EXPECT_EQ(stats.links_changed, 0u);
  EXPECT_EQ(stats.robots_read, 0u);
  EXPECT_TRUE(ingestor.changes().empty());
}

TEST_F(DirtyBits, ReaderSkippingFramesSeesExactlyTheUnionOfChanges) {
  std::mt19937 rng(7);
  for (int k : {1, 2, 5, 16}) {
    PoseIngestor ingestor(*reader_);
    ingestor.ingest();
    std::set<std::pair<std::uint32_t, std::uint32_t>> expected;
    for (int f = 0; f < k; ++f) {
      for (int n = 0; n < 4; ++n) {
        const std::uint32_t r = rng() % kRobots, link = rng() % kLinks;
        move(r, link);
        expected.insert({r, link});  // slots equal spawn order here
      }
      publish();
    }
    ingestor.ingest();
    EXPECT_EQ(changed(ingestor), expected) << "after skipping " << k << " frames";
    for (const auto& [r, link] : expected) {
      EXPECT_FLOAT_EQ(ingestor.poses(r)[link].position[0], x(r, link));
    }
  }
}

TEST_F(DirtyBits, ReaderFallenBeyondTheHistoryGetsAllLinksOfRobotsThatChanged) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  const std::uint32_t history = reader_->info().layout.capacities.dirty_history;
  for (std::uint32_t f = 0; f < history + 3; ++f) {
    move(2, 69);
    publish();
  }
  move(4, 0);
  publish();
  ingestor.ingest();
  std::set<std::pair<std::uint32_t, std::uint32_t>> expected{{4, 0}};
  for (std::uint32_t link = 0; link < kLinks; ++link) expected.insert({2, link});
  EXPECT_EQ(changed(ingestor), expected);
  EXPECT_FLOAT_EQ(ingestor.poses(2)[69].position[0], float(history + 3));
}

TEST_F(DirtyBits, OnlyMovedRobotsAreTouched) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  move(0, 0);
  move(0, 65);
  publish();
  const auto stats = ingestor.ingest();
  EXPECT_EQ(stats.robots_read, 1u);
  EXPECT_EQ(stats.links_changed, 2u);
}

TEST_F(DirtyBits, SpawnAndRemoveBumpTheLayoutEpochAndTheReaderFollows) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  const auto epoch = ingestor.layout().epoch;
  const auto added = spawn("late");
  publish();
  auto stats = ingestor.ingest();
  EXPECT_TRUE(stats.layout_changed);
  EXPECT_GT(ingestor.layout().epoch, epoch);
  EXPECT_EQ(ingestor.layout().robots.size(), kRobots + 1);
  EXPECT_EQ(stats.links_changed, kLinks);  // only the new robot, in full

  writer_->remove_robot(robots_[0]);
  stats = ingestor.ingest();
  EXPECT_TRUE(stats.layout_changed);
  EXPECT_EQ(ingestor.layout().robots.size(), kRobots);
  EXPECT_EQ(ingestor.layout().robots.front().slot, 1u);
  (void)added;
}

TEST_F(DirtyBits, ARespawnedSlotIsReadInFull) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  writer_->remove_robot(robots_[3]);
  const auto again = writer_->spawn_robot("again", model_);  // takes slot 3, not yet published
  ingestor.ingest();
  const auto& robots = ingestor.layout().robots;
  const auto it = std::find_if(robots.begin(), robots.end(), [](const RobotSnapshot& r) { return r.name == "again"; });
  ASSERT_NE(it, robots.end());
  EXPECT_EQ(it->slot, 3u);
  std::size_t links_of_slot3 = 0;
  for (const auto& c : ingestor.changes()) links_of_slot3 += c.slot == 3;
  EXPECT_EQ(links_of_slot3, kLinks);
  (void)again;
}
