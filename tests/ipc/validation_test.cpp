// Malformed segments are refused with a clear message and never crash (run under ASan in CI).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/fixed_text.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"
#include "support/segment_image.hpp"

using namespace fleetscope::ipc;
using fleetscope::testing::AlignedImage;

namespace {

class Validation : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = fleetscope::testing::unique_name("validation");
    WriterOptions options;
    options.name = name_;
    options.capacities = Capacities{.robots = 4, .links_per_robot = 8, .models = 2, .visuals = 16};
    writer_.emplace(options);
    std::vector<LinkVisual> visuals(3);
    copy_fixed_text(visuals[0].link_name, "base", "link name");
    const auto m = writer_->add_model("arm", visuals);
    // Two robots of 3 links, published once in full at identity.
    std::vector<float> poses(3 * 7, 0.0f);
    for (int l = 0; l < 3; ++l) poses[l * 7 + 6] = 1.0f;
    const std::uint64_t all_links[] = {0b111};  // 8 links per robot: one mask word
    writer_->write_robot(writer_->spawn_robot("r0", m), poses, all_links);
    writer_->write_robot(writer_->spawn_robot("r1", m), poses, all_links);
    writer_->end_frame(0.0, 6, 2);
  }
  void TearDown() override {
    writer_.reset();
    SharedMemoryMapping::remove(name_ + ".copy");
  }
  AlignedImage image() { return fleetscope::testing::copy_segment(name_); }

  // Expects over_bytes (or read_layout) to throw `code` with `text` in the message.
  static void expect_refused(AlignedImage& img, ErrorCode code, const std::string& text) {
    try {
      const auto reader = SegmentReader::over_bytes(img.bytes());
      reader.read_layout();
      FAIL() << "accepted a bad segment; expected: " << text;
    } catch (const SegmentError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }

  std::string name_;
  std::optional<SegmentWriter> writer_;
};

}  // namespace

TEST_F(Validation, AcceptsAnIntactCopy) {
  AlignedImage img = image();
  const auto reader = SegmentReader::over_bytes(img.bytes());
  const auto layout = reader.read_layout();
  ASSERT_EQ(layout.models.size(), 1u);
  EXPECT_EQ(layout.models[0].name, "arm");
  EXPECT_EQ(layout.robots.size(), 2u);
}

TEST_F(Validation, RefusesWrongMagic) {
  AlignedImage img = image();
  img.header().magic = 0x1234;
  expect_refused(img, ErrorCode::kCorrupt, "not a fleetscope segment");
}

TEST_F(Validation, RefusesNewerMajorVersionNamingBothVersions) {
  AlignedImage img = image();
  img.header().abi_major = kAbiMajor + 1;
  img.header().abi_minor = 3;
  expect_refused(img, ErrorCode::kVersionMismatch,
                 "format 2.3 but this fleetscope reads format " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor));
}

TEST_F(Validation, RefusesNewerMajorVersionWhenOpenedByName) {
  AlignedImage img = image();
  img.header().abi_major = kAbiMajor + 1;
  fleetscope::testing::write_object(name_ + ".copy", img.bytes());
  try {
    SegmentReader::open(name_ + ".copy");
    FAIL() << "opened a segment of a newer major version";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kVersionMismatch);
    EXPECT_NE(std::string(e.what()).find("upgrade the reader"), std::string::npos) << e.what();
  }
}

TEST_F(Validation, AcceptsNewerMinorVersion) {
  AlignedImage img = image();
  img.header().abi_minor = kAbiMinor + 5;
  EXPECT_NO_THROW(SegmentReader::over_bytes(img.bytes()).read_layout());
}

TEST_F(Validation, RefusesTruncatedObject) {
  AlignedImage img = image();
  fleetscope::testing::write_object(name_ + ".copy", img.bytes().first(img.size / 2));
  try {
    SegmentReader::open(name_ + ".copy");
    FAIL() << "opened a truncated segment";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST_F(Validation, RefusesObjectSmallerThanHeader) {
  AlignedImage img = image();
  fleetscope::testing::write_object(name_ + ".copy", img.bytes().first(100));
  EXPECT_THROW(SegmentReader::open(name_ + ".copy"), SegmentError);
}

TEST_F(Validation, RefusesOffsetsThatDoNotMatchCapacities) {
  AlignedImage img = image();
  img.header().blocks_offset += 64;
  expect_refused(img, ErrorCode::kCorrupt, "section offsets");
}

TEST_F(Validation, RefusesCapacitiesOutOfRange) {
  AlignedImage img = image();
  img.header().link_capacity = 0;
  expect_refused(img, ErrorCode::kCorrupt, "capacities out of range");
  AlignedImage huge = image();
  huge.header().robot_capacity = 0xFFFFFFFFu;
  expect_refused(huge, ErrorCode::kCorrupt, "capacities out of range");
}

TEST_F(Validation, RefusesTotalSizeBeyondObject) {
  AlignedImage img = image();
  img.header().robot_capacity = 5;  // consistent offsets would need more bytes than exist
  expect_refused(img, ErrorCode::kCorrupt, "");
}

TEST_F(Validation, RefusesUnterminatedSegmentName) {
  AlignedImage img = image();
  std::memset(img.header().name, 'x', kNameBytes);
  expect_refused(img, ErrorCode::kCorrupt, "not NUL-terminated");
}

TEST_F(Validation, RefusesModelCountBeyondCapacity) {
  AlignedImage img = image();
  img.header().model_count.store(99);
  expect_refused(img, ErrorCode::kCorrupt, "model count 99 exceeds capacity");
}

TEST_F(Validation, RefusesModelVisualsOutsideTable) {
  AlignedImage img = image();
  auto& model = img.at<ModelRecord>(img.header().models_offset);
  model.first_visual = 15;  // 15 + 3 links > 16 visuals
  expect_refused(img, ErrorCode::kCorrupt, "outside the visual table");
}

TEST_F(Validation, RefusesModelWithTooManyLinks) {
  AlignedImage img = image();
  img.at<ModelRecord>(img.header().models_offset).link_count = 9;
  expect_refused(img, ErrorCode::kCorrupt, "has 9 links");
}

TEST_F(Validation, RefusesUnterminatedModelAndLinkNames) {
  AlignedImage img = image();
  std::memset(img.at<ModelRecord>(img.header().models_offset).name, 'm', kModelNameBytes);
  expect_refused(img, ErrorCode::kCorrupt, "not NUL-terminated");
  AlignedImage link = image();
  std::memset(link.at<LinkVisual>(link.header().visuals_offset).link_name, 'l', kLinkNameBytes);
  expect_refused(link, ErrorCode::kCorrupt, "not NUL-terminated");
}

TEST_F(Validation, RefusesUnknownShape) {
  AlignedImage img = image();
  img.at<LinkVisual>(img.header().visuals_offset).shape = 77;
  expect_refused(img, ErrorCode::kCorrupt, "unknown shape 77");
}

TEST_F(Validation, RefusesRobotOfUnknownModelAndUnterminatedRobotName) {
  AlignedImage img = image();
  img.at<RobotSlot>(img.header().robots_offset).model_index = 5;
  expect_refused(img, ErrorCode::kCorrupt, "refers to model 5");
  AlignedImage name = image();
  std::memset(name.at<RobotSlot>(name.header().robots_offset).name, 'r', kRobotNameBytes);
  expect_refused(name, ErrorCode::kCorrupt, "not NUL-terminated");
}

TEST_F(Validation, RefusesRobotHighWaterBeyondCapacity) {
  AlignedImage img = image();
  img.header().robot_high_water.store(1000);
  expect_refused(img, ErrorCode::kCorrupt, "high-water mark 1000");
}

TEST_F(Validation, ReportsALayoutStuckMidChangeInsteadOfHanging) {
  AlignedImage img = image();
  img.header().layout_seq.store(img.header().layout_seq.load() + 1);  // odd forever
  expect_refused(img, ErrorCode::kNotReady, "kept changing");
}

TEST_F(Validation, ReportsASegmentStillBeingCreated) {
  AlignedImage img = image();
  img.header().state.store(0);
  img.header().magic = 0;
  expect_refused(img, ErrorCode::kNotReady, "still being created");
}

TEST_F(Validation, MissingSegmentIsNotFoundWithItsPath) {
  try {
    SegmentReader::open("no.such.segment.anywhere");
    FAIL();
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/dev/shm/fleetscope.no.such.segment.anywhere"), std::string::npos);
  }
}

TEST_F(Validation, BadSegmentNamesAreRejectedBeforeTouchingTheSystem) {
  EXPECT_THROW(SegmentReader::open("../etc/passwd"), SegmentError);
  EXPECT_THROW(SegmentReader::open(""), SegmentError);
  EXPECT_THROW(SegmentReader::open(std::string(60, 'a')), SegmentError);
}
