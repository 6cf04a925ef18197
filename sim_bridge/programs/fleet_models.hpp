// The reference fleet: mobile manipulators (a box base, a turret and a serial arm of capsules
// and joint blocks) on a grid, driven by joint trajectories through Eigen forward kinematics.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fleetscope/sim_bridge/sim_writer.hpp"

namespace fleetscope::sim {

struct FleetSpec {
  std::uint32_t robots = 100;
  std::uint32_t min_links = 10;
  std::uint32_t max_links = 30;
  std::uint32_t model_count = 4;   // distinct models between min_links and max_links
  double still_fraction = 0.3;     // share of each robot's cycle spent standing still
  double grid_spacing = 2.5;       // metres between robot bases
};

struct RobotPlan {
  std::uint32_t model;  // index into the models returned by make_models
  std::uint32_t links;
  double grid_x, grid_y;
  double phase;         // seconds, desynchronises robots
};

class FleetKinematics {
 public:
  explicit FleetKinematics(const FleetSpec& spec);

  const std::vector<ModelDesc>& models() const { return models_; }
  const std::vector<RobotPlan>& robots() const { return robots_; }
  std::size_t total_links() const { return total_links_; }

  // Writes every link pose of every robot at simulation time `t` (7 values per link, robots in
  // plan order) into `out`, which must hold total_links() * 7 values.
  void poses_at(double t, std::span<double> out) const;
  // Seconds of motion robot `r` has done by time t (frozen while it stands still).
  double motion_time(const RobotPlan& robot, double t) const;

 private:
  FleetSpec spec_;
  std::vector<ModelDesc> models_;
  std::vector<std::uint32_t> model_links_;
  std::vector<RobotPlan> robots_;
  std::size_t total_links_ = 0;
};

}  // namespace fleetscope::sim
