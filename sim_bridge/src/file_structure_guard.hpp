// Bounds the nesting and the instancing of an XML or glTF file, and the sizes a PLY header declares,
// before a parser sees them.
// TinyXML (under urdfdom), assimp's COLLADA and glTF importers and rapidjson recurse once per
// element, node or JSON level: a hostile file 50,000 levels deep overflowed the stack, and a node
// instancing itself recursed forever. These checks are iterative and run first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace fleetscope::urdf::detail {

inline constexpr unsigned kMaxFileNesting = 256;                // XML elements, JSON levels, node graph depth
inline constexpr std::uint64_t kMaxNodeInstances = 100'000;  // a node graph unfolded (assimp copies each)

// Throws std::runtime_error("nested more than 256 elements deep (line N)") and the like.
void check_xml_nesting(std::string_view xml);
// COLLADA: XML nesting, then the node graph (nested <node>s and <instance_node>s): no cycle, at
// most 256 levels, at most kMaxNodeInstances nodes once unfolded.
void check_collada_structure(std::string_view xml);
// glTF (JSON text): JSON nesting, then the node graph (nodes[].children) as for COLLADA.
void check_gltf_structure(std::string_view json);
// Binary glTF: its header and first (JSON) chunk, then check_gltf_structure.
void check_glb_structure(std::string_view file);
// PLY: the elements its header declares fit in the file (assimp reserves memory for the declared
// counts: 2,000,000,000 vertices in a 60-byte file took 23 GB).
void check_ply_header(std::string_view file);
// By extension (.dae, .gltf, .glb, .ply; others declare nothing): reads the file and checks it.
void check_mesh_file_structure(const std::filesystem::path& path, std::string_view lower_extension);

}  // namespace fleetscope::urdf::detail
