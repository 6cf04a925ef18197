#include "fleetscope/recording/foxglove_channels.hpp"

#include <array>
#include <cctype>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "bytes.hpp"
#include "fleetscope/ipc/error.hpp"

namespace fleetscope::recording {

namespace {
#include "foxglove_schemas.inc"

using nlohmann::json;

template <std::size_t N>
std::string field_text(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

// Our schema of a scalar record on the NAME/foxglove/scalars/TAG topics.
constexpr std::string_view kScalarJsonSchema =
    R"json({"title":"fleetscope.Scalar","description":"One scalar record of a fleetscope segment's telemetry (ipc/recording/FORMAT.md, Foxglove channels)","type":"object","properties":{"step":{"type":"integer","description":"The record's step"},"value":{"type":"number","description":"The record's value; absent when it is not finite (NaN, infinity)"},"wall_time":{"type":"number","description":"When the writer recorded it: its CLOCK_REALTIME in seconds since the Unix epoch"}},"required":["step","wall_time"]})json";

// The shortest decimal that reads back as the same float, as a double: JSON holds "0.1" rather
// than "0.10000000149011612", and Math.fround of it is the recorded f32. Not finite: 0.
double f32(float v) {
  if (!std::isfinite(v)) return 0.0;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

json stamp(std::uint64_t ns) {
  return {{"sec", ns / 1'000'000'000ULL}, {"nsec", ns % 1'000'000'000ULL}};
}

json vec3(double x, double y, double z) { return {{"x", x}, {"y", y}, {"z", z}}; }

std::array<double, 3> rotate(const float q[4], std::array<double, 3> v) {
  // v' = v + 2w (u x v) + 2 u x (u x v), u = (qx, qy, qz), w = qw.
  const double ux = q[0], uy = q[1], uz = q[2], w = q[3];
  const double tx = 2 * (uy * v[2] - uz * v[1]), ty = 2 * (uz * v[0] - ux * v[2]), tz = 2 * (ux * v[1] - uy * v[0]);
  return {v[0] + w * tx + (uy * tz - uz * ty), v[1] + w * ty + (uz * tx - ux * tz), v[2] + w * tz + (ux * ty - uy * tx)};
}

json pose(const ipc::LinkVisual& v, std::array<double, 3> along_z = {0, 0, 0}) {
  const auto d = rotate(v.offset_orientation, along_z);
  return {{"position", vec3(f32(v.offset_position[0]) + d[0], f32(v.offset_position[1]) + d[1], f32(v.offset_position[2]) + d[2])},
          {"orientation",
           {{"x", f32(v.offset_orientation[0])},
            {"y", f32(v.offset_orientation[1])},
            {"z", f32(v.offset_orientation[2])},
            {"w", f32(v.offset_orientation[3])}}}};
}

json color(const ipc::LinkVisual& v) {
  return {{"r", v.rgba[0] / 255.0}, {"g", v.rgba[1] / 255.0}, {"b", v.rgba[2] / 255.0}, {"a", v.rgba[3] / 255.0}};
}

std::string file_url(const std::string& path) {
  std::error_code ec;
  const auto abs = std::filesystem::absolute(path, ec);
  const std::string p = ec ? path : abs.string();
  std::string url = "file://";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const unsigned char c : p) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

std::string media_type(const std::string& path) {
  const auto ext = std::filesystem::path(path).extension().string();
  std::string lower;
  for (const char c : ext) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == ".stl") return "model/stl";
  if (lower == ".obj") return "model/obj";
  if (lower == ".glb") return "model/gltf-binary";
  if (lower == ".gltf") return "model/gltf+json";
  if (lower == ".dae") return "model/vnd.collada+xml";
  return "";  // PLY: Foxglove guesses from the URL (and may not draw it)
}

struct EntityParts {
  json cubes = json::array(), spheres = json::array(), cylinders = json::array(), triangles = json::array(),
       models = json::array();
  bool empty() const { return cubes.empty() && spheres.empty() && cylinders.empty() && triangles.empty() && models.empty(); }
};

void add_visual(EntityParts& e, const ipc::ModelVisual& mv, const FoxgloveMeshLookup& meshes) {
  const ipc::LinkVisual& v = mv.visual;
  const double a = f32(v.dims[0]), b = f32(v.dims[1]), c = f32(v.dims[2]);
  switch (static_cast<ipc::Shape>(v.shape)) {
    case ipc::Shape::kBox:
      e.cubes.push_back({{"pose", pose(v)}, {"size", vec3(a, b, c)}, {"color", color(v)}});
      break;
    case ipc::Shape::kPlane:  // a 1 mm slab, as a 1.2 reader's stand-in
      e.cubes.push_back({{"pose", pose(v)}, {"size", vec3(a, b, 0.001)}, {"color", color(v)}});
      break;
    case ipc::Shape::kSphere:
      e.spheres.push_back({{"pose", pose(v)}, {"size", vec3(2 * a, 2 * a, 2 * a)}, {"color", color(v)}});
      break;
    case ipc::Shape::kEllipsoid:
      e.spheres.push_back({{"pose", pose(v)}, {"size", vec3(2 * a, 2 * b, 2 * c)}, {"color", color(v)}});
      break;
    case ipc::Shape::kCylinder:
    case ipc::Shape::kCapsule:
      e.cylinders.push_back({{"pose", pose(v)},
                             {"size", vec3(2 * a, 2 * a, b)},
                             {"bottom_scale", 1.0},
                             {"top_scale", 1.0},
                             {"color", color(v)}});
      if (static_cast<ipc::Shape>(v.shape) == ipc::Shape::kCapsule) {  // its caps
        for (const double end : {-b / 2, b / 2}) {
          e.spheres.push_back({{"pose", pose(v, {0, 0, end})}, {"size", vec3(2 * a, 2 * a, 2 * a)}, {"color", color(v)}});
        }
      }
      break;
    case ipc::Shape::kMesh: {
      const std::string path = field_text(v.mesh_path);
      e.models.push_back({{"pose", pose(v)},
                          {"scale", vec3(f32(v.scale[0]), f32(v.scale[1]), f32(v.scale[2]))},
                          {"color", color(v)},
                          {"override_color", false},
                          {"url", file_url(path)},
                          {"media_type", media_type(path)},
                          {"data", ""}});
      break;
    }
    case ipc::Shape::kInlineMesh: {
      const auto mesh = meshes ? meshes(mv.mesh) : nullptr;
      if (!mesh) break;
      const double sx = f32(v.scale[0]), sy = f32(v.scale[1]), sz = f32(v.scale[2]);
      json points = json::array();
      for (std::size_t i = 0; i + 2 < mesh->vertices.size(); i += 3) {
        points.push_back(vec3(f32(mesh->vertices[i]) * sx, f32(mesh->vertices[i + 1]) * sy, f32(mesh->vertices[i + 2]) * sz));
      }
      e.triangles.push_back({{"pose", pose(v)},
                             {"points", std::move(points)},
                             {"color", color(v)},
                             {"colors", json::array()},
                             {"indices", mesh->triangles}});
      break;
    }
  }
}

// Unique names: `name` unless empty or taken by another entry, else `fallback`.
std::vector<std::string> unique_names(const std::vector<std::string>& names, const auto& fallback) {
  std::map<std::string, int> uses;
  for (const auto& n : names) ++uses[n];
  std::vector<std::string> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out.push_back(!names[i].empty() && uses[names[i]] == 1 ? names[i] : fallback(i));
  }
  return out;
}
}  // namespace

std::string_view foxglove_schema(std::string_view name) {
  if (name == "foxglove.SceneUpdate") return kSceneUpdateJsonSchema;
  if (name == "foxglove.FrameTransforms") return kFrameTransformsJsonSchema;
  if (name == kFoxgloveScalarSchemaName) return kScalarJsonSchema;
  return {};
}

std::string_view foxglove_schemas_version() { return kFoxgloveSchemasVersion; }

FoxgloveFrames foxglove_frames(const std::string& segment, const ipc::LayoutSnapshot& layout) {
  FoxgloveFrames f;
  std::vector<std::string> robot_names;
  for (const auto& r : layout.robots) robot_names.push_back(r.name);
  const auto robots = unique_names(robot_names, [&](std::size_t i) {
    return layout.robots[i].name + "#" + std::to_string(layout.robots[i].slot);
  });
  for (std::size_t i = 0; i < layout.robots.size(); ++i) {
    const auto& r = layout.robots[i];
    std::vector<std::string> link_names(r.link_count);
    if (r.model < layout.models.size()) {
      const auto& visuals = layout.models[r.model].visuals;
      for (std::size_t l = 0; l < link_names.size() && l < visuals.size(); ++l) link_names[l] = field_text(visuals[l].link_name);
    }
    const auto links = unique_names(link_names, [](std::size_t l) { return "link" + std::to_string(l); });
    auto& frames = f.frame_ids[r.slot];
    auto& entities = f.entity_ids[r.slot];
    auto& escaped = f.frame_ids_json[r.slot];
    for (const auto& l : links) {
      entities.push_back(robots[i] + "/" + l);
      frames.push_back(segment + "/" + entities.back());
      escaped.push_back(json(frames.back()).dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return f;
}

std::string foxglove_scene_update(const std::string& segment, const ipc::LayoutSnapshot& layout,
                                  const FoxgloveFrames& frames, const FoxgloveMeshLookup& meshes,
                                  std::uint64_t stamp_ns) {
  json entities = json::array();
  for (const auto& r : layout.robots) {
    if (r.model >= layout.models.size()) continue;
    const auto& model = layout.models[r.model];
    const auto fit = frames.frame_ids.find(r.slot);
    const auto eit = frames.entity_ids.find(r.slot);
    if (fit == frames.frame_ids.end() || eit == frames.entity_ids.end()) continue;
    std::vector<EntityParts> parts(r.link_count);
    for (const auto& mv : model.all_visuals) {
      if (mv.link < parts.size()) add_visual(parts[mv.link], mv, meshes);
    }
    for (std::size_t l = 0; l < parts.size() && l < fit->second.size(); ++l) {
      if (parts[l].empty()) continue;  // a link without visuals: its frame still moves
      entities.push_back({{"timestamp", stamp(stamp_ns)},
                          {"frame_id", fit->second[l]},
                          {"id", eit->second[l]},
                          {"lifetime", {{"sec", 0}, {"nsec", 0}}},  // until deleted
                          {"frame_locked", true},
                          {"metadata",
                           {{{"key", "segment"}, {"value", segment}},
                            {{"key", "robot"}, {"value", r.name}},
                            {{"key", "slot"}, {"value", std::to_string(r.slot)}},
                            {{"key", "model"}, {"value", model.name}},
                            {{"key", "link"}, {"value", std::to_string(l)}}}},
                          {"arrows", json::array()},
                          {"cubes", std::move(parts[l].cubes)},
                          {"spheres", std::move(parts[l].spheres)},
                          {"cylinders", std::move(parts[l].cylinders)},
                          {"lines", json::array()},
                          {"triangles", std::move(parts[l].triangles)},
                          {"texts", json::array()},
                          {"models", std::move(parts[l].models)}});
    }
  }
  const json update = {{"deletions", {{{"timestamp", stamp(stamp_ns)}, {"type", 1}, {"id", ""}}}},  // ALL
                       {"entities", std::move(entities)}};
  return update.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string foxglove_frame_transforms(const std::vector<RobotPoses>& robots, const FoxgloveFrames& frames,
                                      std::uint64_t stamp_ns) {
  // Written directly (every frame, thousands of links): nlohmann's objects cost 20x more. Frame
  // ids are JSON strings already (FoxgloveFrames::frame_ids_json); numbers are the shortest
  // decimals that read back as the same f32, as elsewhere.
  const std::string head = R"({"timestamp":{"sec":)" + std::to_string(stamp_ns / 1'000'000'000ULL) + R"(,"nsec":)" +
                           std::to_string(stamp_ns % 1'000'000'000ULL) +
                           R"(},"parent_frame_id":")" + kFoxgloveWorldFrame + R"(","child_frame_id":)";
  std::string out = R"({"transforms":[)";
  bool first = true;
  auto number = [&out](float v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  };
  for (const auto& r : robots) {
    const auto it = frames.frame_ids_json.find(r.slot);
    if (it == frames.frame_ids_json.end()) continue;
    for (std::size_t i = 0; i < r.links.size() && i < r.poses.size(); ++i) {
      const auto& p = r.poses[i];
      if (r.links[i] >= it->second.size()) continue;
      bool finite = true;
      for (const float x : p.position) finite = finite && std::isfinite(x);
      for (const float x : p.orientation) finite = finite && std::isfinite(x);
      if (!finite) continue;
      if (!first) out += ',';
      first = false;
      out += head;
      out += it->second[r.links[i]];
      out += R"(,"translation":{"x":)";
      number(p.position[0]);
      out += R"(,"y":)";
      number(p.position[1]);
      out += R"(,"z":)";
      number(p.position[2]);
      out += R"(},"rotation":{"x":)";
      number(p.orientation[0]);
      out += R"(,"y":)";
      number(p.orientation[1]);
      out += R"(,"z":)";
      number(p.orientation[2]);
      out += R"(,"w":)";
      number(p.orientation[3]);
      out += "}}";
    }
  }
  out += "]}";
  return out;
}

std::string foxglove_scalar(const ipc::ScalarSample& sample) {
  json j = {{"step", sample.step}, {"wall_time", static_cast<double>(sample.wall_unix_ns) / 1e9}};
  if (std::isfinite(sample.value)) j["value"] = sample.value;
  return j.dump();
}

// --- the channels -------------------------------------------------------------------------------

struct FoxgloveChannels::Segment {
  std::string name;
  std::map<std::string, std::uint16_t> channels;  // by kind, or "foxglove/scalars/" + tag
  std::uint64_t generation = UINT64_MAX, epoch = UINT64_MAX;
  FoxgloveFrames frames;
  std::vector<std::string> tags;
  // A keyframe was written in a pass without a new frame: the next FrameTransforms holds every link.
  bool full_pending = false;
  std::uint64_t last_full_log_time = UINT64_MAX;
  // The SceneUpdate of the current layout cut where its timestamps go: a keyframe only joins them
  // (building it is the costly part, and only a layout change changes it).
  std::vector<std::string> scene_pieces;
  std::uint64_t scene_generation = UINT64_MAX, scene_epoch = UINT64_MAX;
};

FoxgloveChannels::FoxgloveChannels(McapWriter& writer) : writer_(writer) {}
FoxgloveChannels::~FoxgloveChannels() = default;

FoxgloveChannels::Segment& FoxgloveChannels::segment(const std::string& name) {
  auto& s = segments_[name];
  if (!s) {
    s = std::make_unique<Segment>();
    s->name = name;
  }
  return *s;
}

const FoxgloveFrames& FoxgloveChannels::frames(Segment& seg, ipc::Source& source) {
  if (seg.generation != source.generation() || seg.epoch != source.layout().epoch) {
    seg.frames = foxglove_frames(seg.name, source.layout());
    seg.generation = source.generation();
    seg.epoch = source.layout().epoch;
  }
  return seg.frames;
}

std::uint16_t FoxgloveChannels::channel(Segment& seg, const std::string& schema, const std::string& kind,
                                        const std::string& tag) {
  const std::string key = tag.empty() ? kind : kind + "/" + tag;
  const auto it = seg.channels.find(key);
  if (it != seg.channels.end()) return it->second;
  auto sit = schemas_.find(schema);
  if (sit == schemas_.end()) {
    sit = schemas_.emplace(schema, writer_.add_schema(schema, kFoxgloveSchemaEncoding, detail::as_bytes(foxglove_schema(schema))))
              .first;
  }
  StringMap metadata{{"segment", seg.name}, {"kind", kind}};
  if (!tag.empty()) metadata["tag"] = tag;
  const auto id = writer_.add_channel(sit->second, seg.name + "/" + key, kFoxgloveMessageEncoding, metadata);
  seg.channels.emplace(key, id);
  return id;
}

void FoxgloveChannels::scene(const std::string& name, ipc::Source& source, std::uint64_t log_time, std::uint64_t stamp_ns) {
  Segment& seg = segment(name);
  const auto& f = frames(seg, source);
  const FoxgloveMeshLookup meshes = [&](std::uint32_t index) -> std::shared_ptr<const ipc::MeshData> {
    try {
      return source.mesh(index);
    } catch (const ipc::SegmentError&) {
      return nullptr;  // a corrupt mesh is left out, as the fleetscope channels leave it out
    }
  };
  if (seg.scene_generation != source.generation() || seg.scene_epoch != source.layout().epoch) {
    // A stamp no real one equals (year 2106+), found again in the text as the cut points.
    constexpr std::uint64_t kMark = 4'294'967'295'123'456'789ULL;
    const std::string mark = stamp(kMark).dump();
    const std::string whole = foxglove_scene_update(name, source.layout(), f, meshes, kMark);
    seg.scene_pieces.clear();
    std::size_t from = 0;
    for (auto at = whole.find(mark); at != std::string::npos; at = whole.find(mark, from)) {
      seg.scene_pieces.push_back(whole.substr(from, at - from));
      from = at + mark.size();
    }
    seg.scene_pieces.push_back(whole.substr(from));
    seg.scene_generation = source.generation();
    seg.scene_epoch = source.layout().epoch;
  }
  const std::string now = stamp(stamp_ns).dump();
  std::string text;
  for (std::size_t i = 0; i < seg.scene_pieces.size(); ++i) {
    if (i > 0) text += now;
    text += seg.scene_pieces[i];
  }
  if (seg.last_full_log_time != log_time) seg.full_pending = true;
  writer_.write(channel(seg, "foxglove.SceneUpdate", std::string(kFoxgloveSceneKind)), log_time, stamp_ns,
                detail::as_bytes(text));
}

void FoxgloveChannels::transforms(const std::string& name, ipc::Source& source, const PoseFrameMessage& frame,
                                  bool full, std::uint64_t log_time, std::uint64_t publish_time) {
  Segment& seg = segment(name);
  const auto& f = frames(seg, source);
  std::string text;
  if (full || seg.full_pending) {
    seg.full_pending = false;
    seg.last_full_log_time = log_time;
    std::vector<RobotPoses> all;
    for (const auto& r : source.layout().robots) {
      const auto poses = source.poses(r.slot);
      RobotPoses rp{r.slot, {}, {poses.begin(), poses.end()}};
      for (std::size_t l = 0; l < poses.size(); ++l) rp.links.push_back(static_cast<std::uint16_t>(l));
      all.push_back(std::move(rp));
    }
    text = foxglove_frame_transforms(all, f, publish_time);
  } else {
    text = foxglove_frame_transforms(frame.robots, f, publish_time);
  }
  writer_.write(channel(seg, "foxglove.FrameTransforms", std::string(kFoxgloveTransformsKind)), log_time, publish_time,
                detail::as_bytes(text));
}

void FoxgloveChannels::tags(const std::string& name, std::uint32_t first, const std::vector<std::string>& names) {
  Segment& seg = segment(name);
  seg.tags.resize(first);
  seg.tags.insert(seg.tags.end(), names.begin(), names.end());
}

void FoxgloveChannels::scalars(const std::string& name, const std::vector<ipc::ScalarSample>& samples,
                               std::uint64_t log_time) {
  Segment& seg = segment(name);
  for (const auto& s : samples) {
    const std::string tag = s.tag < seg.tags.size() && !seg.tags[s.tag].empty() ? seg.tags[s.tag] : "tag" + std::to_string(s.tag);
    const std::string text = foxglove_scalar(s);
    writer_.write(channel(seg, kFoxgloveScalarSchemaName, std::string(kFoxgloveScalarsKind), tag), log_time,
                  s.wall_unix_ns, detail::as_bytes(text));
  }
}

}  // namespace fleetscope::recording
