// Mesh files named by a segment are input from another process: checked before VTK's readers
// see them and again after, so a hostile or broken file costs one warning and a unit box, never a
// crash, a hang or gigabytes of memory.
//
// Before the reader: the path is resolved (symbolic links are followed, deliberately: ROS
// install trees link their meshes) and the resolved file is opened with
// O_RDONLY | O_NONBLOCK | O_NOFOLLOW (it cannot be swapped for a link after the check, and a FIFO
// never blocks); anything but a regular file of at most kMaxMeshFileBytes is refused. Its bytes
// are read once and checked for structure: PLY element counts against the bytes present (and
// every list and face index walked), binary STL size against its triangle count, OBJ face,
// line and point indices (negative ones relative) against the vertices, texture coordinates and
// normals the file has. The reader then reads exactly those bytes (a private memfd), not the
// path again.
// After the reader, before any filter: every cell's point ids < the number of points, every
// coordinate finite, at least one and at most kMaxMeshTriangles triangles, at most
// kMaxMeshPoints points.
//
// VTK's messages for these readers go to observers, not to the terminal: the first becomes the
// reason. Safe on any thread: every VTK object used here is created and used by the caller's.
#pragma once

#include <vtkCallbackCommand.h>
#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

class vtkAlgorithm;

namespace fleetscope::render {

// Takes the error and warning messages of the algorithms it watches (and of their executives)
// instead of VTK's output window; keeps the first error.
class VtkMessageCatcher {
 public:
  VtkMessageCatcher();
  void watch(vtkAlgorithm* algorithm);
  const std::string& first_error() const { return first_error_; }

 private:
  static void on_message(vtkObject* caller, unsigned long event, void* client, void* call);
  vtkNew<vtkCallbackCommand> command_;
  std::string first_error_;
};

inline constexpr std::uint64_t kMaxMeshFileBytes = 256ull << 20;  // 256 MiB
inline constexpr std::uint64_t kMaxMeshTriangles = 5'000'000;    // a 256 MiB binary STL holds 5.4 M
// Vertices (and OBJ texture coordinates, normals): more than three a triangle are unused.
inline constexpr std::uint64_t kMaxMeshPoints = 3 * kMaxMeshTriangles;

enum class MeshFormat { kStl, kObj, kPly };

enum class MeshProblem {
  kNone,
  kUnknownFormat,     // not .stl, .obj or .ply
  kCannotOpen,        // missing, unreadable, a dangling link
  kNotRegularFile,    // a FIFO, directory, device, socket
  kTooLarge,          // over kMaxMeshFileBytes
  kMalformed,         // structure wrong: header, counts against size, list lengths, numbers
  kIndexOutOfRange,   // a face (or line, point) names a vertex the file does not have
  kNotFinite,         // a NaN or infinite coordinate
  kTooManyTriangles,  // over kMaxMeshTriangles (or kMaxMeshPoints vertices)
  kEmpty,             // no vertices or no faces
  kReaderFailed,      // VTK's reader reported an error
  kCancelled,         // the library was destroyed while reading
};

const char* to_string(MeshProblem problem);

struct MeshCheck {
  MeshProblem problem = MeshProblem::kNone;
  std::string reason;                     // what is wrong and where, for the log
  vtkSmartPointer<vtkPolyData> polydata;  // the reader's checked output; null when refused
  std::uint64_t points = 0;
  std::uint64_t triangles = 0;            // after triangulation (a polygon of n points makes n - 2)
  bool ok() const { return problem == MeshProblem::kNone; }
};

// The format by the file name's extension (case-insensitive), false when not a mesh we read.
bool mesh_format_of(const std::string& path, MeshFormat& format);

// Reads and checks one mesh file. Never throws. `cancel` (optional) is checked between stages.
MeshCheck read_mesh_file(const std::string& path, const std::atomic<bool>* cancel = nullptr);

// The stages, for tests: the bytes' structure, and the reader's output before any filter.
MeshCheck check_mesh_bytes(MeshFormat format, std::string_view bytes);
MeshCheck check_polydata(vtkPolyData& data);

}  // namespace fleetscope::render
