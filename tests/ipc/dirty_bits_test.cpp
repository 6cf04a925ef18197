// The dirty-bit contract: a reader sees exactly the links that changed since it last looked
// (up to dirty_history changes per robot; beyond that, all links of that robot).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;
using namespace fleetscope::ipc;

namespace {

constexpr std::uint32_t kRobots = 6;
constexpr std::uint32_t kLinks = 70;  // two mask words per robot

class DirtyBits : public ::testing::Test {
 protected:
  void SetUp() override {
    WriterConfig c;
    c.name = fleetscope::testing::unique_name("dirty");
    c.max_robots = kRobots + 2;
    c.max_links = kLinks;
    c.detect_changes = true;
    writer_.emplace(c);
    model_ = writer_->add_model(ModelDesc{"m", std::vector<LinkVisualDesc>(kLinks)});
    for (std::uint32_t r = 0; r < kRobots; ++r) robots_.push_back(writer_->spawn_robot("r" + std::to_string(r), model_));
    values_.assign(writer_->total_links() * 7, 0.0);
    for (std::size_t i = 0; i < writer_->total_links(); ++i) values_[i * 7 + 6] = 1.0;
    writer_->set_all_poses(std::span<const double>(values_));
    writer_->publish(0.0);
    reader_.emplace(SegmentReader::open(c.name));
  }

  // Moves link `link` of robot index `r` and returns its new x.
  double move(std::uint32_t r, std::uint32_t link) {
    double& x = values_[(r * kLinks + link) * 7];
    x += 1.0;
    return x;
  }
  void publish() {
    writer_->set_all_poses(std::span<const double>(values_));
    writer_->publish(0.0);
  }
  static std::set<std::pair<std::uint32_t, std::uint32_t>> changed(const PoseIngestor& ingestor) {
    std::set<std::pair<std::uint32_t, std::uint32_t>> out;
    for (const auto& c : ingestor.changes()) out.insert({c.slot, c.link});
    return out;
  }

  std::optional<SimWriter> writer_;
  std::optional<SegmentReader> reader_;
  std::uint32_t model_ = 0;
  std::vector<std::uint32_t> robots_;
  std::vector<double> values_;
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
  publish();  // same values: detection finds no change
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
      EXPECT_FLOAT_EQ(ingestor.poses(r)[link].position[0], float(values_[(r * kLinks + link) * 7]));
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

TEST_F(DirtyBits, MovementBelowEpsilonIsNotPublishedButAccumulates) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  values_[0] += 4e-6;  // below the default 1e-5
  publish();
  EXPECT_EQ(ingestor.ingest().links_changed, 0u);
  values_[0] += 8e-6;  // 1.2e-5 from the published value
  publish();
  EXPECT_EQ(ingestor.ingest().links_changed, 1u);
}

TEST_F(DirtyBits, SpawnAndRemoveBumpTheLayoutEpochAndTheReaderFollows) {
  PoseIngestor ingestor(*reader_);
  ingestor.ingest();
  const auto epoch = ingestor.layout().epoch;
  const auto added = writer_->spawn_robot("late", model_);
  values_.resize(writer_->total_links() * 7, 0.0);
  for (std::size_t i = kRobots * kLinks; i < writer_->total_links(); ++i) values_[i * 7 + 6] = 1.0;
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
  const auto again = writer_->spawn_robot("again", model_);  // takes slot 3
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
