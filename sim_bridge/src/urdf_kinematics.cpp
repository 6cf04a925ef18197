// Forward kinematics of URDF models, batched over robots. Two passes: the joint terms of every
// moving joint of every robot (the sine and cosine of a revolute joint's half angle, computed in
// one vectorised loop: the trigonometry was half the cost; a prismatic joint's displacement), then
// the link poses down the depth-first link order (a parent precedes its children) for kLanes
// robots side by side, so that independent robots fill the pipeline that one robot's chain of
// dependent quaternion products would leave idle, and the lane loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "urdf_internal.hpp"

namespace fleetscope::urdf {

using ipc::ErrorCode;
using ipc::SegmentError;

namespace {

constexpr std::size_t kLanes = 8;

struct LinkLanes {  // one link's world pose in kLanes robots
  alignas(64) double qx[kLanes], qy[kLanes], qz[kLanes], qw[kLanes];
  double tx[kLanes], ty[kLanes], tz[kLanes];
};

// Per thread, so that const models stay usable from several threads without allocating per call.
struct Scratch {
  // Per moving step and robot, step-major (robots padded to kLanes): revolute: sine and cosine
  // of the half angle; prismatic: the displacement (in `first`).
  std::vector<double> first, second;
  std::vector<LinkLanes> lanes;  // per link
  std::vector<float> staged;     // kLanes robots' link poses, robot-major
};
thread_local Scratch scratch;

constexpr double kFastTrigLimit = 1e6;  // |angle| up to which the reduction below stays exact enough

// sin and cos of `x`, |x| <= kFastTrigLimit, within 3e-14: reduction by pi/2 in three parts
// (Cody-Waite), Taylor polynomials on [-pi/4, pi/4], the quadrant applied by arithmetic instead of
// branches so that a loop over many angles vectorises.
inline void sincos_reduced(double x, double& s, double& c) {
  constexpr double kTwoOverPi = 0.63661977236758134308;
  constexpr double kPiOver2Hi = 1.5707963267341256e+00;
  constexpr double kPiOver2Mid = 6.0771005065061922e-11;
  constexpr double kPiOver2Lo = 2.0222662487959506e-21;
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double k = (x * kTwoOverPi + kRound) - kRound;
  const double r = ((x - k * kPiOver2Hi) - k * kPiOver2Mid) - k * kPiOver2Lo;
  const double r2 = r * r;
  const double ps = r + r * r2 * (-1.0 / 6 + r2 * (1.0 / 120 + r2 * (-1.0 / 5040 + r2 * (1.0 / 362880 +
                    r2 * (-1.0 / 39916800 + r2 * (1.0 / 6227020800.0))))));
  const double pc = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 + r2 * (1.0 / 40320 + r2 * (-1.0 / 3628800 +
                    r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0)))))));
  const auto quadrant = static_cast<std::int32_t>(k);
  const double swap = static_cast<double>(quadrant & 1);
  const double sv = ps + swap * (pc - ps);
  const double cv = pc + swap * (ps - pc);
  s = sv * (1.0 - 2.0 * static_cast<double>((quadrant >> 1) & 1));
  c = cv * (1.0 - 2.0 * static_cast<double>(((quadrant + 1) >> 1) & 1));
}

std::size_t padded(std::size_t robots) { return (robots + kLanes - 1) / kLanes * kLanes; }

// The joint terms of every moving step of `robots` robots into scratch.first/second.
void joint_terms(const UrdfModel::Data& d, const double* q, std::size_t robots) {
  const std::size_t moving = d.moving_steps.size(), dof = d.joint_names.size(), stride = padded(robots);
  scratch.first.assign(moving * stride, 0.0);  // padding lanes: angle 0, displacement 0
  scratch.second.resize(moving * stride);
  for (std::size_t r = 0; r < robots; ++r) {
    for (std::size_t k = 0; k < moving; ++k) {
      const detail::FkStep& s = d.steps[d.moving_steps[k]];
      const double position = s.multiplier * q[r * dof + s.source] + s.offset;
      scratch.first[k * stride + r] = s.kind == detail::FkStep::Kind::kRevolute ? 0.5 * position : position;
    }
  }
  for (std::size_t k = 0; k < moving; ++k) {
    if (d.steps[d.moving_steps[k]].kind != detail::FkStep::Kind::kRevolute) continue;
    double* sines = &scratch.first[k * stride];  // the half angles, replaced by their sines
    double* cosines = &scratch.second[k * stride];
    bool large = false;
    for (std::size_t i = 0; i < stride; ++i) large |= std::abs(sines[i]) > kFastTrigLimit;
    if (large) {  // a wheel that turned for days: the library's reduction
      for (std::size_t i = 0; i < stride; ++i) {
        const double a = sines[i];
        sines[i] = std::sin(a);
        cosines[i] = std::cos(a);
      }
    } else {
      for (std::size_t i = 0; i < stride; ++i) sincos_reduced(sines[i], sines[i], cosines[i]);
    }
  }
}

void check_inputs(const UrdfModel& model, std::span<const double> q, std::span<const double> bases, std::size_t robots,
                  const char* what) {
  const std::size_t dof = model.dof();
  if (q.size() != robots * dof) {
    throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + ": " + std::to_string(robots) + " robots of '" +
                                                        model.name() + "' need " + std::to_string(robots * dof) +
                                                        " joint positions (" + std::to_string(dof) + " each), got " +
                                                        std::to_string(q.size()));
  }
  if (!bases.empty() && bases.size() != robots * kPoseValues) {
    throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + ": " + std::to_string(robots) +
                                                        " robots need " + std::to_string(robots * kPoseValues) +
                                                        " base pose values, got " + std::to_string(bases.size()));
  }
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (!std::isfinite(q[i])) {
      throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + ": joint position " + std::to_string(i % dof) +
                                                          " ('" + model.joint_names()[i % dof] + "') of robot " +
                                                          std::to_string(i / dof) + " is not finite");
    }
  }
  for (std::size_t r = 0; r < bases.size() / kPoseValues; ++r) {
    const double* b = &bases[r * kPoseValues];
    double norm = 0.0;
    bool finite = true;
    for (std::size_t k = 0; k < kPoseValues; ++k) finite = finite && std::isfinite(b[k]);
    for (std::size_t k = 3; k < kPoseValues; ++k) norm += b[k] * b[k];
    if (!finite || !(norm > 1e-12)) {
      throw SegmentError(ErrorCode::kInvalidArgument, std::string(what) + ": the base pose of robot " + std::to_string(r) +
                                                          " is not finite or has a zero quaternion");
    }
  }
}

// Link poses of robots [first, first + count), count <= kLanes, into `out` (count x link_count x
// 7 floats, robot-major). joint_terms() ran for `robots` robots.
void solve_lanes(const UrdfModel::Data& d, std::size_t robots, std::size_t first, std::size_t count,
                 const double* bases, float* out) {
  const std::size_t stride = padded(robots);
  LinkLanes& root = scratch.lanes[0];
  for (std::size_t b = 0; b < kLanes; ++b) {
    const double* base = bases != nullptr && b < count ? bases + (first + b) * kPoseValues : nullptr;
    Eigen::Quaterniond q = Eigen::Quaterniond::Identity();
    if (base != nullptr) q = Eigen::Quaterniond(base[6], base[3], base[4], base[5]).normalized();
    root.qx[b] = q.x(), root.qy[b] = q.y(), root.qz[b] = q.z(), root.qw[b] = q.w();
    root.tx[b] = base ? base[0] : 0.0, root.ty[b] = base ? base[1] : 0.0, root.tz[b] = base ? base[2] : 0.0;
  }
  std::size_t k = 0;  // moving step
  for (std::size_t i = 0; i < d.steps.size(); ++i) {
    const detail::FkStep& s = d.steps[i];
    const LinkLanes& p = scratch.lanes[s.parent];
    LinkLanes& l = scratch.lanes[i + 1];
    // The link's pose in its parent's frame: rotation (lx, ly, lz, lw), translation (ox, oy, oz).
    alignas(64) double lx[kLanes], ly[kLanes], lz[kLanes], lw[kLanes], ox[kLanes], oy[kLanes], oz[kLanes];
    const Eigen::Quaterniond& o = s.origin_rotation;
    const Eigen::Quaterniond& a = s.axis_rotation;
    const Eigen::Vector3d& t = s.origin_translation;
    if (s.kind == detail::FkStep::Kind::kRevolute) {
      const double* sn = &scratch.first[k * stride + first];
      const double* cs = &scratch.second[k * stride + first];
      for (std::size_t b = 0; b < kLanes; ++b) {
        lx[b] = cs[b] * o.x() + sn[b] * a.x();
        ly[b] = cs[b] * o.y() + sn[b] * a.y();
        lz[b] = cs[b] * o.z() + sn[b] * a.z();
        lw[b] = cs[b] * o.w() + sn[b] * a.w();
        ox[b] = t.x(), oy[b] = t.y(), oz[b] = t.z();
      }
      ++k;
    } else {
      const double* shift = s.kind == detail::FkStep::Kind::kPrismatic ? &scratch.first[k * stride + first] : nullptr;
      const Eigen::Vector3d& axis = s.axis_translation;  // zero for a fixed step
      for (std::size_t b = 0; b < kLanes; ++b) {
        const double dist = shift != nullptr ? shift[b] : 0.0;
        lx[b] = o.x(), ly[b] = o.y(), lz[b] = o.z(), lw[b] = o.w();
        ox[b] = t.x() + dist * axis.x(), oy[b] = t.y() + dist * axis.y(), oz[b] = t.z() + dist * axis.z();
      }
      if (shift != nullptr) ++k;
    }
    for (std::size_t b = 0; b < kLanes; ++b) {
      const double px = p.qx[b], py = p.qy[b], pz = p.qz[b], pw = p.qw[b];
      // t = parent.t + parent.q * offset, as v + 2w(u x v) + 2u x (u x v).
      const double ux = 2.0 * (py * oz[b] - pz * oy[b]);
      const double uy = 2.0 * (pz * ox[b] - px * oz[b]);
      const double uz = 2.0 * (px * oy[b] - py * ox[b]);
      l.tx[b] = p.tx[b] + ox[b] + pw * ux + (py * uz - pz * uy);
      l.ty[b] = p.ty[b] + oy[b] + pw * uy + (pz * ux - px * uz);
      l.tz[b] = p.tz[b] + oz[b] + pw * uz + (px * uy - py * ux);
      // q = parent.q * local
      l.qw[b] = pw * lw[b] - px * lx[b] - py * ly[b] - pz * lz[b];
      l.qx[b] = pw * lx[b] + px * lw[b] + py * lz[b] - pz * ly[b];
      l.qy[b] = pw * ly[b] - px * lz[b] + py * lw[b] + pz * lx[b];
      l.qz[b] = pw * lz[b] + px * ly[b] - py * lx[b] + pz * lw[b];
    }
  }
  const std::size_t links = d.link_names.size();
  for (std::size_t b = 0; b < count; ++b) {
    float* o = out + b * links * kPoseValues;
    for (std::size_t li = 0; li < links; ++li, o += kPoseValues) {
      const LinkLanes& l = scratch.lanes[li];
      o[0] = static_cast<float>(l.tx[b]);
      o[1] = static_cast<float>(l.ty[b]);
      o[2] = static_cast<float>(l.tz[b]);
      o[3] = static_cast<float>(l.qx[b]);
      o[4] = static_cast<float>(l.qy[b]);
      o[5] = static_cast<float>(l.qz[b]);
      o[6] = static_cast<float>(l.qw[b]);
    }
  }
}

}  // namespace

void UrdfModel::forward_kinematics(std::span<const double> joint_positions, std::span<const double> base_poses,
                                   std::span<float> out, std::size_t robots) const {
  check_inputs(*this, joint_positions, base_poses, robots, "forward_kinematics");
  const std::size_t links = link_count();
  if (out.size() != robots * links * kPoseValues) {
    throw SegmentError(ErrorCode::kInvalidArgument, "forward_kinematics: output for " + std::to_string(robots) +
                                                        " robots needs " + std::to_string(robots * links * kPoseValues) +
                                                        " floats, got " + std::to_string(out.size()));
  }
  joint_terms(*data_, joint_positions.data(), robots);
  scratch.lanes.resize(links);
  const double* bases = base_poses.empty() ? nullptr : base_poses.data();
  for (std::size_t first = 0; first < robots; first += kLanes) {
    solve_lanes(*data_, robots, first, std::min(kLanes, robots - first), bases, out.data() + first * links * kPoseValues);
  }
}

void UrdfModel::write_poses(SimWriter& writer, std::span<const std::uint32_t> robots,
                            std::span<const double> joint_positions, std::span<const double> base_poses) const {
  check_inputs(*this, joint_positions, base_poses, robots.size(), "write_poses");
  const std::size_t links = link_count();
  for (const std::uint32_t id : robots) {
    // Checked before the first robot is staged, so a refused call stages nothing.
    if (!writer.has_robot(id) || writer.robot_link_count(id) != links) {
      throw SegmentError(ErrorCode::kInvalidArgument, "write_poses: robot " + std::to_string(id) +
                                                          " is not a robot of " + std::to_string(links) +
                                                          " links ('" + name() + "') in this writer");
    }
  }
  joint_terms(*data_, joint_positions.data(), robots.size());
  scratch.lanes.resize(links);
  scratch.staged.resize(kLanes * links * kPoseValues);
  const double* bases = base_poses.empty() ? nullptr : base_poses.data();
  for (std::size_t first = 0; first < robots.size(); first += kLanes) {
    const std::size_t count = std::min(kLanes, robots.size() - first);
    solve_lanes(*data_, robots.size(), first, count, bases, scratch.staged.data());
    for (std::size_t b = 0; b < count; ++b) {
      writer.set_robot_poses(robots[first + b],
                             std::span<const float>(scratch.staged.data() + b * links * kPoseValues, links * kPoseValues));
    }
  }
}

}  // namespace fleetscope::urdf
