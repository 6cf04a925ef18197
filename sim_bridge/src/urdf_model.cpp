// Reading a URDF (urdfdom) into a UrdfModel: links in depth-first order, their visuals with
// meshes read once per file, the kinematic tables, and registering it in a SimWriter.
#include <console_bridge/console.h>
#include <tinyxml.h>
#include <urdf_parser/urdf_parser.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <numbers>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "fleetscope/ipc/format.hpp"
#include "file_structure_guard.hpp"
#include "urdf_internal.hpp"

namespace fleetscope::urdf {

using ipc::ErrorCode;
namespace fs = std::filesystem;

namespace {

std::string describe(const std::string& file, const std::string& link, const std::string& reason) {
  std::string out = "URDF '" + file + "'";
  if (!link.empty()) out += ": link '" + link + "'";
  return out + ": " + reason;
}

// urdfdom reports why it refused a file through console_bridge, not through its return value:
// collect what it logs while parsing (console_bridge's handler is process-wide, hence the lock).
class ParseLog : public console_bridge::OutputHandler {
 public:
  void log(const std::string& text, console_bridge::LogLevel level, const char*, int) override {
    if (level >= console_bridge::CONSOLE_BRIDGE_LOG_ERROR) errors_.push_back(text);
  }
  std::string errors() const {
    std::string out;
    for (const auto& e : errors_) out += (out.empty() ? "" : "; ") + e;
    return out.empty() ? "urdfdom refused it without saying why" : out;
  }

 private:
  std::vector<std::string> errors_;
};

::urdf::ModelInterfaceSharedPtr parse_urdfdom(const std::string& xml, const std::string& source) {
  static std::mutex console_lock;
  const std::lock_guard lock(console_lock);
  ParseLog log;
  console_bridge::useOutputHandler(&log);
  ::urdf::ModelInterfaceSharedPtr model;
  std::string thrown;
  try {
    detail::check_xml_nesting(xml);  // TinyXML recurses per element: 50,000 levels overflowed its stack
    model = ::urdf::parseURDF(xml);
  } catch (const std::exception& e) {
    thrown = e.what();
  }
  console_bridge::restorePreviousOutputHandler();
  if (!model) throw UrdfError(ErrorCode::kInvalidArgument, source, "", "malformed: " + (thrown.empty() ? log.errors() : thrown));
  return model;
}

// What urdfdom's model does not keep: the file's order of joints (it holds them in a map by
// name), and which materials are given a colour or texture somewhere (it turns a reference to a
// material defined nowhere into a black one).
struct FileFacts {
  std::unordered_map<std::string, std::size_t> joint_order;
  std::unordered_set<std::string> defined_materials;
};

FileFacts scan(const std::string& xml) {
  FileFacts facts;
  TiXmlDocument doc;
  doc.Parse(xml.c_str());
  const TiXmlElement* robot = doc.FirstChildElement("robot");
  if (robot == nullptr) return facts;
  auto note_material = [&](const TiXmlElement* m) {
    const char* name = m->Attribute("name");
    if (name != nullptr && (m->FirstChildElement("color") != nullptr || m->FirstChildElement("texture") != nullptr)) {
      facts.defined_materials.insert(name);
    }
  };
  for (const TiXmlElement* e = robot->FirstChildElement(); e != nullptr; e = e->NextSiblingElement()) {
    const std::string_view tag = e->ValueStr();
    if (tag == "joint") {
      if (const char* name = e->Attribute("name")) facts.joint_order.try_emplace(name, facts.joint_order.size());
    } else if (tag == "material") {
      note_material(e);
    } else if (tag == "link") {
      for (const TiXmlElement* v = e->FirstChildElement("visual"); v != nullptr; v = v->NextSiblingElement("visual")) {
        if (const TiXmlElement* m = v->FirstChildElement("material")) note_material(m);
      }
    }
  }
  return facts;
}

// `text` cut to at most `bytes` bytes without splitting a UTF-8 character.
std::string fit(std::string text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  std::size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }

std::array<std::uint8_t, 4> to_rgba(const ::urdf::Color& c) {
  auto byte = [](float v) { return static_cast<std::uint8_t>(std::lround(std::clamp(std::isfinite(v) ? v : 1.0f, 0.0f, 1.0f) * 255.0f)); };
  return {byte(c.r), byte(c.g), byte(c.b), byte(c.a)};
}

constexpr std::array<std::uint8_t, 4> kDefaultRgba{200, 200, 200, 255};  // LinkVisualDesc's default grey

// The visual's colour from its material; nullopt without one, for a material named but defined
// nowhere, and for one that only names a texture (not read): urdfdom's black is not their colour.
std::optional<std::array<std::uint8_t, 4>> material_rgba(const ::urdf::Visual& v, const FileFacts& facts) {
  if (!v.material || !facts.defined_materials.contains(v.material->name)) return std::nullopt;
  const ::urdf::Color& c = v.material->color;
  if (!v.material->texture_filename.empty() && c.r == 0 && c.g == 0 && c.b == 0 && c.a == 1) return std::nullopt;
  return to_rgba(c);
}

JointType joint_type(int type) {
  switch (type) {
    case ::urdf::Joint::REVOLUTE: return JointType::kRevolute;
    case ::urdf::Joint::CONTINUOUS: return JointType::kContinuous;
    case ::urdf::Joint::PRISMATIC: return JointType::kPrismatic;
    case ::urdf::Joint::FLOATING: return JointType::kFloating;
    case ::urdf::Joint::PLANAR: return JointType::kPlanar;
    default: return JointType::kFixed;
  }
}

bool moves(JointType t) {
  return t == JointType::kRevolute || t == JointType::kContinuous || t == JointType::kPrismatic;
}

class Builder {
 public:
  Builder(const std::string& source, const fs::path& base, const UrdfOptions& options)
      : source_(source), resolver_(base, options) {}

  std::shared_ptr<UrdfModel::Data> build(const std::string& xml, const UrdfOptions& options) {
    const auto model = parse_urdfdom(xml, source_);
    auto data = std::make_shared<UrdfModel::Data>();
    data_ = data.get();
    data_->name = options.model_name.empty() ? model->getName() : options.model_name;
    if (data_->name.empty()) data_->name = "urdf";
    data_->description.name = fit(data_->name, ipc::kModelNameBytes - 1);
    facts_ = scan(xml);
    walk(*model);
    resolve_mimics();
    data_->footprint.links = static_cast<std::uint32_t>(data_->link_names.size());
    data_->footprint.meshes = static_cast<std::uint32_t>(data_->meshes.size());
    for (const auto& link : data_->description.links) {
      data_->footprint.visuals += static_cast<std::uint32_t>(link.visuals.size());
    }
    for (const auto& m : data_->meshes) {
      // Each mesh starts on a 64-byte boundary of the arena; zstd is kept only when smaller.
      const std::uint64_t raw = 4 * (m.vertices.size() + m.triangles.size() + m.normals.size());
      data_->footprint.mesh_bytes += (raw + 63) / 64 * 64;
    }
    return data;
  }

 private:
  [[noreturn]] void fail(const std::string& link, const std::string& reason, ErrorCode code = ErrorCode::kInvalidArgument) {
    throw UrdfError(code, source_, link, reason);
  }

  // Depth first from the root, children in the file's order of their joints.
  void walk(const ::urdf::ModelInterface& model) {
    const auto& order = facts_.joint_order;
    const ::urdf::LinkConstSharedPtr root = model.getRoot();
    if (!root) fail("", "malformed: no root link");
    auto rank = [&](const ::urdf::JointSharedPtr& j) {
      const auto it = order.find(j->name);
      return it == order.end() ? order.size() : it->second;
    };
    struct Pending {
      ::urdf::LinkConstSharedPtr link;
      std::uint32_t parent;
    };
    std::vector<Pending> stack{{root, 0}};
    while (!stack.empty()) {
      const Pending p = stack.back();
      stack.pop_back();
      const auto index = static_cast<std::uint32_t>(data_->link_names.size());
      if (index >= ipc::kMaxLinksPerRobot) {
        fail("", "has more than " + std::to_string(ipc::kMaxLinksPerRobot) + " links, the most a segment's robot holds");
      }
      data_->link_names.push_back(p.link->name);
      if (index > 0) add_joint(*p.link, p.parent, index);
      add_visuals(*p.link);
      std::vector<::urdf::JointSharedPtr> children = p.link->child_joints;
      std::stable_sort(children.begin(), children.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
      // Pushed in reverse: the first child is taken next.
      for (auto it = children.rbegin(); it != children.rend(); ++it) {
        const ::urdf::LinkConstSharedPtr child = model.getLink((*it)->child_link_name);
        if (!child) fail((*it)->child_link_name, "joint '" + (*it)->name + "' names a child link that does not exist");
        stack.push_back({child, index});
      }
    }
  }

  void add_joint(const ::urdf::Link& link, std::uint32_t parent, std::uint32_t index) {
    const ::urdf::Joint& j = *link.parent_joint;
    JointInfo info;
    info.name = j.name;
    info.type = joint_type(j.type);
    info.parent_link = parent;
    info.child_link = index;
    detail::FkStep step;
    step.parent = parent;
    const ::urdf::Pose& o = j.parent_to_joint_origin_transform;
    step.origin_translation = {o.position.x, o.position.y, o.position.z};
    step.origin_rotation = Eigen::Quaterniond(o.rotation.w, o.rotation.x, o.rotation.y, o.rotation.z);
    if (!step.origin_translation.allFinite() || !step.origin_rotation.coeffs().allFinite() ||
        step.origin_rotation.norm() < 1e-9) {
      fail(link.name, "joint '" + j.name + "' has an origin that is not a finite pose");
    }
    step.origin_rotation.normalize();
    if (moves(info.type)) {
      Eigen::Vector3d axis(j.axis.x, j.axis.y, j.axis.z);
      if (!axis.allFinite() || axis.norm() < 1e-9) fail(link.name, "joint '" + j.name + "' has a zero or non-finite axis");
      axis.normalize();
      if (info.type == JointType::kPrismatic) {
        step.kind = detail::FkStep::Kind::kPrismatic;
        step.axis_translation = step.origin_rotation * axis;
      } else {
        step.kind = detail::FkStep::Kind::kRevolute;
        step.axis_rotation = step.origin_rotation * Eigen::Quaterniond(0, axis.x(), axis.y(), axis.z());
      }
      if (info.type == JointType::kContinuous) {
        info.lower = -std::numbers::pi;
        info.upper = std::numbers::pi;
      } else if (j.limits) {
        info.lower = j.limits->lower;
        info.upper = j.limits->upper;
      }
      if (j.mimic) {
        info.mimic = true;
        info.multiplier = j.mimic->multiplier;
        info.offset = j.mimic->offset;
        mimics_.emplace_back(data_->joints.size(), j.mimic->joint_name);
      } else {
        info.actuated = static_cast<std::uint32_t>(data_->joint_names.size());
        data_->joint_names.push_back(j.name);
        data_->lower.push_back(info.lower);
        data_->upper.push_back(info.upper);
      }
    }
    joint_index_.emplace(j.name, data_->joints.size());
    data_->joints.push_back(std::move(info));
    data_->steps.push_back(step);
  }

  // A mimic joint follows an actuated joint, through other mimics: fold their factors.
  void resolve_mimics() {
    for (const auto& [index, target] : mimics_) {
      JointInfo& joint = data_->joints[index];
      const std::string& link = data_->link_names[joint.child_link];
      double multiplier = joint.multiplier, offset = joint.offset;
      std::string name = target;
      for (std::size_t hops = 0;; ++hops) {
        const auto it = joint_index_.find(name);
        if (it == joint_index_.end()) fail(link, "joint '" + joint.name + "' mimics joint '" + name + "', which does not exist");
        const JointInfo& followed = data_->joints[it->second];
        if (!moves(followed.type)) {
          fail(link, "joint '" + joint.name + "' mimics joint '" + name + "', which does not move");
        }
        if (!followed.mimic) {
          joint.actuated = followed.actuated;
          break;
        }
        if (hops > data_->joints.size()) fail(link, "joint '" + joint.name + "' is part of a cycle of mimic joints");
        // position = m * (m' * q + o') + o
        const auto next = std::find_if(mimics_.begin(), mimics_.end(), [&](const auto& m) { return m.first == it->second; });
        if (next == mimics_.end()) fail(link, "joint '" + joint.name + "' mimics joint '" + name + "', which was not read");
        offset += multiplier * followed.offset;
        multiplier *= followed.multiplier;
        name = next->second;
      }
      if (!std::isfinite(multiplier) || !std::isfinite(offset)) {
        fail(link, "joint '" + joint.name + "' has a mimic multiplier or offset that is not finite");
      }
      joint.multiplier = multiplier;
      joint.offset = offset;
      data_->steps[index].multiplier = multiplier;
      data_->steps[index].offset = offset;
    }
    for (std::size_t i = 0; i < data_->joints.size(); ++i) {
      if (data_->joints[i].actuated) data_->steps[i].source = *data_->joints[i].actuated;
      if (data_->steps[i].kind != detail::FkStep::Kind::kFixed) data_->moving_steps.push_back(static_cast<std::uint32_t>(i));
    }
  }

  void add_visuals(const ::urdf::Link& link) {
    LinkDesc desc;
    desc.name = fit(link.name, ipc::kLinkNameBytes - 1);
    for (const auto& v : link.visual_array) {
      if (!v) continue;
      if (!v->geometry) fail(link.name, "a visual has no geometry");
      LinkVisualDesc d;
      d.name = desc.name;
      const ::urdf::Pose& o = v->origin;
      d.offset_position = {static_cast<float>(o.position.x), static_cast<float>(o.position.y), static_cast<float>(o.position.z)};
      Eigen::Quaterniond q(o.rotation.w, o.rotation.x, o.rotation.y, o.rotation.z);
      if (!q.coeffs().allFinite() || q.norm() < 1e-9 || !std::isfinite(o.position.x) || !std::isfinite(o.position.y) ||
          !std::isfinite(o.position.z)) {
        fail(link.name, "a visual's origin is not a finite pose");
      }
      q.normalize();
      d.offset_orientation = {static_cast<float>(q.x()), static_cast<float>(q.y()), static_cast<float>(q.z()),
                              static_cast<float>(q.w())};
      const auto material = material_rgba(*v, facts_);
      d.rgba = material.value_or(kDefaultRgba);
      switch (v->geometry->type) {
        case ::urdf::Geometry::BOX: {
          const auto& b = static_cast<const ::urdf::Box&>(*v->geometry);
          if (!finite_positive(b.dim.x) || !finite_positive(b.dim.y) || !finite_positive(b.dim.z)) {
            fail(link.name, "a box's size must be three positive numbers");
          }
          d.shape = ipc::Shape::kBox;
          d.dims = {static_cast<float>(b.dim.x), static_cast<float>(b.dim.y), static_cast<float>(b.dim.z)};
          desc.visuals.push_back(d);
          break;
        }
        case ::urdf::Geometry::SPHERE: {
          const auto& s = static_cast<const ::urdf::Sphere&>(*v->geometry);
          if (!finite_positive(s.radius)) fail(link.name, "a sphere's radius must be positive");
          d.shape = ipc::Shape::kSphere;
          d.dims = {static_cast<float>(s.radius), 0.0f, 0.0f};
          desc.visuals.push_back(d);
          break;
        }
        case ::urdf::Geometry::CYLINDER: {
          const auto& c = static_cast<const ::urdf::Cylinder&>(*v->geometry);
          if (!finite_positive(c.radius) || !finite_positive(c.length)) {
            fail(link.name, "a cylinder's radius and length must be positive");
          }
          d.shape = ipc::Shape::kCylinder;
          d.dims = {static_cast<float>(c.radius), static_cast<float>(c.length), 0.0f};
          desc.visuals.push_back(d);
          break;
        }
        case ::urdf::Geometry::MESH: {
          const auto& m = static_cast<const ::urdf::Mesh&>(*v->geometry);
          for (const double s : {m.scale.x, m.scale.y, m.scale.z}) {
            if (!std::isfinite(s) || s == 0.0) fail(link.name, "mesh '" + m.filename + "' has a zero or non-finite scale");
          }
          d.shape = ipc::Shape::kInlineMesh;
          d.scale = {static_cast<float>(m.scale.x), static_cast<float>(m.scale.y), static_cast<float>(m.scale.z)};
          for (const auto& [mesh, rgba] : mesh_parts(m.filename, link.name)) {
            d.mesh = mesh;
            d.rgba = rgba.value_or(material.value_or(kDefaultRgba));
            desc.visuals.push_back(d);
          }
          break;
        }
        default: fail(link.name, "a visual has a geometry type urdfdom does not know");
      }
    }
    data_->description.links.push_back(std::move(desc));
  }

  // The parts of a mesh file (read once per file): mesh index into data_->meshes and own colour.
  const std::vector<std::pair<std::uint32_t, std::optional<std::array<std::uint8_t, 4>>>>& mesh_parts(
      const std::string& uri, const std::string& link) {
    const fs::path path = resolver_.resolve(uri, source_, link);
    const auto cached = mesh_cache_.find(path);
    if (cached != mesh_cache_.end()) return cached->second;
    std::vector<detail::MeshPart> parts;
    try {
      parts = detail::read_mesh_file(path);
      for (const auto& part : parts) ipc::validate_mesh(part.mesh);
    } catch (const std::exception& e) {
      fail(link, "mesh '" + uri + "' (" + path.string() + "): " + e.what());
    }
    auto& out = mesh_cache_[path];
    for (auto& part : parts) {
      out.emplace_back(static_cast<std::uint32_t>(data_->meshes.size()), part.rgba);
      data_->meshes.push_back(std::move(part.mesh));
    }
    return out;
  }

  std::string source_;
  FileFacts facts_;
  detail::ResourceResolver resolver_;
  UrdfModel::Data* data_ = nullptr;
  std::unordered_map<std::string, std::size_t> joint_index_;
  std::vector<std::pair<std::size_t, std::string>> mimics_;  // joint index, joint it mimics
  std::map<fs::path, std::vector<std::pair<std::uint32_t, std::optional<std::array<std::uint8_t, 4>>>>> mesh_cache_;
};

}  // namespace

UrdfError::UrdfError(ipc::ErrorCode code, std::string file, std::string link, std::string reason)
    : ipc::SegmentError(code, describe(file, link, reason)),
      file_(std::move(file)),
      link_(std::move(link)),
      reason_(std::move(reason)) {}

UrdfModel UrdfModel::load(const fs::path& file, const UrdfOptions& options) {
  const std::string source = file.string();
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (ec || !fs::exists(status)) throw UrdfError(ErrorCode::kNotFound, source, "", "no such file");
  if (!fs::is_regular_file(status)) throw UrdfError(ErrorCode::kInvalidArgument, source, "", "not a regular file");
  if (fs::file_size(file, ec) > (64u << 20)) throw UrdfError(ErrorCode::kInvalidArgument, source, "", "larger than 64 MiB");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw UrdfError(ErrorCode::kInvalidArgument, source, "", "cannot be read");
  const fs::path absolute = fs::absolute(file);
  Builder builder(source, absolute.parent_path(), options);
  auto data = builder.build(text.str(), options);
  data->file = absolute;
  return UrdfModel(std::move(data));
}

UrdfModel UrdfModel::parse(std::string_view xml, const fs::path& base_directory, const UrdfOptions& options,
                           std::string source) {
  Builder builder(source, base_directory, options);
  return UrdfModel(builder.build(std::string(xml), options));
}

const std::string& UrdfModel::name() const noexcept { return data_->name; }
const fs::path& UrdfModel::file() const noexcept { return data_->file; }
std::size_t UrdfModel::link_count() const noexcept { return data_->link_names.size(); }
std::size_t UrdfModel::dof() const noexcept { return data_->joint_names.size(); }
const std::vector<std::string>& UrdfModel::link_names() const noexcept { return data_->link_names; }
const std::vector<std::string>& UrdfModel::joint_names() const noexcept { return data_->joint_names; }
const std::vector<JointInfo>& UrdfModel::joints() const noexcept { return data_->joints; }
std::span<const double> UrdfModel::lower_limits() const noexcept { return data_->lower; }
std::span<const double> UrdfModel::upper_limits() const noexcept { return data_->upper; }
const RobotModelDesc& UrdfModel::description() const noexcept { return data_->description; }
const std::vector<MeshData>& UrdfModel::meshes() const noexcept { return data_->meshes; }
ModelFootprint UrdfModel::footprint() const noexcept { return data_->footprint; }

void UrdfModel::reserve_capacity(WriterConfig& config, std::uint32_t robots) const {
  const ModelFootprint f = data_->footprint;
  config.max_robots += robots;
  config.max_links = std::max(config.max_links, f.links);
  config.max_models += 1;
  // The per-link table takes a record per link, the geometry section one per visual (its
  // capacity defaults to max_visuals).
  config.max_visuals += f.links + f.visuals;
  if (config.max_geometry_visuals != 0) config.max_geometry_visuals += f.visuals;
  config.max_meshes += f.meshes;
  config.mesh_bytes += f.mesh_bytes;
}

std::uint32_t UrdfModel::add_to(SimWriter& writer) const {
  std::vector<std::uint32_t> ids;
  ids.reserve(data_->meshes.size());
  for (const auto& mesh : data_->meshes) ids.push_back(writer.add_mesh(mesh));
  RobotModelDesc desc = data_->description;
  for (auto& link : desc.links) {
    for (auto& visual : link.visuals) {
      if (visual.shape == ipc::Shape::kInlineMesh) visual.mesh = ids[visual.mesh];
    }
  }
  return writer.add_model(desc);
}

UrdfFleet::UrdfFleet(SimWriter& writer, UrdfModel model)
    : writer_(&writer), model_(std::move(model)), model_id_(model_.add_to(writer)) {}

UrdfFleet::UrdfFleet(SimWriter& writer, UrdfModel model, std::uint32_t model_id)
    : writer_(&writer), model_(std::move(model)), model_id_(model_id) {
  if (!writer.has_model(model_id) || writer.model_link_count(model_id) != model_.link_count()) {
    throw ipc::SegmentError(ErrorCode::kInvalidArgument, "model " + std::to_string(model_id) + " is not a model of " +
                                                             std::to_string(model_.link_count()) + " links in this writer");
  }
}

namespace {

// 7 finite values with a non-zero quaternion (normalised where it is used).
void check_base_pose(std::span<const double> pose, const std::string& what) {
  bool ok = pose.size() == kPoseValues;
  double norm = 0.0;
  for (std::size_t k = 0; ok && k < kPoseValues; ++k) {
    ok = std::isfinite(pose[k]);
    if (k >= 3) norm += pose[k] * pose[k];
  }
  if (!ok || !(norm > 1e-12)) {
    throw ipc::SegmentError(ErrorCode::kInvalidArgument,
                            what + ": a base pose is 7 finite values (x y z qx qy qz qw, the quaternion not zero)");
  }
}

}  // namespace

std::size_t UrdfFleet::spawn(std::string_view name, std::span<const double> base_pose) {
  static constexpr double kIdentity[kPoseValues] = {0, 0, 0, 0, 0, 0, 1};
  if (base_pose.empty()) base_pose = kIdentity;
  check_base_pose(base_pose, "spawn '" + std::string(name) + "'");
  robots_.push_back(writer_->spawn_robot(name, model_id_));
  bases_.insert(bases_.end(), base_pose.begin(), base_pose.end());
  return robots_.size() - 1;
}

void UrdfFleet::set_base_pose(std::size_t row, std::span<const double> pose) {
  if (row >= robots_.size()) {
    throw ipc::SegmentError(ErrorCode::kInvalidArgument, "set_base_pose: row " + std::to_string(row) + " of a fleet of " +
                                                             std::to_string(robots_.size()));
  }
  check_base_pose(pose, "set_base_pose");
  std::copy(pose.begin(), pose.end(), bases_.begin() + static_cast<std::ptrdiff_t>(row * kPoseValues));
}

void UrdfFleet::set_joint_positions(std::span<const double> joint_positions) {
  model_.write_poses(*writer_, robots_, joint_positions, bases_);
}

}  // namespace fleetscope::urdf
