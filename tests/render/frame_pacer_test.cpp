#include <gtest/gtest.h>

#include "fleetscope/render/frame_pacer.hpp"

using fleetscope::render::FramePacer;
using fleetscope::render::PacerSettings;

constexpr std::uint64_t ms = 1'000'000;

TEST(FramePacer, NothingRequestedMeansNoFrameEver) {
  FramePacer pacer;
  EXPECT_FALSE(pacer.due(0));
  EXPECT_FALSE(pacer.due(10'000 * ms));
  EXPECT_EQ(pacer.wait_ns(5 * ms), -1);
}

TEST(FramePacer, ABurstOfRequestsCoalescesIntoOneFramePerInterval) {
  FramePacer pacer(PacerSettings{10, 60, 1.5});
  pacer.request(0);
  ASSERT_TRUE(pacer.due(0));
  pacer.rendered(0, 2 * ms);  // cheap frame: interval is the 60 fps ceiling
  for (std::uint64_t t = 1; t < 16; ++t) {
    pacer.request(t * ms);
    EXPECT_FALSE(pacer.due(t * ms)) << t;
  }
  EXPECT_TRUE(pacer.due(17 * ms));
  EXPECT_NEAR(pacer.target_fps(), 60.0, 0.5);
}

TEST(FramePacer, ExpensiveFramesLowerTheRateButNotBelowTheFloor) {
  FramePacer pacer(PacerSettings{10, 60, 1.5});
  std::uint64_t t = 0;
  for (int i = 0; i < 30; ++i) {
    pacer.request(t);
    pacer.rendered(t, 40 * ms);
    t += 100 * ms;
  }
  EXPECT_NEAR(pacer.target_fps(), 1000.0 / 60.0, 0.5);  // 1.5 x 40 ms
  for (int i = 0; i < 30; ++i) {
    pacer.request(t);
    pacer.rendered(t, 500 * ms);
    t += 1000 * ms;
  }
  EXPECT_NEAR(pacer.target_fps(), 10.0, 0.01);
}

TEST(FramePacer, MaxFpsCapsTheCeiling) {
  FramePacer pacer;
  pacer.set_max_fps(5);
  pacer.request(0);
  pacer.rendered(0, 1 * ms);
  pacer.request(1 * ms);
  EXPECT_FALSE(pacer.due(150 * ms));
  EXPECT_TRUE(pacer.due(200 * ms));
}
