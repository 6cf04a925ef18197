// Forward kinematics against poses computed by hand: revolute, prismatic, fixed chains with
// rotated origins, mimic joints, base poses, and many robots in one call.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "urdf/urdf_test_support.hpp"

using fleetscope::testing::pose_of;
using fleetscope::testing::robot_xml;
using fleetscope::testing::TempDir;
using fleetscope::testing::urdf_resource;
using fleetscope::urdf::UrdfModel;

namespace {

constexpr double kPi = std::numbers::pi;
const double kS = std::sqrt(0.5);  // sin 45° = cos 45°

// base -j1 (revolute z, up 1)-> l1 -j2 (prismatic x, out 1)-> l2 -f1 (fixed, up 0.5, roll 90°)-> l3
// -f2 (fixed, up 0.25)-> l4; and l1 -m1 (revolute y, mimics j1: -2 q + 0.5, at y 1)-> l5.
// m1 comes last in the file, so l5 is the last link.
const char* kChain = R"(
  <link name="base"/>
  <joint name="j1" type="revolute">
    <parent link="base"/><child link="l1"/><origin xyz="0 0 1"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/>
  </joint>
  <link name="l1"/>
  <joint name="j2" type="prismatic">
    <parent link="l1"/><child link="l2"/><origin xyz="1 0 0"/><axis xyz="2 0 0"/>
    <limit lower="0" upper="1" effort="1" velocity="1"/>
  </joint>
  <link name="l2"/>
  <joint name="f1" type="fixed">
    <parent link="l2"/><child link="l3"/><origin xyz="0 0 0.5" rpy="1.5707963267948966 0 0"/>
  </joint>
  <link name="l3"/>
  <joint name="f2" type="fixed"><parent link="l3"/><child link="l4"/><origin xyz="0 0 0.25"/></joint>
  <link name="l4"/>
  <joint name="m1" type="revolute">
    <parent link="l1"/><child link="l5"/><origin xyz="0 1 0"/><axis xyz="0 1 0"/>
    <limit lower="-5" upper="5" effort="1" velocity="1"/>
    <mimic joint="j1" multiplier="-2" offset="0.5"/>
  </joint>
  <link name="l5"/>
)";

UrdfModel chain(const TempDir& dir) { return UrdfModel::load(dir.write("chain.urdf", robot_xml(kChain, "chain"))); }

std::vector<float> fk(const UrdfModel& model, const std::vector<double>& q, const std::vector<double>& bases = {}) {
  const std::size_t robots = q.size() / model.dof();
  std::vector<float> out(robots * model.link_count() * 7);
  model.forward_kinematics(q, bases, out, robots);
  return out;
}

}  // namespace

TEST(UrdfKinematics, OrdersLinksDepthFirstAndJointsByTheirChildLinks) {
  TempDir dir;
  const UrdfModel model = chain(dir);
  EXPECT_EQ(model.link_names(), (std::vector<std::string>{"base", "l1", "l2", "l3", "l4", "l5"}));
  EXPECT_EQ(model.joint_names(), (std::vector<std::string>{"j1", "j2"}));  // m1 mimics, f1 f2 are fixed
  ASSERT_EQ(model.joints().size(), 5u);
  EXPECT_TRUE(model.joints()[4].mimic);
  EXPECT_EQ(model.joints()[4].actuated, 0u);
  EXPECT_EQ(model.joints()[4].parent_link, 1u);
}

TEST(UrdfKinematics, ZeroPositionsGiveTheJointOrigins) {
  TempDir dir;
  const auto poses = fk(chain(dir), {0.0, 0.0});
  EXPECT_POSE_NEAR(pose_of(poses, 0), 0, 0, 0, 0, 0, 0, 1);
  EXPECT_POSE_NEAR(pose_of(poses, 1), 0, 0, 1, 0, 0, 0, 1);
  EXPECT_POSE_NEAR(pose_of(poses, 2), 1, 0, 1, 0, 0, 0, 1);
  EXPECT_POSE_NEAR(pose_of(poses, 3), 1, 0, 1.5, kS, 0, 0, kS);
  // Rolled 90° about x, the child's +z is the world's -y.
  EXPECT_POSE_NEAR(pose_of(poses, 4), 1, -0.25, 1.5, kS, 0, 0, kS);
  // The mimic joint sits at -2 * 0 + 0.5 rad about y.
  EXPECT_POSE_NEAR(pose_of(poses, 5), 0, 1, 1, 0, std::sin(0.25), 0, std::cos(0.25));
}

TEST(UrdfKinematics, RevolutePrismaticFixedAndMimicAtKnownPositions) {
  TempDir dir;
  // j1 = 90° about z, j2 = 0.3 m along x (the axis is normalised).
  const auto poses = fk(chain(dir), {kPi / 2, 0.3});
  EXPECT_POSE_NEAR(pose_of(poses, 1), 0, 0, 1, 0, 0, kS, kS);
  // (1.3, 0, 0) in l1, turned 90° about z.
  EXPECT_POSE_NEAR(pose_of(poses, 2), 0, 1.3, 1, 0, 0, kS, kS);
  // Rz(90°) * Rx(90°) = quaternion (0.5, 0.5, 0.5, 0.5).
  EXPECT_POSE_NEAR(pose_of(poses, 3), 0, 1.3, 1.5, 0.5, 0.5, 0.5, 0.5);
  // That rotation takes (0, 0, 0.25) to (0.25, 0, 0).
  EXPECT_POSE_NEAR(pose_of(poses, 4), 0.25, 1.3, 1.5, 0.5, 0.5, 0.5, 0.5);
  // l5: (0, 1, 0) turned 90° about z is (-1, 0, 0); its rotation is Rz(90°) * Ry(t), t = -2 * 90° + 0.5:
  // (0, 0, s, s) * (0, sin t/2, 0, cos t/2) = s * (-sin t/2, sin t/2, cos t/2, cos t/2).
  const double t = -kPi + 0.5;
  EXPECT_POSE_NEAR(pose_of(poses, 5), -1, 0, 1, -kS * std::sin(t / 2), kS * std::sin(t / 2), kS * std::cos(t / 2),
                   kS * std::cos(t / 2));
}

TEST(UrdfKinematics, BasePoseComesFirst) {
  TempDir dir;
  // Base at (10, 0, 0), turned 180° about z: (1, 0, 1) in the base frame is (9, 0, 1).
  const auto poses = fk(chain(dir), {0.0, 0.0}, {10, 0, 0, 0, 0, 1, 0});
  EXPECT_POSE_NEAR(pose_of(poses, 0), 10, 0, 0, 0, 0, 1, 0);
  EXPECT_POSE_NEAR(pose_of(poses, 2), 9, 0, 1, 0, 0, 1, 0);
  // An unnormalised base quaternion is normalised.
  const auto scaled = fk(chain(dir), {0.0, 0.0}, {10, 0, 0, 0, 0, 3, 0});
  EXPECT_POSE_NEAR(pose_of(scaled, 2), 9, 0, 1, 0, 0, 1, 0);
}

TEST(UrdfKinematics, ManyRobotsInOneCallEqualOneByOne) {
  TempDir dir;
  const UrdfModel model = chain(dir);
  std::vector<double> q, bases;
  for (int r = 0; r < 17; ++r) {
    q.insert(q.end(), {0.1 * r - 0.8, 0.05 * r});
    bases.insert(bases.end(), {1.0 * r, -2.0 * r, 0.5, 0, 0, std::sin(0.1 * r), std::cos(0.1 * r)});
  }
  const auto all = fk(model, q, bases);
  for (std::size_t r = 0; r < 17; ++r) {
    const auto one = fk(model, {q[2 * r], q[2 * r + 1]}, std::vector<double>(bases.begin() + 7 * r, bases.begin() + 7 * r + 7));
    for (std::size_t k = 0; k < one.size(); ++k) ASSERT_EQ(all[r * one.size() + k], one[k]) << "robot " << r;
  }
}

TEST(UrdfKinematics, ArmStandsUpAndFoldsAtTheShoulder) {
  const UrdfModel arm = UrdfModel::load(urdf_resource("fs_arm6.urdf"));
  ASSERT_EQ(arm.dof(), 6u);
  ASSERT_EQ(arm.link_names().back(), "tool0");
  const std::size_t tool = arm.link_count() - 1;
  // Straight up: 0.10 + 0.08 + 0.35 + 0.30 + 0.06 + 0.05 + 0.02.
  EXPECT_POSE_NEAR(pose_of(fk(arm, {0, 0, 0, 0, 0, 0}), tool), 0, 0, 0.96, 0, 0, 0, 1);
  // Shoulder lift 90° about y: everything above the shoulder (0.78 m) lies along +x at z 0.18.
  EXPECT_POSE_NEAR(pose_of(fk(arm, {0, kPi / 2, 0, 0, 0, 0}), tool), 0.78, 0, 0.18, 0, kS, 0, kS);
  // And the pan 90° about z turns that to +y.
  // Rz(90°) * Ry(90°) = quaternion (-0.5, 0.5, 0.5, 0.5).
  EXPECT_POSE_NEAR(pose_of(fk(arm, {kPi / 2, kPi / 2, 0, 0, 0, 0}), tool), 0, 0.78, 0.18, -0.5, 0.5, 0.5, 0.5);
  // Elbow -90°: the forearm points back up from the elbow at (0.35, 0, 0.18).
  EXPECT_POSE_NEAR(pose_of(fk(arm, {0, kPi / 2, -kPi / 2, 0, 0, 0}), tool), 0.35, 0, 0.61, 0, 0, 0, 1);
}

TEST(UrdfKinematics, GripperFingersMirrorEachOther) {
  const UrdfModel gripper = UrdfModel::load(urdf_resource("fs_gripper.urdf"));
  ASSERT_EQ(gripper.joint_names(), (std::vector<std::string>{"left_finger_joint"}));
  const auto poses = fk(gripper, {0.02});
  EXPECT_POSE_NEAR(pose_of(poses, 1), 0, 0.02, 0.06, 0, 0, 0, 1);
  // The right finger mimics the left one in a frame turned 180° about z.
  EXPECT_POSE_NEAR(pose_of(poses, 2), 0, -0.02, 0.06, 0, 0, 1, 0);
}

TEST(UrdfKinematics, ContinuousWheelsAndTheLiftOfTheMobileManipulator) {
  const UrdfModel robot = UrdfModel::load(urdf_resource("fs_mobile_manipulator.urdf"));
  ASSERT_EQ(robot.dof(), 12u);
  EXPECT_EQ(robot.joint_names()[0], "front_left_wheel_joint");
  EXPECT_EQ(robot.joint_names()[4], "torso_lift");
  EXPECT_EQ(robot.joint_names()[11], "left_finger_joint");
  std::vector<double> q(12, 0.0);
  q[0] = kPi;   // front left wheel half a turn about y
  q[4] = 0.25;  // torso up 0.25 m
  const auto poses = fk(robot, q);
  const auto& names = robot.link_names();
  const auto link = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  };
  EXPECT_POSE_NEAR(pose_of(poses, link("front_left_wheel")), 0.2, 0.235, 0.08, 0, 1, 0, 0);
  EXPECT_POSE_NEAR(pose_of(poses, link("front_right_wheel")), 0.2, -0.235, 0.08, 0, 0, 0, 1);
  // Footprint 0.08 + torso origin 0.2 + lift 0.25 + torso 0.4 + arm 0.96 + palm 0.06.
  EXPECT_POSE_NEAR(pose_of(poses, link("left_finger")), -0.08, 0, 1.95, 0, 0, 0, 1);
  EXPECT_POSE_NEAR(pose_of(poses, link("right_finger")), -0.08, 0, 1.95, 0, 0, 1, 0);
}

TEST(UrdfKinematics, RefusesWrongSizesAndValuesThatAreNotFinite) {
  TempDir dir;
  const UrdfModel model = chain(dir);
  std::vector<float> out(2 * model.link_count() * 7, -1.0f);
  const std::vector<double> q{0, 0, 0, 0};
  EXPECT_THROW(model.forward_kinematics(std::vector<double>{0, 0, 0}, {}, out, 2), fleetscope::ipc::SegmentError);
  EXPECT_THROW(model.forward_kinematics(q, std::vector<double>(13), out, 2), fleetscope::ipc::SegmentError);
  EXPECT_THROW(model.forward_kinematics(q, {}, std::span<float>(out).first(10), 2), fleetscope::ipc::SegmentError);
  try {
    model.forward_kinematics(std::vector<double>{0, 0, 0, NAN}, {}, out, 2);
    FAIL() << "NaN accepted";
  } catch (const fleetscope::ipc::SegmentError& e) {
    EXPECT_EQ(e.code(), fleetscope::ipc::ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("('j2') of robot 1 is not finite"), std::string::npos) << e.what();
  }
  std::vector<double> zero_quaternion{0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_THROW(model.forward_kinematics(q, zero_quaternion, out, 2), fleetscope::ipc::SegmentError);
  for (const float v : out) EXPECT_EQ(v, -1.0f);  // nothing written by a refused call
}
