// Test helper: everything a reader gets of a segment's geometry, as one JSON document, for tests
// in other languages (the Python module's) to compare with what they wrote.
//   fleetscope-test-geometry-dump NAME
// {"format": [major, minor],
//  "models": [{"name", "links": [per-link record...], "visuals": [visual...]}],
//  "meshes": [{"vertices": [...], "triangles": [...], "normals": [...]} or {"error": "..."}],
//  "robots": [{"slot", "name", "model", "color_and_flags", "producer", "scalar_bits", "poses": [[7]...]}]}
// A visual: {"link", "name", "shape", "dims", "scale", "offset", "orientation", "rgba", "mesh_path", "mesh"}.
// Floats are printed with 9 significant digits: they read back as the same float32. Exits 1 with
// a message on stderr when the segment cannot be read.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"

namespace ipc = fleetscope::ipc;

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

template <typename T>
std::string floats(const T* values, std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", static_cast<double>(values[i]));
    out += buf;
  }
  return out + "]";
}

template <typename T>
std::string integers(const T* values, std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

std::string visual(std::uint32_t link, const ipc::LinkVisual& v, std::uint32_t mesh) {
  return "{\"link\": " + std::to_string(link) + ", \"name\": " + quoted(v.link_name) +
         ", \"shape\": " + std::to_string(v.shape) + ", \"dims\": " + floats(v.dims, 3) +
         ", \"scale\": " + floats(v.scale, 3) + ", \"offset\": " + floats(v.offset_position, 3) +
         ", \"orientation\": " + floats(v.offset_orientation, 4) + ", \"rgba\": " + integers(v.rgba, 4) +
         ", \"mesh_path\": " + quoted(v.mesh_path) + ", \"mesh\": " + std::to_string(mesh) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s NAME\n", argv[0]);
    return 2;
  }
  try {
    const auto reader = ipc::SegmentReader::open(argv[1]);
    ipc::PoseIngestor ingestor(reader);
    ingestor.ingest();
    const auto& layout = ingestor.layout();
    std::string out = "{\"format\": [" + std::to_string(reader.info().abi_major) + ", " +
                      std::to_string(reader.info().abi_minor) + "],\n \"models\": [";
    for (std::size_t m = 0; m < layout.models.size(); ++m) {
      const auto& model = layout.models[m];
      out += std::string(m ? ",\n  " : "\n  ") + "{\"name\": " + quoted(model.name) + ", \"links\": [";
      for (std::size_t l = 0; l < model.visuals.size(); ++l) {
        out += (l ? ", " : "") + visual(static_cast<std::uint32_t>(l), model.visuals[l], 0);
      }
      out += "], \"visuals\": [";
      for (std::size_t i = 0; i < model.all_visuals.size(); ++i) {
        const auto& v = model.all_visuals[i];
        out += (i ? ", " : "") + visual(v.link, v.visual, v.mesh);
      }
      out += "]}";
    }
    out += "],\n \"meshes\": [";
    for (std::uint32_t i = 0; i < reader.mesh_count(); ++i) {
      out += i ? ",\n  " : "\n  ";
      try {
        const ipc::MeshData mesh = reader.read_mesh(i);
        out += "{\"vertices\": " + floats(mesh.vertices.data(), mesh.vertices.size()) +
               ", \"triangles\": " + integers(mesh.triangles.data(), mesh.triangles.size()) +
               ", \"normals\": " + floats(mesh.normals.data(), mesh.normals.size()) + "}";
      } catch (const ipc::SegmentError& e) {
        out += "{\"error\": " + quoted(e.what()) + "}";
      }
    }
    out += "],\n \"robots\": [";
    for (std::size_t r = 0; r < layout.robots.size(); ++r) {
      const auto& robot = layout.robots[r];
      const auto a = ingestor.attributes(robot.slot);
      out += std::string(r ? ",\n  " : "\n  ") + "{\"slot\": " + std::to_string(robot.slot) +
             ", \"name\": " + quoted(robot.name) + ", \"model\": " + std::to_string(robot.model) +
             ", \"color_and_flags\": " + std::to_string(a.color_and_flags) + ", \"producer\": " +
             std::to_string(a.producer) + ", \"scalar_bits\": " + std::to_string(a.scalar_bits) + ", \"poses\": [";
      const auto poses = ingestor.poses(robot.slot);
      for (std::size_t l = 0; l < poses.size(); ++l) {
        const float p[7] = {poses[l].position[0],    poses[l].position[1],    poses[l].position[2],
                            poses[l].orientation[0], poses[l].orientation[1], poses[l].orientation[2],
                            poses[l].orientation[3]};
        out += (l ? ", " : "") + floats(p, 7);
      }
      out += "]}";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  } catch (const ipc::SegmentError& e) {
    std::fprintf(stderr, "geometry-dump: %s\n", e.what());
    return 1;
  }
}
