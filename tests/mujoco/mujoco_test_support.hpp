// What the MuJoCo tests share: loading a model, reading a whole segment back, a little geometry.
#pragma once

#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "fleetscope/ipc/segment_reader.hpp"

namespace fleetscope::testing {

using ModelPtr = std::unique_ptr<mjModel, decltype(&mj_deleteModel)>;
using DataPtr = std::unique_ptr<mjData, decltype(&mj_deleteData)>;

inline std::string mujoco_resource(const std::string& file) {
  return std::string(FLEETSCOPE_MUJOCO_RESOURCES) + "/" + file;
}

struct Simulation {
  ModelPtr model{nullptr, mj_deleteModel};
  DataPtr data{nullptr, mj_deleteData};
};

inline Simulation load_simulation(const std::string& path) {
  Simulation s;
  char error[1024] = "";
  s.model.reset(mj_loadXML(path.c_str(), nullptr, error, sizeof error));
  if (!s.model) throw std::runtime_error("cannot load " + path + ": " + error);
  s.data.reset(mj_makeData(s.model.get()));
  mj_forward(s.model.get(), s.data.get());
  return s;
}

// Every robot of a segment with its link poses, read the way a viewer reads it.
struct ReadRobot {
  ipc::RobotSnapshot snapshot;
  ipc::RobotRead sync;
  std::vector<ipc::PoseRecord> poses;
};

struct ReadSegment {
  ipc::LayoutSnapshot layout;
  std::vector<ReadRobot> robots;
  const ReadRobot* robot(const std::string& name) const {
    for (const auto& r : robots) {
      if (r.snapshot.name == name) return &r;
    }
    return nullptr;
  }
};

inline ReadSegment read_segment(const ipc::SegmentReader& reader) {
  ReadSegment out;
  out.layout = reader.read_layout();
  for (const auto& snapshot : out.layout.robots) {
    ReadRobot r;
    r.snapshot = snapshot;
    r.poses.resize(snapshot.link_count);
    std::vector<std::uint64_t> dirty((snapshot.link_count + 63) / 64);
    auto sync = reader.read_robot(snapshot.slot, std::nullopt, snapshot.link_count, dirty, r.poses);
    if (!sync) throw std::runtime_error("robot " + snapshot.name + " stayed busy");
    r.sync = *sync;
    out.robots.push_back(std::move(r));
  }
  return out;
}

using Vec3 = std::array<double, 3>;
using Quat = std::array<double, 4>;  // x y z w

inline Vec3 rotate(const Quat& q, const Vec3& v) {
  // v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
  const Vec3 u{q[0], q[1], q[2]};
  auto cross = [](const Vec3& a, const Vec3& b) {
    return Vec3{a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  };
  const Vec3 t = cross(u, v);
  const Vec3 t2 = cross(u, t);
  return {v[0] + 2 * (q[3] * t[0] + t2[0]), v[1] + 2 * (q[3] * t[1] + t2[1]), v[2] + 2 * (q[3] * t[2] + t2[2])};
}

inline Quat multiply(const Quat& a, const Quat& b) {
  return {a[3] * b[0] + a[0] * b[3] + a[1] * b[2] - a[2] * b[1],
          a[3] * b[1] - a[0] * b[2] + a[1] * b[3] + a[2] * b[0],
          a[3] * b[2] + a[0] * b[1] - a[1] * b[0] + a[2] * b[3],
          a[3] * b[3] - a[0] * b[0] - a[1] * b[1] - a[2] * b[2]};
}

// Row-major rotation matrix of a unit quaternion, as mjvGeom::mat holds it.
inline std::array<double, 9> matrix(const Quat& q) {
  const double x = q[0], y = q[1], z = q[2], w = q[3];
  return {1 - 2 * (y * y + z * z), 2 * (x * y - z * w),     2 * (x * z + y * w),
          2 * (x * y + z * w),     1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
          2 * (x * z - y * w),     2 * (y * z + x * w),     1 - 2 * (x * x + y * y)};
}

}  // namespace fleetscope::testing
