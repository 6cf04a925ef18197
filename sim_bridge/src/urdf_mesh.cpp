// Mesh files of URDF visuals, read with assimp into the triangle meshes a segment stores.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <assimp/DefaultIOSystem.h>
#include <assimp/Importer.hpp>
#include <assimp/config.h>
#include <assimp/material.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

#include "fleetscope/ipc/geometry_format.hpp"
#include "fleetscope/ipc/posix_file.hpp"
#include "file_structure_guard.hpp"
#include "urdf_internal.hpp"

namespace fleetscope::urdf::detail {
namespace {

constexpr const char* kExtensions[] = {".dae", ".stl", ".obj", ".gltf", ".glb", ".ply"};

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

std::uint8_t to_byte(float value) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(std::isfinite(value) ? value : 1.0f, 0.0f, 1.0f) * 255.0f));
}

// The material's own colour; nullopt for assimp's stand-in material (STL, PLY, an OBJ without a
// material library), whose parts take the URDF's colour as RViz gives them.
std::optional<std::array<std::uint8_t, 4>> own_colour(const aiMaterial& material) {
  aiString name;
  if (material.Get(AI_MATKEY_NAME, name) == AI_SUCCESS && std::strcmp(name.C_Str(), AI_DEFAULT_MATERIAL_NAME) == 0) {
    return std::nullopt;
  }
  aiColor4D c;
  if (material.Get(AI_MATKEY_COLOR_DIFFUSE, c) != AI_SUCCESS && material.Get(AI_MATKEY_BASE_COLOR, c) != AI_SUCCESS) {
    return std::nullopt;
  }
  float opacity = 1.0f;
  if (material.Get(AI_MATKEY_OPACITY, opacity) != AI_SUCCESS) opacity = 1.0f;
  return std::array<std::uint8_t, 4>{to_byte(c.r), to_byte(c.g), to_byte(c.b), to_byte(c.a * opacity)};
}

// Files a mesh file refers to (glTF buffers, OBJ materials, COLLADA references) get the same
// rule as the mesh file itself: only regular files of bounded size, or assimp could block on a
// FIFO or read a device forever.
class RegularFilesOnly : public Assimp::DefaultIOSystem {
 public:
  bool Exists(const char* file) const override { return acceptable(file); }
  Assimp::IOStream* Open(const char* file, const char* mode) override {
    return acceptable(file) ? DefaultIOSystem::Open(file, mode) : nullptr;
  }

 private:
  static bool acceptable(const char* file) {
    struct stat st {};
    return file != nullptr && ::stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
           static_cast<std::uint64_t>(st.st_size) <= kMaxMeshFileBytes;
  }
};

// What one mesh file may unfold into: its node graph may instance a mesh many times (a 1.6 KB
// glTF can describe 2^40 instances), so visits, depth and the copied geometry are bounded.
constexpr std::size_t kMaxNodeVisits = 1'000'000;
constexpr unsigned kMaxNodeDepth = 256;

struct Collector {
  const aiScene& scene;
  std::vector<MeshPart> parts;
  std::map<std::optional<std::array<std::uint8_t, 4>>, std::size_t> part_of;
  std::size_t visits = 0;
  std::size_t vertices = 0;
  std::size_t triangles = 0;

  void node(const aiNode& n, const aiMatrix4x4& parent, unsigned depth = 0) {
    if (++visits > kMaxNodeVisits) throw std::runtime_error("its node graph has more than 1,000,000 node instances");
    if (depth > kMaxNodeDepth) throw std::runtime_error("its node graph is nested more than 256 levels deep");
    const aiMatrix4x4 transform = parent * n.mTransformation;
    // A mirroring transform turns the triangles inside out: keep them counter-clockwise.
    const bool mirrored = transform.Determinant() < 0.0f;
    for (unsigned i = 0; i < n.mNumMeshes; ++i) mesh(*scene.mMeshes[n.mMeshes[i]], transform, mirrored);
    for (unsigned i = 0; i < n.mNumChildren; ++i) node(*n.mChildren[i], transform, depth + 1);
  }

  void mesh(const aiMesh& m, const aiMatrix4x4& transform, bool mirrored) {
    if (!(m.mPrimitiveTypes & aiPrimitiveType_TRIANGLE) || m.mNumVertices == 0) return;
    const auto colour = m.mMaterialIndex < scene.mNumMaterials ? own_colour(*scene.mMaterials[m.mMaterialIndex])
                                                               : std::nullopt;
    auto [it, added] = part_of.try_emplace(colour, parts.size());
    if (added) parts.push_back({MeshData{}, colour});
    MeshData& out = parts[it->second].mesh;
    const std::size_t first = out.vertex_count();
    if (first + m.mNumVertices > std::numeric_limits<std::uint32_t>::max()) {
      throw std::runtime_error("more vertices than a mesh can hold");
    }
    // Checked before anything is copied; vectors grow geometrically (no reserve per instance, which
    // made many instances quadratic).
    vertices += m.mNumVertices;
    triangles += m.mNumFaces;
    if (vertices > ipc::kMaxMeshVertices || triangles > ipc::kMaxMeshTriangles) {
      throw std::runtime_error("it unfolds into more than " + std::to_string(ipc::kMaxMeshVertices) + " vertices or " +
                               std::to_string(ipc::kMaxMeshTriangles) + " triangles");
    }
    for (unsigned v = 0; v < m.mNumVertices; ++v) {
      const aiVector3D p = transform * m.mVertices[v];
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || !std::isfinite(p.z)) {
        throw std::runtime_error("a vertex is not a finite number");
      }
      out.vertices.insert(out.vertices.end(), {p.x, p.y, p.z});
    }
    for (unsigned f = 0; f < m.mNumFaces; ++f) {
      const aiFace& face = m.mFaces[f];
      if (face.mNumIndices != 3) continue;  // points and lines: not drawn
      const auto base = static_cast<std::uint32_t>(first);
      std::uint32_t a = face.mIndices[0], b = face.mIndices[1], c = face.mIndices[2];
      if (a >= m.mNumVertices || b >= m.mNumVertices || c >= m.mNumVertices) {
        throw std::runtime_error("a triangle's vertex index is out of range");
      }
      if (mirrored) std::swap(b, c);
      out.triangles.insert(out.triangles.end(), {base + a, base + b, base + c});
    }
  }
};

}  // namespace

const char* supported_mesh_extensions() noexcept { return ".dae, .stl, .obj, .gltf, .glb, .ply"; }

bool has_supported_mesh_extension(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

std::vector<MeshPart> read_mesh_file(const std::filesystem::path& path) {
  if (!has_supported_mesh_extension(path)) {
    throw std::runtime_error("unsupported mesh format '" + path.extension().string() + "' (supported: " +
                             supported_mesh_extensions() + ")");
  }
  // A FIFO or device would hang or feed assimp forever: only regular files of bounded size.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(std::string(ipc::file_kind(st.st_mode)) + ", not a mesh file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxMeshFileBytes) {
    throw std::runtime_error("larger than 256 MiB (" + std::to_string(st.st_size) + " bytes)");
  }

  // COLLADA and glTF nest and instance nodes; assimp recurses over both (a hostile file overflowed
  // its stack or instanced itself forever): bounded here first.
  check_mesh_file_structure(path, lower_extension(path));

  Assimp::Importer importer;
  importer.SetIOHandler(new RegularFilesOnly);  // the importer owns and deletes it
  // RViz draws COLLADA files as authored (ROS meshes are Z-up), scaled by their <unit>: assimp's
  // conversion to Y-up is turned off, its unit scale (on the root node) kept.
  importer.SetPropertyBool(AI_CONFIG_IMPORT_COLLADA_IGNORE_UP_DIRECTION, true);
  // Positions and triangles are all a segment stores: dropping the rest lets
  // JoinIdenticalVertices share every vertex of a position.
  importer.SetPropertyInteger(AI_CONFIG_PP_RVC_FLAGS,
                              aiComponent_NORMALS | aiComponent_TANGENTS_AND_BITANGENTS | aiComponent_COLORS |
                                  aiComponent_TEXCOORDS | aiComponent_BONEWEIGHTS | aiComponent_ANIMATIONS |
                                  aiComponent_TEXTURES | aiComponent_LIGHTS | aiComponent_CAMERAS);
  importer.SetPropertyInteger(AI_CONFIG_PP_SBP_REMOVE, aiPrimitiveType_POINT | aiPrimitiveType_LINE);
  const aiScene* scene = importer.ReadFile(
      path.string(), aiProcess_ValidateDataStructure | aiProcess_RemoveComponent | aiProcess_Triangulate |
                         aiProcess_JoinIdenticalVertices | aiProcess_SortByPType);
  if (scene == nullptr || scene->mRootNode == nullptr) {
    const std::string why = importer.GetErrorString();
    throw std::runtime_error("assimp cannot read it: " + (why.empty() ? std::string("no scene") : why));
  }
  Collector collector{*scene, {}, {}};
  collector.node(*scene->mRootNode, aiMatrix4x4());
  std::erase_if(collector.parts, [](const MeshPart& p) { return p.mesh.triangles.empty(); });
  if (collector.parts.empty()) throw std::runtime_error("no triangles");
  return std::move(collector.parts);
}

}  // namespace fleetscope::urdf::detail
