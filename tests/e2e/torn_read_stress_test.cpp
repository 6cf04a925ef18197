// Real processes: one writer publishing as fast as it can, several reader processes verifying
// that no robot read mixes two publishes. Millions of reads in total, zero torn.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "support/child_process.hpp"

using fleetscope::testing::ChildProcess;

TEST(TornReadStress, MillionsOfReadsAcrossProcessesSeeNoTornPose) {
  const char* env = std::getenv("FLEETSCOPE_STRESS_READS");
  const std::string reads = env ? env : "1000000";
  const std::string name = fleetscope::testing::unique_name("stress");
  ChildProcess writer({FLEETSCOPE_TEST_WRITER, name, "stress", "16", "30"});
  ASSERT_TRUE(writer.wait_for("ready")) << "writer did not start";
  std::vector<std::unique_ptr<ChildProcess>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{FLEETSCOPE_TEST_READER, name, reads}));
  }
  long long total_reads = 0, total_frames = 0;
  for (auto& reader : readers) {
    const auto line = reader->wait_for("reads=", std::chrono::minutes(5));
    ASSERT_TRUE(line) << "reader produced no result";
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*line, m, std::regex(R"(reads=(\d+) torn=(\d+) deferred=(\d+) frames_seen=(\d+))")));
    EXPECT_EQ(m[2].str(), "0") << *line;
    total_reads += std::stoll(m[1].str());
    total_frames += std::stoll(m[4].str());
    const int status = reader->wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *line;
  }
  EXPECT_EQ(total_reads, 3 * std::stoll(reads));
  EXPECT_GT(total_frames, 100) << "the writer was not publishing during the reads";
  writer.signal(SIGTERM);
  ASSERT_TRUE(writer.wait_for_exit(std::chrono::seconds(10)));
  RecordProperty("reads", std::to_string(total_reads));
}
