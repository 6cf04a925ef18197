// Shared by the URDF tests: a temporary directory for URDF and mesh files written by a test, and
// the project's URDF robots.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>

#include "fleetscope/sim_bridge/urdf_model.hpp"

namespace fleetscope::testing {

inline std::filesystem::path urdf_resource(const std::string& name) {
  return std::filesystem::path(FLEETSCOPE_URDF_DIR) / name;
}

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fleetscope-urdf-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to `name` (directories created); returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// A robot with the given body inside <robot name="NAME">.
inline std::string robot_xml(const std::string& body, const std::string& name = "test_robot") {
  return "<?xml version=\"1.0\"?>\n<robot name=\"" + name + "\">\n" + body + "\n</robot>\n";
}

// One link pose (x y z qx qy qz qw) of `poses`, 7 floats per link.
inline std::array<float, 7> pose_of(std::span<const float> poses, std::size_t link) {
  std::array<float, 7> p{};
  for (std::size_t k = 0; k < 7; ++k) p[k] = poses[link * 7 + k];
  return p;
}

}  // namespace fleetscope::testing

// Position within 1e-5 m, quaternion components within 1e-5 up to the quaternion's sign.
#define EXPECT_POSE_NEAR(actual, x, y, z, qx, qy, qz, qw)                                           \
  do {                                                                                              \
    const std::array<float, 7> a_ = (actual);                                                       \
    std::array<double, 7> e_{(x), (y), (z), (qx), (qy), (qz), (qw)};                                \
    if (a_[3] * e_[3] + a_[4] * e_[4] + a_[5] * e_[5] + a_[6] * e_[6] < 0) {                        \
      for (int k_ = 3; k_ < 7; ++k_) e_[k_] = -e_[k_];                                              \
    }                                                                                               \
    for (int k_ = 0; k_ < 7; ++k_) EXPECT_NEAR(a_[k_], e_[k_], 1e-5) << (k_ < 3 ? "position " : "quaternion ") << k_; \
  } while (0)
