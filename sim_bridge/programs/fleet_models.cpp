#include "fleet_models.hpp"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <string>

#include "fleetscope/ipc/error.hpp"

namespace fleetscope::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kCyclePeriod = 8.0;  // seconds: moving, then standing still
constexpr double kBaseHeight = 0.2;
constexpr double kTurretHeight = 0.12;
constexpr double kArmLength = 1.6;
constexpr double kBaseOrbitRadius = 0.35;

std::array<std::uint8_t, 4> model_colour(std::uint32_t model, double shade) {
  static constexpr std::array<std::array<int, 3>, 6> palette{
      {{230, 120, 40}, {60, 140, 230}, {90, 190, 90}, {200, 80, 170}, {220, 200, 60}, {70, 200, 200}}};
  const auto& c = palette[model % palette.size()];
  auto scale = [&](int v) { return static_cast<std::uint8_t>(std::clamp(v * shade, 0.0, 255.0)); };
  return {scale(c[0]), scale(c[1]), scale(c[2]), 255};
}

ModelDesc make_model(std::uint32_t index, std::uint32_t links) {
  ModelDesc m;
  m.name = "arm" + std::to_string(links);
  LinkVisualDesc base;
  base.name = "base";
  base.shape = ipc::Shape::kBox;
  base.dims = {0.8f, 0.6f, static_cast<float>(kBaseHeight)};
  base.offset_position = {0.0f, 0.0f, static_cast<float>(kBaseHeight / 2)};
  base.rgba = {150, 152, 160, 255};
  m.links.push_back(base);

  LinkVisualDesc turret;
  turret.name = "turret";
  turret.shape = ipc::Shape::kCylinder;
  turret.dims = {0.2f, static_cast<float>(kTurretHeight), 0.0f};
  turret.offset_position = {0.0f, 0.0f, static_cast<float>(kTurretHeight / 2)};
  turret.rgba = model_colour(index, 0.6);
  m.links.push_back(turret);

  const std::uint32_t segments = links - 2;
  const float segment = static_cast<float>(kArmLength / segments);
  for (std::uint32_t s = 0; s < segments; ++s) {
    LinkVisualDesc link;
    link.name = "link" + std::to_string(s + 1);
    const float radius = 0.10f - 0.05f * static_cast<float>(s) / static_cast<float>(segments);
    if (s % 2 == 0) {
      link.shape = ipc::Shape::kCapsule;
      link.dims = {radius, std::max(segment - 2 * radius, 0.01f), 0.0f};
    } else {
      link.shape = ipc::Shape::kBox;
      link.dims = {radius * 2.2f, radius * 2.2f, segment};
    }
    link.offset_position = {0.0f, 0.0f, segment / 2};
    link.rgba = model_colour(index, s % 2 == 0 ? 1.0 : 0.8);
    m.links.push_back(link);
  }
  return m;
}

void write_pose(const Eigen::Isometry3d& pose, double* out) {
  const Eigen::Quaterniond q(pose.rotation());
  out[0] = pose.translation().x();
  out[1] = pose.translation().y();
  out[2] = pose.translation().z();
  out[3] = q.x();
  out[4] = q.y();
  out[5] = q.z();
  out[6] = q.w();
}

}  // namespace

FleetKinematics::FleetKinematics(const FleetSpec& spec) : spec_(spec) {
  if (spec.robots == 0) throw ipc::SegmentError(ipc::ErrorCode::kInvalidArgument, "--robots must be at least 1");
  if (spec.min_links < 3 || spec.max_links < spec.min_links || spec.max_links > ipc::kMaxLinksPerRobot) {
    throw ipc::SegmentError(ipc::ErrorCode::kInvalidArgument,
                            "--links must be N or MIN-MAX with 3 <= MIN <= MAX <= " +
                                std::to_string(ipc::kMaxLinksPerRobot));
  }
  const std::uint32_t span = spec.max_links - spec.min_links;
  const std::uint32_t count = std::max<std::uint32_t>(1, std::min(spec.model_count, span + 1));
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t links = count == 1 ? spec.max_links : spec.min_links + span * i / (count - 1);
    models_.push_back(make_model(i, links));
    model_links_.push_back(links);
  }
  const auto columns = static_cast<std::uint32_t>(std::ceil(std::sqrt(double(spec.robots))));
  for (std::uint32_t r = 0; r < spec.robots; ++r) {
    RobotPlan plan;
    plan.model = r % count;
    plan.links = model_links_[plan.model];
    plan.grid_x = (r % columns) * spec.grid_spacing;
    plan.grid_y = (r / columns) * spec.grid_spacing;
    plan.phase = std::fmod(r * 2.399963, kCyclePeriod);  // golden-angle spread
    robots_.push_back(plan);
    total_links_ += plan.links;
  }
}

double FleetKinematics::motion_time(const RobotPlan& robot, double t) const {
  const double moving = kCyclePeriod * (1.0 - spec_.still_fraction);
  const double shifted = t + robot.phase;
  const double cycles = std::floor(shifted / kCyclePeriod);
  const double within = shifted - cycles * kCyclePeriod;
  return cycles * moving + std::min(within, moving);
}

void FleetKinematics::poses_at(double t, std::span<double> out) const {
  if (out.size() != total_links_ * kPoseValues) {
    throw ipc::SegmentError(ipc::ErrorCode::kInvalidArgument, "pose buffer has the wrong size");
  }
  double* dst = out.data();
  for (const RobotPlan& robot : robots_) {
    const double m = motion_time(robot, t);
    const double orbit = 0.25 * m + robot.phase;
    Eigen::Isometry3d base = Eigen::Isometry3d::Identity();
    base.translation() = Eigen::Vector3d(robot.grid_x + kBaseOrbitRadius * std::cos(orbit),
                                         robot.grid_y + kBaseOrbitRadius * std::sin(orbit), 0.0);
    base.rotate(Eigen::AngleAxisd(orbit + kPi / 2, Eigen::Vector3d::UnitZ()));
    write_pose(base, dst);
    dst += kPoseValues;

    Eigen::Isometry3d frame = base * Eigen::Translation3d(0, 0, kBaseHeight) *
                              Eigen::AngleAxisd(0.8 * std::sin(0.5 * m), Eigen::Vector3d::UnitZ());
    write_pose(frame, dst);
    dst += kPoseValues;
    frame = frame * Eigen::Translation3d(0, 0, kTurretHeight);

    const std::uint32_t segments = robot.links - 2;
    const double segment = kArmLength / segments;
    // Joint angles per segment shrink with the number of segments so long arms curl like short ones.
    const double amplitude = 2.2 / segments;
    for (std::uint32_t s = 0; s < segments; ++s) {
      const double q = amplitude * std::sin(1.3 * m + 0.35 * s) + (s == 0 ? 0.35 : 0.0);
      const Eigen::Vector3d axis = s % 2 == 0 ? Eigen::Vector3d::UnitY() : Eigen::Vector3d::UnitX();
      frame = frame * Eigen::AngleAxisd(q, axis);
      write_pose(frame, dst);
      dst += kPoseValues;
      frame = frame * Eigen::Translation3d(0, 0, segment);
    }
  }
}

}  // namespace fleetscope::sim
