#include "mesh_check.hpp"

#include "fleetscope/ipc/posix_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vtkAbstractPolyDataReader.h>
#include <vtkCellArray.h>
#include <vtkCellArrayIterator.h>
#include <vtkCommand.h>
#include <vtkExecutive.h>
#include <vtkOBJReader.h>
#include <vtkPLYReader.h>
#include <vtkPoints.h>
#include <vtkSTLReader.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace fleetscope::render {
namespace {

MeshCheck refuse(MeshProblem problem, std::string reason) {
  MeshCheck c;
  c.problem = problem;
  c.reason = std::move(reason);
  return c;
}

std::string errno_text(int e) { return std::strerror(e); }

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// Resolves `path`, refuses anything but a regular file of at most kMaxMeshFileBytes and reads it.
MeshCheck read_regular_file(const std::string& path, std::string& bytes) {
  // Links are followed on purpose (ROS install trees link meshes); what is opened is the resolved
  // file, with O_NOFOLLOW so that it cannot have been replaced by a link since.
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) return refuse(MeshProblem::kCannotOpen, "cannot open: " + errno_text(errno));
  struct stat before {};
  if (::lstat(resolved, &before) != 0) return refuse(MeshProblem::kCannotOpen, "cannot open: " + errno_text(errno));
  // Refused before open(): opening a device can have effects of its own.
  if (!S_ISREG(before.st_mode)) {
    return refuse(MeshProblem::kNotRegularFile, std::string(ipc::file_kind(before.st_mode)) + ", not a regular file");
  }
  const ipc::FileDescriptor fd(::open(resolved, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    const int e = errno;
    return refuse(e == ELOOP ? MeshProblem::kNotRegularFile : MeshProblem::kCannotOpen,
                  e == ELOOP ? "replaced by a symbolic link while being opened" : "cannot open: " + errno_text(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return refuse(MeshProblem::kCannotOpen, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    return refuse(MeshProblem::kNotRegularFile, "replaced while being opened");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > kMaxMeshFileBytes) {
    return refuse(MeshProblem::kTooLarge, mib(size) + " is over the " + mib(kMaxMeshFileBytes) + " limit for a mesh file");
  }
  bytes.clear();
  bytes.resize(static_cast<std::size_t>(size) + 1);  // one more: a file that grows is noticed
  std::size_t got = 0;
  for (;;) {
    if (got == bytes.size()) {
      if (bytes.size() > kMaxMeshFileBytes) {
        return refuse(MeshProblem::kTooLarge, "grew over the " + mib(kMaxMeshFileBytes) + " limit while being read");
      }
      bytes.resize(std::min<std::size_t>(bytes.size() * 2, kMaxMeshFileBytes + 1));
    }
    const ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return refuse(MeshProblem::kCannotOpen, "cannot read: " + errno_text(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return {};
}

// ---- text helpers ------------------------------------------------------------------------------

// What VTK's OBJ and PLY readers split words on. Any other control character in a line is
// refused (has_control): the readers and this check must see the same words.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool has_control(std::string_view line) {
  return std::any_of(line.begin(), line.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\r';
  });
}

// Splits one line into words (spaces, tabs, carriage returns).
void split_words(std::string_view line, std::vector<std::string_view>& words) {
  words.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
}

// Walks the lines of a buffer; the last may lack its newline.
struct LineReader {
  std::string_view text;
  std::size_t pos = 0;
  std::uint64_t number = 0;
  bool terminated = false;  // the line read last ended with a newline
  bool next(std::string_view& line) {
    if (pos >= text.size()) return false;
    const std::size_t end = text.find('\n', pos);
    terminated = end != std::string_view::npos;
    const std::size_t stop = terminated ? end : text.size();
    line = text.substr(pos, stop - pos);
    pos = terminated ? end + 1 : text.size();
    ++number;
    return true;
  }
};

bool parse_int(std::string_view s, long long& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// A number as the readers take it; one too large for a double reads as infinite.
bool parse_double(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ptr != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) out = std::strtod(std::string(s).c_str(), nullptr);  // +-HUGE_VAL or ~0
  return ec == std::errc{} || ec == std::errc::result_out_of_range;
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 40)) out += (c >= 32 && c < 127) ? c : '?';
  return out + (s.size() > 40 ? "...'" : "'");
}

std::string at_line(std::uint64_t line) { return "line " + std::to_string(line) + ": "; }

// ---- OBJ ---------------------------------------------------------------------------------------

// OBJ: v, vt and vn must hold finite numbers; every index of f, l and p must name an existing
// vertex, texture coordinate or normal (VTK 9.1's reader does not check them: an index past the
// end crashes it or the filters after it). Positive indices count from the file's first entry,
// negative ones back from the latest.
MeshCheck check_obj(std::string_view text) {
  std::uint64_t total[3] = {0, 0, 0};  // v, vt, vn
  std::vector<std::string_view> words;
  const char* const kinds[3] = {"vertex", "texture coordinate", "normal"};
  const char* const plural[3] = {"vertices", "texture coordinates", "normals"};
  // First pass: counts, and the numbers.
  {
    LineReader lines{text};
    std::string_view line;
    while (lines.next(line)) {
      if (has_control(line)) return refuse(MeshProblem::kMalformed, at_line(lines.number) + "a control character");
      split_words(line, words);
      if (words.empty()) continue;
      int kind = -1, need = 0;
      if (words[0] == "v") kind = 0, need = 3;
      else if (words[0] == "vt") kind = 1, need = 2;
      else if (words[0] == "vn") kind = 2, need = 3;
      if (kind < 0) continue;
      if (words.size() < static_cast<std::size_t>(need) + 1) {
        return refuse(MeshProblem::kMalformed, at_line(lines.number) + kinds[kind] + " needs " + std::to_string(need) + " numbers");
      }
      for (int i = 1; i <= need; ++i) {
        double v = 0.0;
        if (!parse_double(words[i], v)) {
          return refuse(MeshProblem::kMalformed, at_line(lines.number) + quoted(words[i]) + " is not a number");
        }
        if (!std::isfinite(v)) {
          return refuse(MeshProblem::kNotFinite, at_line(lines.number) + kinds[kind] + " " + std::to_string(total[kind] + 1) + " is not finite");
        }
      }
      if (++total[kind] > kMaxMeshPoints) {
        return refuse(MeshProblem::kTooManyTriangles, std::string("over ") + std::to_string(kMaxMeshPoints) + " " + plural[kind]);
      }
    }
  }
  if (total[0] == 0) return refuse(MeshProblem::kEmpty, "no vertices");
  // Second pass: indices.
  std::uint64_t seen[3] = {0, 0, 0};
  std::uint64_t triangles = 0;
  LineReader lines{text};
  std::string_view line;
  while (lines.next(line)) {
    split_words(line, words);
    if (words.empty()) continue;
    if (words[0] == "v") ++seen[0];
    else if (words[0] == "vt") ++seen[1];
    else if (words[0] == "vn") ++seen[2];
    const bool face = words[0] == "f";
    if (!face && words[0] != "l" && words[0] != "p") continue;
    const std::size_t corners = words.size() - 1;
    if (corners < (face ? 3u : 1u)) {
      return refuse(MeshProblem::kMalformed, at_line(lines.number) + (face ? "a face needs 3 vertices" : "needs a vertex"));
    }
    if (face) triangles += corners - 2;
    for (std::size_t w = 1; w < words.size(); ++w) {
      // v, v/t, v/t/n or v//n
      std::string_view parts[3];
      std::size_t n = 0;
      std::string_view rest = words[w];
      for (;;) {
        const std::size_t slash = rest.find('/');
        if (n == 3) return refuse(MeshProblem::kMalformed, at_line(lines.number) + quoted(words[w]) + " has too many '/'");
        parts[n++] = rest.substr(0, slash);
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
      }
      for (std::size_t k = 0; k < n; ++k) {
        if (parts[k].empty() && k == 1 && n == 3) continue;  // v//n
        long long index = 0;
        if (!parse_int(parts[k], index) || index == 0) {
          return refuse(MeshProblem::kMalformed, at_line(lines.number) + quoted(words[w]) + " is not a valid index");
        }
        const std::uint64_t available = index > 0 ? total[k] : seen[k];
        const std::uint64_t magnitude = index > 0 ? static_cast<std::uint64_t>(index) : 0 - static_cast<std::uint64_t>(index);
        if (magnitude > available) {
          return refuse(MeshProblem::kIndexOutOfRange,
                        at_line(lines.number) + kinds[k] + " index " + std::to_string(index) + " is out of range: " +
                            std::to_string(available) + " " + (available == 1 ? kinds[k] : plural[k]) +
                            (index > 0 ? " in the file" : " so far"));
        }
      }
    }
    if (triangles > kMaxMeshTriangles) {
      return refuse(MeshProblem::kTooManyTriangles, "over " + std::to_string(kMaxMeshTriangles) + " triangles");
    }
  }
  if (triangles == 0) return refuse(MeshProblem::kEmpty, "no faces");
  MeshCheck ok;
  ok.points = total[0];
  ok.triangles = triangles;
  return ok;
}

// ---- STL ---------------------------------------------------------------------------------------

std::uint32_t le32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Binary STL: exactly 80 + 4 + 50 n bytes for the n triangles its header states. Otherwise it
// must be ASCII text ("solid ..." and no NUL byte).
MeshCheck check_stl(std::string_view bytes) {
  if (bytes.size() >= 84) {
    const std::uint64_t n = le32(bytes.data() + 80);
    if (84 + 50 * n == bytes.size()) {
      if (n == 0) return refuse(MeshProblem::kEmpty, "no faces");
      if (n > kMaxMeshTriangles) {
        return refuse(MeshProblem::kTooManyTriangles, std::to_string(n) + " triangles, over the " + std::to_string(kMaxMeshTriangles) + " limit");
      }
      MeshCheck ok;
      ok.triangles = n;
      return ok;
    }
  }
  std::size_t i = 0;
  while (i < bytes.size() && (is_space(bytes[i]) || bytes[i] == '\n')) ++i;
  const bool solid = bytes.substr(i, 5) == "solid";
  if (solid && bytes.find('\0') == std::string_view::npos) return {};
  if (bytes.size() < 84) return refuse(MeshProblem::kMalformed, "too short for a binary STL and not an ASCII STL ('solid ...')");
  const std::uint64_t n = le32(bytes.data() + 80);
  return refuse(MeshProblem::kMalformed, "binary STL header says " + std::to_string(n) + " triangles, which need " +
                                             std::to_string(84 + 50 * n) + " bytes, but the file has " +
                                             std::to_string(bytes.size()));
}

// ---- PLY ---------------------------------------------------------------------------------------

struct PlyType {
  const char* name;
  int size;
  bool integer;
  bool is_signed;
};
constexpr std::array<PlyType, 16> kPlyTypes{{
    {"char", 1, true, true},     {"int8", 1, true, true},     {"uchar", 1, true, false},  {"uint8", 1, true, false},
    {"short", 2, true, true},    {"int16", 2, true, true},    {"ushort", 2, true, false}, {"uint16", 2, true, false},
    {"int", 4, true, true},      {"int32", 4, true, true},    {"uint", 4, true, false},   {"uint32", 4, true, false},
    {"float", 4, false, true},   {"float32", 4, false, true}, {"double", 8, false, true}, {"float64", 8, false, true},
}};

const PlyType* ply_type(std::string_view name) {
  for (const auto& t : kPlyTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

struct PlyProperty {
  std::string name;
  const PlyType* type = nullptr;        // of the value, or of a list's items
  const PlyType* count_type = nullptr;  // lists only
  bool face_index = false;              // face vertex_indices: checked against the vertex count
};

struct PlyElement {
  std::string name;
  std::uint64_t count = 0;
  std::vector<PlyProperty> props;
};

// VTK's PLY code reads a line into a 4096-byte buffer; longer lines would be split mid-element.
constexpr std::size_t kPlyMaxLine = 4000;
// vtkPLYReader keeps a face's vertex count in a byte.
constexpr long long kPlyMaxFaceVertices = 255;
std::string too_many(long long n) {
  return "a face of " + std::to_string(n) + " vertices (VTK's reader takes at most " + std::to_string(kPlyMaxFaceVertices) + ")";
}

// Reads an integer of `type` at `p` in the file's byte order.
long long ply_integer(const char* p, const PlyType& type, bool big_endian) {
  std::uint64_t v = 0;
  for (int i = 0; i < type.size; ++i) {
    const auto byte = static_cast<unsigned char>(p[big_endian ? i : type.size - 1 - i]);
    v = (v << 8) | byte;
  }
  if (type.is_signed && type.size < 8 && (v >> (type.size * 8 - 1)) & 1) {
    v |= ~std::uint64_t{0} << (type.size * 8);
  }
  return static_cast<long long>(v);
}

// PLY: a header VTK can read; element counts against the bytes after the header (binary: the
// bytes every item needs at least; ASCII: two bytes a value at least), then every item walked:
// list lengths >= 0 and present, face vertex indices < the vertex count; ASCII lines within the
// reader's line buffer.
MeshCheck check_ply(std::string_view bytes) {
  LineReader lines{bytes};
  std::string_view line;
  std::vector<std::string_view> words;
  if (!lines.next(line)) return refuse(MeshProblem::kMalformed, "empty file");
  if (has_control(line)) return refuse(MeshProblem::kMalformed, "does not start with 'ply'");
  split_words(line, words);
  if (words.size() != 1 || words[0] != "ply") return refuse(MeshProblem::kMalformed, "does not start with 'ply'");
  enum { kNoFormat, kAscii, kBinaryLE, kBinaryBE } format = kNoFormat;
  std::vector<PlyElement> elements;
  bool ended = false;
  while (!ended && lines.next(line)) {
    const std::string where = "header " + at_line(lines.number);
    if (line.size() > kPlyMaxLine) return refuse(MeshProblem::kMalformed, where + "too long");
    if (has_control(line)) return refuse(MeshProblem::kMalformed, where + "a control character");
    split_words(line, words);
    if (words.empty()) return refuse(MeshProblem::kMalformed, where + "empty (VTK's reader fails on it)");
    if (words[0] == "end_header") {
      ended = true;
    } else if (words[0] == "format") {
      if (words.size() < 3) return refuse(MeshProblem::kMalformed, where + "format needs a kind and a version");
      if (words[1] == "ascii") format = kAscii;
      else if (words[1] == "binary_little_endian") format = kBinaryLE;
      else if (words[1] == "binary_big_endian") format = kBinaryBE;
      else return refuse(MeshProblem::kMalformed, where + "unknown format " + quoted(words[1]));
    } else if (words[0] == "element") {
      long long count = 0;
      if (words.size() < 3 || !parse_int(words[2], count) || count < 0) {
        return refuse(MeshProblem::kMalformed, where + "an element needs a name and a count >= 0");
      }
      if (count > INT_MAX) {
        return refuse(MeshProblem::kMalformed, where + "element '" + std::string(words[1]) + "' claims " +
                                                   std::to_string(count) + " items, over " + std::to_string(INT_MAX));
      }
      elements.push_back(PlyElement{std::string(words[1]), static_cast<std::uint64_t>(count), {}});
    } else if (words[0] == "property") {
      if (elements.empty()) return refuse(MeshProblem::kMalformed, where + "a property before any element");
      PlyProperty p;
      if (words.size() >= 2 && words[1] == "list") {
        if (words.size() < 5) return refuse(MeshProblem::kMalformed, where + "a list property needs two types and a name");
        p.count_type = ply_type(words[2]);
        p.type = ply_type(words[3]);
        p.name = words[4];
        if (!p.count_type || !p.type) return refuse(MeshProblem::kMalformed, where + "unknown type");
        if (!p.count_type->integer) return refuse(MeshProblem::kMalformed, where + "a list's count must be an integer type");
        p.face_index = elements.back().name == "face" && (p.name == "vertex_indices" || p.name == "vertex_index");
        if (p.face_index && !p.type->integer) return refuse(MeshProblem::kMalformed, where + "vertex indices must be integers");
      } else {
        if (words.size() < 3) return refuse(MeshProblem::kMalformed, where + "a property needs a type and a name");
        p.type = ply_type(words[1]);
        p.name = words[2];
        if (!p.type) return refuse(MeshProblem::kMalformed, where + "unknown type " + quoted(words[1]));
      }
      elements.back().props.push_back(std::move(p));
    } else if (words[0] != "comment" && words[0] != "obj_info") {
      return refuse(MeshProblem::kMalformed, where + "unknown keyword " + quoted(words[0]));
    }
  }
  if (!ended) return refuse(MeshProblem::kMalformed, "no 'end_header'");
  if (format == kNoFormat) return refuse(MeshProblem::kMalformed, "no 'format' line");
  const std::size_t body = bytes.size() - lines.pos;

  // What VTK 9.1's vtkPLYReader assumes without checking: one 'vertex' element with scalar x, y
  // and z (it goes on with a closed file otherwise); faces after the vertices (it builds them
  // from the points read so far) with a vertex_indices list; the properties it knows by name in
  // the shape it reads them; no other element before those two (it reads only those, in order).
  std::size_t vertex_at = elements.size(), face_at = elements.size();
  for (std::size_t i = 0; i < elements.size(); ++i) {
    std::size_t* at = elements[i].name == "vertex" ? &vertex_at : elements[i].name == "face" ? &face_at : nullptr;
    if (!at) continue;
    if (*at != elements.size()) return refuse(MeshProblem::kMalformed, "two '" + elements[i].name + "' elements");
    *at = i;
  }
  if (vertex_at == elements.size()) return refuse(MeshProblem::kMalformed, "no 'vertex' element");
  const auto find = [](const PlyElement& e, const char* name) -> const PlyProperty* {
    for (const auto& p : e.props) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  for (const char* axis : {"x", "y", "z"}) {
    if (!find(elements[vertex_at], axis)) return refuse(MeshProblem::kMalformed, std::string("vertices have no '") + axis + "'");
  }
  for (const char* name : {"x", "y", "z", "u", "v", "texture_u", "texture_v", "nx", "ny", "nz", "red", "green", "blue",
                           "alpha", "diffuse_red", "diffuse_green", "diffuse_blue"}) {
    if (const auto* p = find(elements[vertex_at], name); p && p->count_type) {
      return refuse(MeshProblem::kMalformed, std::string("vertex '") + name + "' must be a single value, not a list");
    }
  }
  if (face_at != elements.size()) {
    const PlyElement& face = elements[face_at];
    if (face_at < vertex_at && face.count > 0) return refuse(MeshProblem::kMalformed, "faces before the vertices");
    const bool indices = std::any_of(face.props.begin(), face.props.end(), [](const PlyProperty& p) { return p.face_index; });
    if (face.count > 0 && !indices) return refuse(MeshProblem::kMalformed, "faces have no 'vertex_indices' list");
    for (const auto& p : face.props) {
      const bool list = p.name == "vertex_indices" || p.name == "vertex_index" || p.name == "texcoord";
      const bool scalar = p.name == "intensity" || p.name == "red" || p.name == "green" || p.name == "blue" || p.name == "alpha";
      if ((list && !p.count_type) || (scalar && p.count_type)) {
        return refuse(MeshProblem::kMalformed, "face '" + p.name + "' must be " + (list ? "a list" : "a single value"));
      }
    }
  }
  const std::size_t last_read = face_at == elements.size() ? vertex_at : std::max(vertex_at, face_at);
  for (std::size_t i = 0; i < last_read; ++i) {
    if (i != vertex_at && i != face_at && elements[i].count > 0) {
      return refuse(MeshProblem::kMalformed, "element '" + elements[i].name + "' before the vertices and faces");
    }
  }
  const std::uint64_t vertices = elements[vertex_at].count;

  // Counts against size, before walking anything.
  std::uint64_t least = 0;
  for (const auto& e : elements) {
    if (e.count > 0 && e.props.empty()) return refuse(MeshProblem::kMalformed, "element '" + e.name + "' has no properties");
    std::uint64_t per_item = 0;  // binary: bytes; ASCII: values
    for (const auto& p : e.props) per_item += format == kAscii ? 1 : (p.count_type ? p.count_type->size : p.type->size);
    const std::uint64_t item_bytes = format == kAscii ? 2 * per_item : per_item;
    least += e.count * item_bytes;  // count < 2^31, item_bytes < 2^32 (the header is < 2^28 bytes)
    if (least > body) {
      return refuse(MeshProblem::kMalformed, "element '" + e.name + "' claims " + std::to_string(e.count) + " items, which need " +
                                                 (format == kAscii ? "at least " : "") + std::to_string(least) +
                                                 " bytes, but the file has " + std::to_string(body) + " after its header");
    }
  }
  if (vertices == 0) return refuse(MeshProblem::kEmpty, "no vertices");
  if (vertices > kMaxMeshPoints) {
    return refuse(MeshProblem::kTooManyTriangles, std::to_string(vertices) + " vertices, over the " + std::to_string(kMaxMeshPoints) + " limit");
  }

  // Walk every item.
  std::uint64_t triangles = 0;
  if (format == kAscii) {
    for (const auto& e : elements) {
      for (std::uint64_t i = 0; i < e.count; ++i) {
        // VTK's reader loses an element whose line has no newline (and frees its lists twice).
        if (!lines.next(line) || !lines.terminated) {
          return refuse(MeshProblem::kMalformed, "the file ends inside element '" + e.name + "'");
        }
        if (line.size() > kPlyMaxLine) return refuse(MeshProblem::kMalformed, at_line(lines.number) + "too long");
        if (has_control(line)) return refuse(MeshProblem::kMalformed, at_line(lines.number) + "a control character");
        split_words(line, words);
        std::size_t w = 0;
        for (const auto& p : e.props) {
          if (!p.count_type) {
            if (w++ >= words.size()) return refuse(MeshProblem::kMalformed, at_line(lines.number) + "too few values for '" + e.name + "'");
            continue;
          }
          long long n = 0;
          if (w >= words.size() || !parse_int(words[w++], n) || n < 0 || n > INT_MAX) {
            return refuse(MeshProblem::kMalformed, at_line(lines.number) + "list '" + p.name + "' needs a count >= 0");
          }
          if (words.size() - w < static_cast<std::uint64_t>(n)) {
            return refuse(MeshProblem::kMalformed, at_line(lines.number) + "list '" + p.name + "' says " + std::to_string(n) +
                                                       " values but has " + std::to_string(words.size() - w));
          }
          if (p.face_index) {
            if (n > kPlyMaxFaceVertices) return refuse(MeshProblem::kMalformed, at_line(lines.number) + too_many(n));
            if (n >= 3) triangles += static_cast<std::uint64_t>(n) - 2;
            for (long long k = 0; k < n; ++k) {
              long long index = 0;
              if (!parse_int(words[w + k], index)) return refuse(MeshProblem::kMalformed, at_line(lines.number) + quoted(words[w + k]) + " is not an index");
              if (index < 0 || static_cast<std::uint64_t>(index) >= vertices) {
                return refuse(MeshProblem::kIndexOutOfRange, at_line(lines.number) + "vertex index " + std::to_string(index) +
                                                                 " is out of range: " + std::to_string(vertices) + " vertices");
              }
            }
          }
          w += static_cast<std::size_t>(n);
        }
      }
    }
  } else {
    const bool big = format == kBinaryBE;
    std::size_t pos = lines.pos;
    for (const auto& e : elements) {
      const bool has_list = std::any_of(e.props.begin(), e.props.end(), [](const PlyProperty& p) { return p.count_type != nullptr; });
      if (!has_list) {  // fixed size: counted above
        std::uint64_t item = 0;
        for (const auto& p : e.props) item += p.type->size;
        if (bytes.size() - pos < e.count * item) {
          return refuse(MeshProblem::kMalformed, "the file ends inside element '" + e.name + "'");
        }
        pos += e.count * item;
        continue;
      }
      for (std::uint64_t i = 0; i < e.count; ++i) {
        for (const auto& p : e.props) {
          if (!p.count_type) {
            if (bytes.size() - pos < static_cast<std::size_t>(p.type->size)) {
              return refuse(MeshProblem::kMalformed, "the file ends inside element '" + e.name + "' item " + std::to_string(i));
            }
            pos += p.type->size;
            continue;
          }
          if (bytes.size() - pos < static_cast<std::size_t>(p.count_type->size)) {
            return refuse(MeshProblem::kMalformed, "the file ends inside element '" + e.name + "' item " + std::to_string(i));
          }
          const long long n = ply_integer(bytes.data() + pos, *p.count_type, big);
          pos += p.count_type->size;
          if (n < 0 || n > INT_MAX) {
            return refuse(MeshProblem::kMalformed, "element '" + e.name + "' item " + std::to_string(i) + ": list '" + p.name +
                                                       "' has a count of " + std::to_string(n));
          }
          const std::uint64_t need = static_cast<std::uint64_t>(n) * p.type->size;
          if (bytes.size() - pos < need) {
            return refuse(MeshProblem::kMalformed, "element '" + e.name + "' item " + std::to_string(i) + ": list '" + p.name +
                                                       "' says " + std::to_string(n) + " values, past the end of the file");
          }
          if (p.face_index) {
            if (n > kPlyMaxFaceVertices) return refuse(MeshProblem::kMalformed, "face " + std::to_string(i) + ": " + too_many(n));
            if (n >= 3) triangles += static_cast<std::uint64_t>(n) - 2;
            for (long long k = 0; k < n; ++k) {
              const long long index = ply_integer(bytes.data() + pos + k * p.type->size, *p.type, big);
              if (index < 0 || static_cast<std::uint64_t>(index) >= vertices) {
                return refuse(MeshProblem::kIndexOutOfRange, "face " + std::to_string(i) + ": vertex index " + std::to_string(index) +
                                                                 " is out of range: " + std::to_string(vertices) + " vertices");
              }
            }
          }
          pos += need;
        }
      }
    }
  }
  if (triangles > kMaxMeshTriangles) {
    return refuse(MeshProblem::kTooManyTriangles, std::to_string(triangles) + " triangles, over the " + std::to_string(kMaxMeshTriangles) + " limit");
  }
  if (triangles == 0) return refuse(MeshProblem::kEmpty, "no faces");
  MeshCheck ok;
  ok.points = vertices;
  ok.triangles = triangles;
  return ok;
}

// One line of VTK's message, without the "vtkOBJReader (0x...): " prefix.
std::string tidy(const char* message) {
  std::string s = message ? message : "";
  if (const auto p = s.find("): "); p != std::string::npos && p < 80) s.erase(0, p + 3);
  if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  if (s.size() > 200) s.resize(200);
  return s;
}

// The bytes the reader will read: a private memory file, read through /proc/self/fd. Without
// /proc the reader reads the resolved path again (its output is still checked).
class ReaderInput {
 public:
  ReaderInput(const std::string& path, std::string_view bytes) : name_(path) {
    fd_ = ::memfd_create("fleetscope-mesh", MFD_CLOEXEC);
    if (fd_ < 0) return;
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
      done += static_cast<std::size_t>(n);
    }
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    if (::access(proc.c_str(), R_OK) == 0) name_ = proc;
  }
  ~ReaderInput() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReaderInput(const ReaderInput&) = delete;
  ReaderInput& operator=(const ReaderInput&) = delete;
  const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace

VtkMessageCatcher::VtkMessageCatcher() {
  command_->SetCallback(&VtkMessageCatcher::on_message);
  command_->SetClientData(this);
}

void VtkMessageCatcher::watch(vtkAlgorithm* algorithm) {
  for (vtkObject* o : {static_cast<vtkObject*>(algorithm), static_cast<vtkObject*>(algorithm->GetExecutive())}) {
    o->AddObserver(vtkCommand::ErrorEvent, command_);
    o->AddObserver(vtkCommand::WarningEvent, command_);
  }
}

void VtkMessageCatcher::on_message(vtkObject*, unsigned long event, void* client, void* call) {
  auto* self = static_cast<VtkMessageCatcher*>(client);
  if (event == vtkCommand::ErrorEvent && self->first_error_.empty()) {
    self->first_error_ = tidy(static_cast<const char*>(call));
    if (self->first_error_.empty()) self->first_error_ = "unknown error";
  }
}

const char* to_string(MeshProblem problem) {
  switch (problem) {
    case MeshProblem::kNone: return "ok";
    case MeshProblem::kUnknownFormat: return "unknown format";
    case MeshProblem::kCannotOpen: return "cannot open";
    case MeshProblem::kNotRegularFile: return "not a regular file";
    case MeshProblem::kTooLarge: return "too large";
    case MeshProblem::kMalformed: return "malformed";
    case MeshProblem::kIndexOutOfRange: return "index out of range";
    case MeshProblem::kNotFinite: return "not finite";
    case MeshProblem::kTooManyTriangles: return "too many triangles";
    case MeshProblem::kEmpty: return "empty";
    case MeshProblem::kReaderFailed: return "reader failed";
    case MeshProblem::kCancelled: return "cancelled";
  }
  return "?";
}

bool mesh_format_of(const std::string& path, MeshFormat& format) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".stl") format = MeshFormat::kStl;
  else if (ext == ".obj") format = MeshFormat::kObj;
  else if (ext == ".ply") format = MeshFormat::kPly;
  else return false;
  return true;
}

MeshCheck check_mesh_bytes(MeshFormat format, std::string_view bytes) {
  switch (format) {
    case MeshFormat::kStl: return check_stl(bytes);
    case MeshFormat::kObj: return check_obj(bytes);
    case MeshFormat::kPly: return check_ply(bytes);
  }
  return refuse(MeshProblem::kUnknownFormat, "unknown format");
}

MeshCheck check_polydata(vtkPolyData& data) {
  const vtkIdType points = data.GetNumberOfPoints();
  if (points <= 0 || !data.GetPoints()) return refuse(MeshProblem::kEmpty, "no vertices");
  if (static_cast<std::uint64_t>(points) > kMaxMeshPoints) {
    return refuse(MeshProblem::kTooManyTriangles, std::to_string(points) + " vertices, over the " + std::to_string(kMaxMeshPoints) + " limit");
  }
  vtkPoints* xyz = data.GetPoints();
  double p[3];
  for (vtkIdType i = 0; i < points; ++i) {
    xyz->GetPoint(i, p);
    if (!std::isfinite(p[0]) || !std::isfinite(p[1]) || !std::isfinite(p[2])) {
      return refuse(MeshProblem::kNotFinite, "vertex " + std::to_string(i) + " is not finite");
    }
  }
  std::uint64_t triangles = 0;
  const std::pair<vtkCellArray*, bool> kinds[] = {
      {data.GetVerts(), false}, {data.GetLines(), false}, {data.GetPolys(), true}, {data.GetStrips(), true}};
  for (const auto& [cells, surface] : kinds) {
    if (!cells || cells->GetNumberOfCells() == 0) continue;
    if (!cells->IsValid()) return refuse(MeshProblem::kMalformed, "inconsistent cell array");
    auto it = vtk::TakeSmartPointer(cells->NewIterator());
    for (it->GoToFirstCell(); !it->IsDoneWithTraversal(); it->GoToNextCell()) {
      vtkIdType n = 0;
      const vtkIdType* ids = nullptr;
      it->GetCurrentCell(n, ids);
      for (vtkIdType k = 0; k < n; ++k) {
        if (ids[k] < 0 || ids[k] >= points) {
          return refuse(MeshProblem::kIndexOutOfRange, "cell " + std::to_string(it->GetCurrentCellId()) + " refers to point " +
                                                           std::to_string(ids[k]) + " of " + std::to_string(points));
        }
      }
      if (surface && n >= 3) triangles += static_cast<std::uint64_t>(n - 2);
    }
  }
  if (triangles == 0) return refuse(MeshProblem::kEmpty, "no faces");
  if (triangles > kMaxMeshTriangles) {
    return refuse(MeshProblem::kTooManyTriangles, std::to_string(triangles) + " triangles, over the " + std::to_string(kMaxMeshTriangles) + " limit");
  }
  MeshCheck ok;
  ok.points = static_cast<std::uint64_t>(points);
  ok.triangles = triangles;
  return ok;
}

MeshCheck read_mesh_file(const std::string& path, const std::atomic<bool>* cancel) {
  const auto cancelled = [cancel] { return cancel && cancel->load(std::memory_order_relaxed); };
  MeshFormat format{};
  if (!mesh_format_of(path, format)) {
    return refuse(MeshProblem::kUnknownFormat, "unknown mesh format (.stl, .obj and .ply are read)");
  }
  std::string bytes;
  if (MeshCheck c = read_regular_file(path, bytes); !c.ok()) return c;
  if (cancelled()) return refuse(MeshProblem::kCancelled, "cancelled");
  if (MeshCheck c = check_mesh_bytes(format, bytes); !c.ok()) return c;
  if (cancelled()) return refuse(MeshProblem::kCancelled, "cancelled");

  vtkSmartPointer<vtkAbstractPolyDataReader> reader;
  switch (format) {
    case MeshFormat::kStl: reader = vtkSmartPointer<vtkSTLReader>::New(); break;
    case MeshFormat::kObj: reader = vtkSmartPointer<vtkOBJReader>::New(); break;
    case MeshFormat::kPly: reader = vtkSmartPointer<vtkPLYReader>::New(); break;
  }
  VtkMessageCatcher messages;
  messages.watch(reader);
  auto output = vtkSmartPointer<vtkPolyData>::New();
  {
    const ReaderInput input(path, bytes);
    std::string().swap(bytes);  // the reader has its own copy now
    reader->SetFileName(input.name().c_str());
    reader->Update();
    output->ShallowCopy(reader->GetOutput());
  }
  if (!messages.first_error().empty()) return refuse(MeshProblem::kReaderFailed, messages.first_error());
  if (cancelled()) return refuse(MeshProblem::kCancelled, "cancelled");
  MeshCheck c = check_polydata(*output);
  if (c.ok()) c.polydata = output;
  return c;
}

}  // namespace fleetscope::render
