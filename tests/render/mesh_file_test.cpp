// Hostile and broken mesh files: each is refused with its reason before VTK's readers or filters
// can crash, hang or allocate on its say-so; good files still read with the right counts; a scene
// over a segment that names bad meshes draws unit boxes instead and warns once per file.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vtkCellArray.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkRenderer.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include "fleetscope/render/fleet_scene.hpp"
#include "fleetscope/render/offscreen_view.hpp"
#include "fleetscope/sim_bridge/sim_writer.hpp"
#include "geometry_library.hpp"
#include "mesh_check.hpp"
#include "support/child_process.hpp"

using namespace fleetscope;
using namespace fleetscope::render;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards.
class MeshFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("fleetscope-mesh-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

std::string binary_stl(const std::vector<std::array<float, 9>>& triangles, std::uint32_t claimed) {
  std::string s(80, ' ');
  s.replace(0, 11, "solid cad  ");  // a binary STL may start with "solid"
  s.append(reinterpret_cast<const char*>(&claimed), 4);
  for (const auto& t : triangles) {
    const float normal[3] = {0, 0, 1};
    s.append(reinterpret_cast<const char*>(normal), 12);
    s.append(reinterpret_cast<const char*>(t.data()), 36);
    s.append(2, '\0');
  }
  return s;
}
std::string binary_stl(const std::vector<std::array<float, 9>>& triangles) {
  return binary_stl(triangles, static_cast<std::uint32_t>(triangles.size()));
}

const std::string kGoodObj = "# a unit square and a triangle\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\n"
                             "vt 0 0\nvt 1 1\nvn 0 0 1\nf 1/1/1 2/2/1 3/2/1 4/1/1\nf -5//1 -4//1 -1//1\n";

const std::string kAsciiPlyHeader = "ply\nformat ascii 1.0\ncomment test\nelement vertex 4\nproperty float x\n"
                                    "property float y\nproperty float z\nelement face 2\n"
                                    "property list uchar int vertex_indices\nend_header\n";

std::string binary_ply(std::uint32_t claimed_vertices, const std::vector<float>& xyz,
                       const std::vector<std::vector<std::int32_t>>& faces, std::uint8_t count_override = 0) {
  std::string s = "ply\nformat binary_little_endian 1.0\nelement vertex " + std::to_string(claimed_vertices) +
                  "\nproperty float x\nproperty float y\nproperty float z\nelement face " +
                  std::to_string(faces.size()) + "\nproperty list uchar int vertex_indices\nend_header\n";
  s.append(reinterpret_cast<const char*>(xyz.data()), xyz.size() * sizeof(float));
  for (const auto& f : faces) {
    const auto n = count_override ? count_override : static_cast<std::uint8_t>(f.size());
    s.push_back(static_cast<char>(n));
    s.append(reinterpret_cast<const char*>(f.data()), f.size() * 4);
  }
  return s;
}

// Reads on another thread so that a file that would block fails the test instead of hanging it.
MeshCheck read_guarded(const std::string& path) {
  auto result = std::async(std::launch::async, [path] { return read_mesh_file(path); });
  if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "reading " << path << " blocked";
    // Release a reader blocked in open() of a FIFO, so the test can end.
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  return result.get();
}

#define EXPECT_REFUSED(check, expected_problem, words)                                       \
  do {                                                                                       \
    const MeshCheck& c_ = (check);                                                           \
    EXPECT_EQ(c_.problem, expected_problem) << to_string(c_.problem) << ": " << c_.reason;   \
    EXPECT_NE(c_.reason.find(words), std::string::npos) << c_.reason;                        \
    EXPECT_EQ(c_.polydata, nullptr);                                                         \
  } while (false)

}  // namespace

// ---- refused -----------------------------------------------------------------------------------

TEST_F(MeshFileTest, ObjFaceIndexOutOfRangeIsRefusedBeforeTheReader) {
  const auto path = write("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 999999999\n");
  EXPECT_REFUSED(read_mesh_file(path), MeshProblem::kIndexOutOfRange, "999999999");
}

TEST_F(MeshFileTest, ObjRelativeIndicesCountBackFromTheLatestVertex) {
  // -1 is the latest vertex so far: the second face reaches one vertex too far back.
  EXPECT_TRUE(read_mesh_file(write("rel.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\n")).ok());
  EXPECT_REFUSED(read_mesh_file(write("relbad.obj", "v 0 0 0\nv 1 0 0\nf -2 -1 -3\nv 0 1 0\n")),
                 MeshProblem::kIndexOutOfRange, "-3");
  EXPECT_REFUSED(read_mesh_file(write("zero.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 0\n")), MeshProblem::kMalformed,
                 "not a valid index");
}

TEST_F(MeshFileTest, ObjTextureAndNormalIndicesAreCheckedToo) {
  // VTK 9.1's reader itself crashes on a texture coordinate index past the end.
  EXPECT_REFUSED(read_mesh_file(write("vt.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/6 3/1\n")),
                 MeshProblem::kIndexOutOfRange, "texture coordinate index 6");
  EXPECT_REFUSED(read_mesh_file(write("vn.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//1 3//9\n")),
                 MeshProblem::kIndexOutOfRange, "normal index 9");
  EXPECT_REFUSED(read_mesh_file(write("l.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nl 1 5\n")),
                 MeshProblem::kIndexOutOfRange, "vertex index 5");
}

TEST_F(MeshFileTest, PlyClaimingTwoBillionVerticesIsRefusedFromItsHeader) {
  const std::vector<float> xyz{0, 0, 0, 1, 0, 0, 0, 1, 0};
  EXPECT_REFUSED(read_mesh_file(write("huge.ply", binary_ply(2'000'000'000, xyz, {{0, 1, 2}}))), MeshProblem::kMalformed,
                 "claims 2000000000 items");
  std::string ascii = "ply\nformat ascii 1.0\nelement vertex 2000000000\nproperty float x\nproperty float y\n"
                      "property float z\nend_header\n0 0 0\n";
  EXPECT_REFUSED(read_mesh_file(write("huge_ascii.ply", ascii)), MeshProblem::kMalformed, "claims 2000000000 items");
  // Past what VTK's int counts hold.
  ascii.replace(ascii.find("2000000000"), 10, "99999999999");
  EXPECT_REFUSED(read_mesh_file(write("huger.ply", ascii)), MeshProblem::kMalformed, "99999999999");
}

TEST_F(MeshFileTest, PlyListsAndFaceIndicesAreWalked) {
  const std::vector<float> xyz{0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0};
  // A list that says 200 values and has 3 (VTK 9.1's ASCII reader reads past its words).
  EXPECT_REFUSED(read_mesh_file(write("short.ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n200 1 2 3\n")),
                 MeshProblem::kMalformed, "says 200 values");
  EXPECT_REFUSED(read_mesh_file(write("idx.ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 2 7\n")),
                 MeshProblem::kIndexOutOfRange, "vertex index 7");
  EXPECT_REFUSED(read_mesh_file(write("neg.ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 2 -1\n")),
                 MeshProblem::kIndexOutOfRange, "vertex index -1");
  EXPECT_REFUSED(read_mesh_file(write("blank.ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n\n0 1 0\n1 1 0\n3 0 1 2\n3 1 2 3\n")),
                 MeshProblem::kMalformed, "too few values");
  EXPECT_REFUSED(read_mesh_file(write("bidx.ply", binary_ply(4, xyz, {{0, 1, 2}, {1, 2, 4}}))), MeshProblem::kIndexOutOfRange,
                 "vertex index 4");
  // A binary list whose count runs past the end of the file.
  EXPECT_REFUSED(read_mesh_file(write("blist.ply", binary_ply(4, xyz, {{0, 1, 2}, {1, 2, 3}}, 250))),
                 MeshProblem::kMalformed, "past the end");
}

TEST_F(MeshFileTest, PlyFilesVtksReaderWouldMisreadAreRefused) {
  // Each of these crashes VTK 9.1's PLY reader (found by the mutation test below).
  const std::string body = "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 3 2\n";
  std::string no_z = kAsciiPlyHeader;
  no_z.replace(no_z.find("property float z\n"), 17, "");
  EXPECT_REFUSED(read_mesh_file(write("noz.ply", no_z + "0 0\n1 0\n0 1\n1 1\n3 0 1 2\n3 1 3 2\n")), MeshProblem::kMalformed,
                 "vertices have no 'z'");
  std::string blank = kAsciiPlyHeader;
  blank.insert(blank.find("element vertex"), "\n");
  EXPECT_REFUSED(read_mesh_file(write("blank_header.ply", blank + body)), MeshProblem::kMalformed, "empty");
  std::string formfeed = kAsciiPlyHeader;
  formfeed[formfeed.find("vertex 4") + 6] = '\f';
  EXPECT_REFUSED(read_mesh_file(write("formfeed.ply", formfeed + body)), MeshProblem::kMalformed, "control character");
  EXPECT_REFUSED(read_mesh_file(write("no_newline.ply", kAsciiPlyHeader + body.substr(0, body.size() - 1))),
                 MeshProblem::kMalformed, "ends inside element 'face'");
  const std::string faces_first = "ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int vertex_indices\n"
                                  "element vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
                                  "3 0 1 2\n0 0 0\n1 0 0\n0 1 0\n";
  EXPECT_REFUSED(read_mesh_file(write("faces_first.ply", faces_first)), MeshProblem::kMalformed, "faces before the vertices");
  std::string other = kAsciiPlyHeader;
  other.insert(other.find("element face"), "element edge 1\nproperty int a\n");
  EXPECT_REFUSED(read_mesh_file(write("edge.ply", other + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n7\n3 0 1 2\n3 1 3 2\n")),
                 MeshProblem::kMalformed, "element 'edge' before");
  std::string list_x = kAsciiPlyHeader;
  list_x.replace(list_x.find("property float x"), 16, "property list uchar float x");
  EXPECT_REFUSED(read_mesh_file(write("list_x.ply", list_x + body)), MeshProblem::kMalformed, "not a list");
  // After the faces, an element VTK does not read is fine.
  EXPECT_TRUE(read_mesh_file(write("after.ply", kAsciiPlyHeader.substr(0, kAsciiPlyHeader.size() - 11) +
                                                     "element edge 1\nproperty int a\nend_header\n" + body + "7\n"))
                  .ok());
}

TEST_F(MeshFileTest, BinaryStlSizeMustMatchItsTriangleCount) {
  const std::array<float, 9> t{0, 0, 0, 1, 0, 0, 0, 1, 0};
  std::string bytes = binary_stl({t, t}, 100'000'000);
  bytes[0] = 'x';  // not "solid": not mistaken for text
  EXPECT_REFUSED(read_mesh_file(write("liar.stl", bytes)), MeshProblem::kMalformed, "100000000 triangles");
  EXPECT_REFUSED(read_mesh_file(write("tiny.stl", "\x01\x02")), MeshProblem::kMalformed, "too short");
}

TEST_F(MeshFileTest, AFifoIsRefusedWithoutBlocking) {
  const std::string path = (dir_ / "pipe.stl").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_REFUSED(read_guarded(path), MeshProblem::kNotRegularFile, "FIFO");
}

TEST_F(MeshFileTest, DirectoriesAndDevicesAreRefused) {
  fs::create_directories(dir_ / "dir.obj");
  EXPECT_REFUSED(read_guarded((dir_ / "dir.obj").string()), MeshProblem::kNotRegularFile, "directory");
  // /dev/zero by a name with a mesh extension: never opened, never read.
  const std::string link = (dir_ / "zero.ply").string();
  fs::create_symlink("/dev/zero", link);
  EXPECT_REFUSED(read_guarded(link), MeshProblem::kNotRegularFile, "character device");
}

TEST_F(MeshFileTest, SymbolicLinksAreFollowedAndTheirTargetChecked) {
  // Followed on purpose (ROS install trees link their meshes): the target is what is checked.
  const auto target = write("real.obj", kGoodObj);
  fs::create_symlink(target, dir_ / "link.obj");
  const MeshCheck good = read_mesh_file((dir_ / "link.obj").string());
  EXPECT_TRUE(good.ok()) << good.reason;
  EXPECT_EQ(good.triangles, 3u);
  const std::string fifo = (dir_ / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_symlink(fifo, dir_ / "to_fifo.stl");
  EXPECT_REFUSED(read_guarded((dir_ / "to_fifo.stl").string()), MeshProblem::kNotRegularFile, "FIFO");
  fs::create_symlink(dir_ / "nothing.obj", dir_ / "dangling.obj");
  EXPECT_REFUSED(read_mesh_file((dir_ / "dangling.obj").string()), MeshProblem::kCannotOpen, "cannot open");
}

TEST_F(MeshFileTest, MissingFilesUnknownFormatsAndOversizedFilesAreRefused) {
  EXPECT_REFUSED(read_mesh_file((dir_ / "none.stl").string()), MeshProblem::kCannotOpen, "No such file");
  EXPECT_REFUSED(read_mesh_file(write("mesh.dae", "<COLLADA/>")), MeshProblem::kUnknownFormat, ".stl");
  const std::string big = (dir_ / "big.stl").string();
  {
    std::ofstream(big).put('x');
  }
  fs::resize_file(big, kMaxMeshFileBytes + 1);  // sparse: costs no disk
  EXPECT_REFUSED(read_mesh_file(big), MeshProblem::kTooLarge, "256.0 MiB limit");
}

TEST_F(MeshFileTest, NonFiniteVerticesAreRefused) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Binary: VTK reads the NaN; the check after the reader refuses it, before any filter.
  EXPECT_REFUSED(read_mesh_file(write("nan.stl", binary_stl({{0, 0, 0, 1, 0, 0, nan, 1, 0}}))), MeshProblem::kNotFinite,
                 "vertex");
  EXPECT_REFUSED(read_mesh_file(write("nan.ply", binary_ply(3, {0, 0, 0, 1, 0, 0, 0, nan, 0}, {{0, 1, 2}}))),
                 MeshProblem::kNotFinite, "not finite");
  // Text: refused while scanning.
  EXPECT_REFUSED(read_mesh_file(write("nan.obj", "v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")), MeshProblem::kNotFinite,
                 "vertex 3 is not finite");
  EXPECT_REFUSED(read_mesh_file(write("inf.obj", "v 0 0 0\nv 1 0 0\nv 1e999 1 0\nf 1 2 3\n")), MeshProblem::kNotFinite,
                 "not finite");
}

TEST(MeshCheck, TheReadersOutputIsCheckedBeforeAnyFilter) {
  vtkNew<vtkPolyData> data;
  vtkNew<vtkPoints> points;
  points->InsertNextPoint(0, 0, 0);
  points->InsertNextPoint(1, 0, 0);
  points->InsertNextPoint(0, 1, 0);
  data->SetPoints(points);
  vtkNew<vtkCellArray> polys;
  const vtkIdType bad[3] = {0, 1, 7};
  polys->InsertNextCell(3, bad);
  data->SetPolys(polys);
  EXPECT_REFUSED(check_polydata(*data), MeshProblem::kIndexOutOfRange, "refers to point 7 of 3");
  const vtkIdType good[3] = {0, 1, 2};
  vtkNew<vtkCellArray> fine;
  fine->InsertNextCell(3, good);
  data->SetPolys(fine);
  EXPECT_TRUE(check_polydata(*data).ok());
  points->SetPoint(1, std::numeric_limits<double>::infinity(), 0, 0);
  EXPECT_REFUSED(check_polydata(*data), MeshProblem::kNotFinite, "vertex 1");
  vtkNew<vtkPolyData> empty;
  EXPECT_REFUSED(check_polydata(*empty), MeshProblem::kEmpty, "no vertices");
}

// ---- accepted ----------------------------------------------------------------------------------

TEST_F(MeshFileTest, GoodFilesReadWithTheirPointAndTriangleCounts) {
  const MeshCheck obj = read_mesh_file(write("good.obj", kGoodObj));
  ASSERT_TRUE(obj.ok()) << obj.reason;
  EXPECT_EQ(obj.triangles, 3u);  // a quad and a triangle
  EXPECT_GE(obj.points, 5u);     // VTK may duplicate vertices for per-face texture coordinates
  EXPECT_EQ(obj.polydata->GetNumberOfPolys(), 2);

  const std::array<float, 9> a{0, 0, 0, 1, 0, 0, 1, 1, 0}, b{0, 0, 0, 1, 1, 0, 0, 1, 0};
  const MeshCheck stl = read_mesh_file(write("good.stl", binary_stl({a, b})));
  ASSERT_TRUE(stl.ok()) << stl.reason;
  EXPECT_EQ(stl.triangles, 2u);
  EXPECT_EQ(stl.points, 4u);  // shared corners merged
  const MeshCheck text_stl = read_mesh_file(write(
      "text.STL", "solid plate\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 1 1 0\n"
                  " endloop\nendfacet\nendsolid plate\n"));
  ASSERT_TRUE(text_stl.ok()) << text_stl.reason;
  EXPECT_EQ(text_stl.triangles, 1u);
  EXPECT_EQ(text_stl.points, 3u);

  const MeshCheck ply = read_mesh_file(write("good.ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 3 2\n"));
  ASSERT_TRUE(ply.ok()) << ply.reason;
  EXPECT_EQ(ply.points, 4u);
  EXPECT_EQ(ply.triangles, 2u);
  const MeshCheck bply = read_mesh_file(write("good_bin.ply", binary_ply(4, {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0}, {{0, 1, 3, 2}})));
  ASSERT_TRUE(bply.ok()) << bply.reason;
  EXPECT_EQ(bply.points, 4u);
  EXPECT_EQ(bply.triangles, 2u);
}

TEST_F(MeshFileTest, TheLibraryDrawsABoxUntilTheMeshIsReadAndKeepsItForABadOne) {
  GeometryLibrary library;
  GeometryKey good, bad, box;
  good.shape = bad.shape = static_cast<std::uint32_t>(ipc::Shape::kMesh);
  good.mesh = write("good.obj", kGoodObj);
  bad.mesh = write("bad.obj", "v 0 0 0\nf 1 2 3\n");
  box.shape = static_cast<std::uint32_t>(ipc::Shape::kBox);
  const auto placeholder = library.get(good);
  EXPECT_EQ(placeholder, library.get(box)) << "a unit box until read";
  EXPECT_EQ(library.get(bad), library.get(box));
  ASSERT_TRUE(library.wait_for_loads(std::chrono::seconds(30)));
  EXPECT_EQ(library.loading(), 2u) << "finished, not handed over yet";
  const auto ready = library.poll_ready();
  ASSERT_EQ(ready.size(), 1u) << "only the good mesh replaces its box";
  EXPECT_EQ(ready[0].first, good);
  EXPECT_EQ(library.get(good), ready[0].second);
  EXPECT_EQ(ready[0].second->GetNumberOfPolys(), 3) << "triangulated";
  EXPECT_EQ(library.get(bad), library.get(box));
  EXPECT_EQ(library.loading(), 0u);
  EXPECT_TRUE(library.poll_ready().empty());
}

TEST_F(MeshFileTest, DestroyingTheLibraryWhileItReadsIsSafe) {
  // Many queued files: the destructor stops the worker and abandons what is left.
  const auto path = write("good.obj", kGoodObj);
  auto library = std::make_unique<GeometryLibrary>();
  for (int i = 0; i < 50; ++i) {
    GeometryKey k;
    k.shape = static_cast<std::uint32_t>(ipc::Shape::kMesh);
    k.mesh = (dir_ / ("m" + std::to_string(i) + ".obj")).string();
    fs::copy_file(path, k.mesh);
    library->get(k);
  }
  library.reset();
  SUCCEED();
}

// ---- in a scene --------------------------------------------------------------------------------

namespace {

// Counts the log lines that mention a text.
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::size_t count(const std::string& text) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& l : lines_) n += l.find(text) != std::string::npos;
    return n;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

bool is_background(Rgb c) { return c.r < 40 && c.g < 40 && c.b < 50; }
bool is_reddish(Rgb c) { return c.r > 80 && c.r > 2 * c.g && c.r > 2 * c.b; }
bool is_greenish(Rgb c) { return c.g > 80 && c.g > 2 * c.r && c.g > 2 * c.b; }

std::array<int, 2> to_display(OffscreenView& view, double x, double y) {
  vtkRenderer* ren = view.renderer();
  ren->SetWorldPoint(x, y, 0.0, 1.0);
  ren->WorldToDisplay();
  double d[3];
  ren->GetDisplayPoint(d);
  return {static_cast<int>(std::lround(d[0])), static_cast<int>(std::lround(d[1]))};
}

}  // namespace

TEST_F(MeshFileTest, ASceneNamingBadMeshesDrawsBoxesAndWarnsOncePerFile) {
  auto sink = std::make_shared<CountingSink>();
  spdlog::default_logger()->sinks().push_back(sink);
  const std::string bad_obj = write("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 999999999\n");
  const std::string fifo = (dir_ / "pipe.ply").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string huge_ply = write("huge.ply", binary_ply(2'000'000'000, {0, 0, 0}, {}));
  // A 2 x 2 m plate, read last: once it is drawn, the bad files before it have been dealt with.
  const std::string plate = write("plate.stl", binary_stl({{-1, -1, 0.05f, 1, -1, 0.05f, 1, 1, 0.05f},
                                                           {-1, -1, 0.05f, 1, 1, 0.05f, -1, 1, 0.05f}}));
  WriterConfig c;
  c.name = fleetscope::testing::unique_name("render.badmesh");
  c.max_robots = 5;
  c.max_links = 1;
  SimWriter writer(c);
  const std::vector<std::string> paths{bad_obj, fifo, huge_ply, bad_obj, plate};
  for (std::size_t i = 0; i < paths.size(); ++i) {
    LinkVisualDesc v;
    v.shape = ipc::Shape::kMesh;
    v.mesh_path = paths[i];
    v.scale = i + 1 == paths.size() ? std::array<float, 3>{0.5f, 0.5f, 1.0f} : std::array<float, 3>{0.8f, 0.8f, 0.8f};
    v.rgba = i + 1 == paths.size() ? std::array<std::uint8_t, 4>{30, 200, 30, 255} : std::array<std::uint8_t, 4>{220, 30, 30, 255};
    const auto r = writer.spawn_robot("r" + std::to_string(i), writer.add_model(ModelDesc{"m" + std::to_string(i), {v}}));
    const double pose[7] = {2.0 * static_cast<double>(i), 0, 0, 0, 0, 0, 1};
    writer.set_robot_poses(r, std::span<const double>(pose, 7));
  }
  writer.publish(0.0);

  OffscreenView view(200, 200);
  FleetScene scene(view.renderer());
  scene.attach(c.name);
  scene.update();
  view.frame_bounds({-1, 9, -2, 2, -0.5, 0.5}, true);
  view.render();
  // Until the plate is read its key draws a box too: 0.5 x 0.5 m, so (8.4, 0.4) is background.
  const auto plate_in = to_display(view, 8.4, 0.4);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!is_greenish(view.pixel(plate_in[0], plate_in[1])) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    scene.update();
    view.render();
  }
  ASSERT_TRUE(is_greenish(view.pixel(plate_in[0], plate_in[1]))) << "the good mesh replaced its box";
  for (int i = 0; i < 4; ++i) {
    const auto centre = to_display(view, 2.0 * i, 0.0), corner = to_display(view, 2.0 * i + 0.3, 0.3),
               outside = to_display(view, 2.0 * i + 0.6, 0.6);
    EXPECT_TRUE(is_reddish(view.pixel(centre[0], centre[1]))) << "robot " << i << " draws its box";
    EXPECT_TRUE(is_reddish(view.pixel(corner[0], corner[1]))) << "robot " << i << ": a 0.8 m box";
    EXPECT_TRUE(is_background(view.pixel(outside[0], outside[1]))) << "robot " << i;
  }
  EXPECT_EQ(scene.instance_count(), 5u);
  // The picked bounds of the plate follow its mesh, not the box it replaced.
  const auto pick = scene.pick(plate_in[0], plate_in[1]);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->robot, "r4");
  // One warning per bad file (bad.obj is named by two robots), naming the file and the reason.
  EXPECT_EQ(sink->count(bad_obj), 1u);
  EXPECT_EQ(sink->count("999999999"), 1u);
  EXPECT_EQ(sink->count(fifo), 1u);
  EXPECT_EQ(sink->count(huge_ply), 1u);
  EXPECT_EQ(sink->count(plate), 0u);
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::find(sinks.begin(), sinks.end(), sink));
}

// ---- mutations ---------------------------------------------------------------------------------

TEST_F(MeshFileTest, MutatedFilesAreReadOrRefusedNeverACrash) {
  // Good files with random bytes, numbers and words spliced in, read through the whole path
  // (checks, reader, checks, triangles and normals): each is drawn or refused, nothing else.
  const std::array<float, 9> a{0, 0, 0, 1, 0, 0, 1, 1, 0}, b{0, 0, 0, 1, 1, 0, 0, 1, 0};
  const std::vector<std::pair<std::string, std::string>> seeds{
      {"obj", kGoodObj},
      {"ply", kAsciiPlyHeader + "0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 3 2\n"},
      {"ply", binary_ply(4, {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0}, {{0, 1, 3, 2}, {0, 1, 2}})},
      {"stl", binary_stl({a, b})},
      {"stl", "solid p\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 1 1 0\n endloop\nendfacet\n"
              "endsolid p\n"}};
  const char* const words[] = {"-1", "0", "999", "/", "//", "\n", " ", "nan", "1e999", "-2147483648", "4294967295",
                               "f", "v", "vt", "vn", "l", "p", "element", "property list", "255", "\0", "solid", "3"};
  // FLEETSCOPE_MESH_MUTATIONS and FLEETSCOPE_MESH_SEED run more or other ones by hand.
  const char* count_env = std::getenv("FLEETSCOPE_MESH_MUTATIONS");
  const char* seed_env = std::getenv("FLEETSCOPE_MESH_SEED");
  const int mutations = count_env ? std::atoi(count_env) : 1500;
  std::uint64_t state = seed_env ? std::strtoull(seed_env, nullptr, 10) | 1 : 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  };
  int read = 0, refused = 0;
  for (int i = 0; i < mutations; ++i) {
    const auto& [ext, seed] = seeds[next() % seeds.size()];
    std::string bytes = seed;
    for (int m = 1 + static_cast<int>(next() % 4); m > 0 && !bytes.empty(); --m) {
      const std::size_t at = next() % bytes.size();
      switch (next() % 4) {
        case 0: bytes[at] = static_cast<char>(next()); break;
        case 1: bytes.insert(at, words[next() % std::size(words)]); break;
        case 2: bytes.erase(at, next() % 8); break;
        case 3: bytes.resize(at); break;
      }
    }
    const std::string path = write("m." + ext, bytes);
    GeometryLibrary library;
    GeometryKey key;
    key.shape = static_cast<std::uint32_t>(ipc::Shape::kMesh);
    key.mesh = path;
    library.get(key);
    ASSERT_TRUE(library.wait_for_loads(std::chrono::seconds(30)));
    library.poll_ready().empty() ? ++refused : ++read;
  }
  std::printf("%d mutated files read, %d refused\n", read, refused);
  EXPECT_GT(read, 0);
  EXPECT_GT(refused, 0);
}
