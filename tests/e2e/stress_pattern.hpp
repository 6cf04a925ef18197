// The pose pattern of the torn-read stress test: in frame k every link of every robot encodes k
// (and its link index), so a pose or robot mixing two publishes is detectable exactly.
#pragma once

#include <cmath>
#include <cstdint>

#include "fleetscope/ipc/format.hpp"

namespace fleetscope::testing {

inline std::uint32_t stress_value(std::uint64_t frame) { return static_cast<std::uint32_t>(frame % (1u << 22)); }

inline void stress_pose(std::uint64_t frame, std::uint32_t link, double* out) {
  const double k = stress_value(frame);
  const double angle = (stress_value(frame) % 1000) * 0.001;
  out[0] = k;
  out[1] = k + link;
  out[2] = -k;
  out[3] = 0.0;
  out[4] = 0.0;
  out[5] = std::sin(angle);
  out[6] = std::cos(angle);
}

// The frame value a record encodes, or -1 if its fields disagree (a torn pose).
inline long long decode_stress_pose(const ipc::PoseRecord& p, std::uint32_t link) {
  double expected[7];
  const auto k = static_cast<std::uint64_t>(p.position[0]);
  if (p.position[0] < 0 || double(k) != double(p.position[0])) return -1;
  stress_pose(k, link, expected);
  const float* values[7] = {&p.position[0], &p.position[1], &p.position[2], &p.orientation[0],
                            &p.orientation[1], &p.orientation[2], &p.orientation[3]};
  for (int i = 0; i < 7; ++i) {
    if (*values[i] != static_cast<float>(expected[i])) return -1;
  }
  return static_cast<long long>(k);
}

}  // namespace fleetscope::testing
