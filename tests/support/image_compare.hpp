// RGB images for baseline tests: read and write PNG with VTK, and compare two images with a
// tolerance that survives small rasterisation and shading differences between Mesa versions.
//
// The metric (one number per image pair, the share of differing pixels):
//   - colour distance of two pixels: the largest of |r1-r2|, |g1-g2|, |b1-b2|, divided by 255;
//   - a pixel of one image *matches* if the other image has a pixel within `colour_tolerance`
//     of it in the (2 * search_radius + 1)^2 neighbourhood around the same position, so an edge
//     moved by a pixel, or a shade a few levels off, is not a difference;
//   - a pixel *differs* if it does not match in either direction (actual against expected, or
//     expected against actual: a shape missing from one image is caught from both sides);
//   - the images match if the share of differing pixels is at most `max_differing_share`.
// f3d passes a test when vtkImageDifference's thresholded error is below 0.05; this metric is
// explicit instead. Its defaults (0.1 colour, 1 pixel, 0.5 % of pixels) let an edge move by one
// pixel and a shade change by up to 25 levels; what a test changes beyond that fails. Measured on
// the 160 x 120 baselines (about 40 px per metre): a channel changed by 40 levels, a shape moved
// by 10 cm or shrunk by 5 cm, quaternion factors composed in the wrong order, a missing selection
// or another point-LOD threshold fail (1 to 7 % of pixels); an unchanged scene differs in 0 pixels.
//
// Images are stored as VTK keeps them: row 0 at the bottom (vtkPNGWriter flips them on disk).
// Header-only; not thread-safe (VTK readers and writers are per call).
#pragma once

#include <vtkImageData.h>
#include <vtkPNGReader.h>
#include <vtkPNGWriter.h>
#include <vtkSmartPointer.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fleetscope::testing {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3, row 0 at the bottom

  const std::uint8_t* at(int x, int y) const { return &rgb[(static_cast<std::size_t>(y) * width + x) * 3]; }
  std::uint8_t* at(int x, int y) { return &rgb[(static_cast<std::size_t>(y) * width + x) * 3]; }
};

// The PNG at `path` as RGB (an alpha channel is dropped, grey is expanded), or nullopt if there is
// no such file. Throws std::runtime_error for a file VTK cannot read as a 2D 8-bit image.
inline std::optional<RgbImage> read_png(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  auto reader = vtkSmartPointer<vtkPNGReader>::New();
  if (!reader->CanReadFile(path.c_str())) throw std::runtime_error("not a PNG file: " + path);
  reader->SetFileName(path.c_str());
  reader->Update();
  vtkImageData* data = reader->GetOutput();
  int dims[3];
  data->GetDimensions(dims);
  const int comps = data->GetNumberOfScalarComponents();
  if (dims[2] != 1 || dims[0] <= 0 || dims[1] <= 0 || data->GetScalarType() != VTK_UNSIGNED_CHAR || comps < 1 ||
      comps > 4) {
    throw std::runtime_error("not an 8-bit 2D image: " + path);
  }
  RgbImage image{dims[0], dims[1], {}};
  image.rgb.resize(static_cast<std::size_t>(dims[0]) * dims[1] * 3);
  const auto* src = static_cast<const std::uint8_t*>(data->GetScalarPointer());
  for (std::size_t i = 0; i < static_cast<std::size_t>(dims[0]) * dims[1]; ++i) {
    for (int c = 0; c < 3; ++c) image.rgb[i * 3 + c] = src[i * comps + (comps >= 3 ? c : 0)];
  }
  return image;
}

// Writes `image` as an 8-bit RGB PNG (best compression), creating the folder. Throws
// std::runtime_error if it cannot.
inline void write_png(const RgbImage& image, const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  auto data = vtkSmartPointer<vtkImageData>::New();
  data->SetDimensions(image.width, image.height, 1);
  data->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
  std::copy(image.rgb.begin(), image.rgb.end(), static_cast<std::uint8_t*>(data->GetScalarPointer()));
  auto writer = vtkSmartPointer<vtkPNGWriter>::New();
  writer->SetCompressionLevel(9);
  writer->SetFileName(path.c_str());
  writer->SetInputData(data);
  writer->Write();
  if (writer->GetErrorCode() != 0) throw std::runtime_error("cannot write " + path);
}

struct CompareOptions {
  double colour_tolerance = 0.1;     // largest channel difference / 255 for two pixels to match
  int search_radius = 1;             // pixels: how far an edge may move
  double max_differing_share = 0.005;  // of all pixels
};

struct CompareResult {
  bool same_size = false;
  std::size_t differing = 0;  // pixels
  double share = 1.0;         // differing / all pixels (1 when the sizes differ)
  bool passed = false;
  RgbImage diff;  // the actual image dimmed to grey, differing pixels in magenta
};

namespace detail {
inline bool matches_near(const RgbImage& a, int x, int y, const RgbImage& b, int radius, int tolerance) {
  const std::uint8_t* p = a.at(x, y);
  for (int yy = std::max(0, y - radius); yy <= std::min(b.height - 1, y + radius); ++yy) {
    for (int xx = std::max(0, x - radius); xx <= std::min(b.width - 1, x + radius); ++xx) {
      const std::uint8_t* q = b.at(xx, yy);
      if (std::abs(p[0] - q[0]) <= tolerance && std::abs(p[1] - q[1]) <= tolerance && std::abs(p[2] - q[2]) <= tolerance) {
        return true;
      }
    }
  }
  return false;
}
}  // namespace detail

inline CompareResult compare_images(const RgbImage& actual, const RgbImage& expected, const CompareOptions& options = {}) {
  CompareResult result;
  result.diff = actual;
  if (actual.width != expected.width || actual.height != expected.height || actual.rgb.empty()) return result;
  result.same_size = true;
  const int tolerance = static_cast<int>(options.colour_tolerance * 255.0 + 0.5);
  for (int y = 0; y < actual.height; ++y) {
    for (int x = 0; x < actual.width; ++x) {
      const bool differs = !detail::matches_near(actual, x, y, expected, options.search_radius, tolerance) ||
                           !detail::matches_near(expected, x, y, actual, options.search_radius, tolerance);
      std::uint8_t* d = result.diff.at(x, y);
      if (differs) {
        ++result.differing;
        d[0] = 255, d[1] = 0, d[2] = 255;
      } else {
        const auto grey = static_cast<std::uint8_t>((d[0] + d[1] + d[2]) / 9);
        d[0] = d[1] = d[2] = grey;
      }
    }
  }
  result.share = static_cast<double>(result.differing) / (static_cast<double>(actual.width) * actual.height);
  result.passed = result.share <= options.max_differing_share;
  return result;
}

}  // namespace fleetscope::testing
