#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/segment_writer.hpp"
#include "support/child_process.hpp"

using namespace fleetscope::ipc;

TEST(Permissions, SegmentIsCreatedWithMode0600WhateverTheUmask) {
  const mode_t old = ::umask(0);
  SegmentWriter writer(WriterOptions{fleetscope::testing::unique_name("mode"), {4, 4, 1, 4, 16}, true, std::nullopt, false, std::nullopt, std::nullopt});
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/fleetscope." + writer.name()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(SegmentReader::open(writer.name()).info().mode, 0600u);
}

TEST(Permissions, CreationIsExclusiveWhileTheWriterLives) {
  const std::string name = fleetscope::testing::unique_name("exclusive");
  SegmentWriter first(WriterOptions{name, {4, 4, 1, 4, 16}, true, std::nullopt, false, std::nullopt, std::nullopt});
  try {
    SegmentWriter second(WriterOptions{name, {4, 4, 1, 4, 16}, true, std::nullopt, false, std::nullopt, std::nullopt});
    FAIL() << "a second writer took a live writer's segment";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
  }
  EXPECT_NO_THROW(SegmentReader::open(name));  // the first one is untouched
}

TEST(Permissions, ASegmentOwnedByAnotherUserIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a segment to another uid";
  SegmentWriter writer(WriterOptions{fleetscope::testing::unique_name("foreign"), {4, 4, 1, 4, 16}, true, std::nullopt, false, std::nullopt, std::nullopt});
  const std::string path = "/dev/shm/fleetscope." + writer.name();
  ASSERT_EQ(::chown(path.c_str(), 4242, 4242), 0);
  try {
    SegmentReader::open(writer.name());
    FAIL() << "opened another user's segment without being told to";
  } catch (const SegmentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPermission);
    EXPECT_NE(std::string(e.what()).find("uid 4242"), std::string::npos) << e.what();
  }
  const auto reader = SegmentReader::open(writer.name(), ReaderOptions{.allow_other_users = true});
  EXPECT_EQ(reader.info().owner_uid, 4242u);
}
