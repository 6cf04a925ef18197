#include "fleetscope/sim_bridge/mujoco_publisher.hpp"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/format.hpp"

namespace fleetscope {
namespace {

using ipc::ErrorCode;
using ipc::SegmentError;

constexpr int kGroups = 6;  // mjNGROUP

std::string body_name(const mjModel* m, int body) {
  const char* name = m->names + m->name_bodyadr[body];
  return *name != '\0' ? std::string(name) : "body" + std::to_string(body);
}

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence (fixed-size fields).
std::string fit(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

bool is_separator(char c) { return c == '_' || c == '-' || c == '.' || c == '/' || c == ':'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The name several copies of one subtree share: what their names have in common before and after
// the part that tells copies apart ("arm0_hand", "arm1_hand" -> "arm_hand"; "torso_1",
// "torso_2" -> "torso"). A number cut in half by the common prefix or suffix is dropped whole.
std::string shared_name(const std::vector<std::string>& names) {
  if (names.size() == 1) return names.front();
  std::string_view first = names.front();
  std::size_t prefix = first.size(), suffix = first.size();
  for (const std::string& n : names) {
    std::size_t p = 0;
    while (p < prefix && p < n.size() && n[p] == first[p]) ++p;
    prefix = p;
    std::size_t s = 0;
    while (s < suffix && s < n.size() && n[n.size() - 1 - s] == first[first.size() - 1 - s]) ++s;
    suffix = s;
  }
  // Names of the same length that are equal: nothing tells them apart.
  if (prefix == first.size()) return std::string(first);
  suffix = std::min(suffix, first.size() - prefix);
  while (prefix > 0 && is_digit(first[prefix - 1])) --prefix;
  while (suffix > 0 && is_digit(first[first.size() - suffix])) --suffix;
  std::string head(first.substr(0, prefix));
  std::string tail(first.substr(first.size() - suffix));
  while (!head.empty() && is_separator(head.back())) head.pop_back();
  while (!tail.empty() && is_separator(tail.front())) tail.erase(0, 1);
  if (head.empty()) return tail;
  if (tail.empty()) return head;
  return head + "_" + tail;
}

std::array<float, 4> quat_xyzw(const mjtNum* wxyz) {
  return {static_cast<float>(wxyz[1]), static_cast<float>(wxyz[2]), static_cast<float>(wxyz[3]),
          static_cast<float>(wxyz[0])};
}

std::array<std::uint8_t, 4> to_rgba8(const float* rgba) {
  std::array<std::uint8_t, 4> out{};
  for (int i = 0; i < 4; ++i) {
    const float c = std::clamp(rgba[i], 0.0f, 1.0f);
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c * 255.0f + 0.5f);
  }
  return out;
}

// MuJoCo's colour rule (engine_vis_visualize.c, setMaterial): the material's rgba unless the
// geom's own rgba differs from the default or the geom has no material.
const float* effective_rgba(const mjModel* m, int geom) {
  const float* rgba = m->geom_rgba + 4 * geom;
  const int mat = m->geom_matid[geom];
  const bool is_default = rgba[0] == 0.5f && rgba[1] == 0.5f && rgba[2] == 0.5f && rgba[3] == 1.0f;
  return mat >= 0 && is_default ? m->mat_rgba + 4 * mat : rgba;
}

bool published(const mjModel* m, int geom, std::uint32_t visible_groups) {
  const int group = std::clamp(m->geom_group[geom], 0, kGroups - 1);  // MuJoCo clamps too
  if ((visible_groups & (1u << group)) == 0) return false;
  if (effective_rgba(m, geom)[3] <= 0.0f) return false;
  const int type = m->geom_type[geom];
  if (type == mjGEOM_HFIELD) {
    const int h = m->geom_dataid[geom];
    return h >= 0 && m->hfield_nrow[h] >= 2 && m->hfield_ncol[h] >= 2;
  }
  if (type == mjGEOM_MESH) return m->geom_dataid[geom] >= 0;
  return type == mjGEOM_PLANE || type == mjGEOM_SPHERE || type == mjGEOM_CAPSULE ||
         type == mjGEOM_ELLIPSOID || type == mjGEOM_CYLINDER || type == mjGEOM_BOX;
}

MeshData mesh_of(const mjModel* m, int mesh) {
  const int vertices = m->mesh_vertnum[mesh];
  const int faces = m->mesh_facenum[mesh];
  MeshData out;
  const float* v = m->mesh_vert + 3 * static_cast<std::ptrdiff_t>(m->mesh_vertadr[mesh]);
  out.vertices.assign(v, v + 3 * static_cast<std::ptrdiff_t>(vertices));
  const int* f = m->mesh_face + 3 * static_cast<std::ptrdiff_t>(m->mesh_faceadr[mesh]);
  out.triangles.reserve(3 * static_cast<std::size_t>(faces));
  for (std::ptrdiff_t i = 0; i < 3 * static_cast<std::ptrdiff_t>(faces); ++i) {
    if (f[i] < 0 || f[i] >= vertices) {
      throw SegmentError(ErrorCode::kInvalidArgument,
                         "MuJoCo mesh " + std::to_string(mesh) + " has a face index out of range");
    }
    out.triangles.push_back(static_cast<std::uint32_t>(f[i]));
  }
  // No normals: MuJoCo 2.2's compiled per-vertex normals are averaged over shared vertices (and
  // not always meaningful for meshes given as bare vertices); the viewer computes its own.
  return out;
}

// A height field as a closed solid in the geom frame, as MuJoCo draws it: column c is x from
// -size[0] to +size[0], row r is y from -size[1] to +size[1], the top is elevation * size[2]
// (MuJoCo stores elevations normalised to 0..1), the bottom is at -size[3].
MeshData hfield_mesh(const mjModel* m, int h) {
  const int rows = m->hfield_nrow[h];
  const int cols = m->hfield_ncol[h];
  const mjtNum* size = m->hfield_size + 4 * h;
  const float* data = m->hfield_data + m->hfield_adr[h];
  MeshData out;
  auto vertex = [&](double x, double y, double z) {
    out.vertices.insert(out.vertices.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)});
    return static_cast<std::uint32_t>(out.vertices.size() / 3 - 1);
  };
  auto x_of = [&](int c) { return size[0] * (2.0 * c / (cols - 1) - 1.0); };
  auto y_of = [&](int r) { return size[1] * (2.0 * r / (rows - 1) - 1.0); };
  auto top = [&](int r, int c) { return static_cast<std::uint32_t>(r * cols + c); };
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) vertex(x_of(c), y_of(r), data[r * cols + c] * size[2]);
  }
  auto triangle = [&](std::uint32_t a, std::uint32_t b, std::uint32_t c) {
    out.triangles.insert(out.triangles.end(), {a, b, c});
  };
  for (int r = 0; r + 1 < rows; ++r) {
    for (int c = 0; c + 1 < cols; ++c) {  // counter-clockwise seen from +z
      triangle(top(r, c), top(r, c + 1), top(r + 1, c + 1));
      triangle(top(r, c), top(r + 1, c + 1), top(r + 1, c));
    }
  }
  // The border, counter-clockwise seen from +z, and a bottom vertex under each of its vertices.
  std::vector<std::pair<int, int>> border;
  for (int c = 0; c < cols; ++c) border.emplace_back(0, c);
  for (int r = 1; r < rows; ++r) border.emplace_back(r, cols - 1);
  for (int c = cols - 2; c >= 0; --c) border.emplace_back(rows - 1, c);
  for (int r = rows - 2; r >= 1; --r) border.emplace_back(r, 0);
  const double bottom_z = -size[3];
  std::vector<std::uint32_t> bottom;
  bottom.reserve(border.size());
  for (const auto& [r, c] : border) bottom.push_back(vertex(x_of(c), y_of(r), bottom_z));
  const std::uint32_t centre = vertex(0.0, 0.0, bottom_z);
  for (std::size_t k = 0; k < border.size(); ++k) {
    const std::size_t n = (k + 1) % border.size();
    const std::uint32_t t0 = top(border[k].first, border[k].second);
    const std::uint32_t t1 = top(border[n].first, border[n].second);
    triangle(bottom[k], bottom[n], t1);  // the side, facing out
    triangle(bottom[k], t1, t0);
    triangle(centre, bottom[n], bottom[k]);  // the bottom, facing -z
  }
  return out;
}

}  // namespace

namespace detail {

struct MujocoPlan {
  struct Instance {
    std::string name;
    std::size_t model = 0;  // index into models
    int root = 0;
    std::vector<int> bodies;
    bool is_static = false;
  };
  WriterConfig config;
  std::vector<MeshData> meshes;       // LinkVisualDesc::mesh holds an index into this until added
  std::vector<RobotModelDesc> models;
  std::vector<Instance> instances;    // dynamic ones first
  std::vector<double> static_poses;   // 7 per body: world poses of bodies welded to the world
  MujocoSceneSummary summary;
};

}  // namespace detail

namespace {

using Plan = detail::MujocoPlan;

// Reads the body tree and geoms of a model into models, robots and meshes.
class Planner {
 public:
  Planner(const mjModel* m, const MujocoPublisherOptions& o) : m_(m), o_(o) {}

  Plan run() {
    compute_static_poses();
    std::vector<Candidate> dynamic, fixed;
    if (auto world = subtree(0, {0}); world.visuals > 0) {
      world.is_static = true;
      fixed.push_back(std::move(world));
    }
    for (int b = 1; b < m_->nbody; ++b) {
      if (m_->body_parentid[b] != 0) continue;
      std::vector<int> bodies;
      bool is_static = true;
      for (int d = b; d < m_->nbody; ++d) {
        if (m_->body_rootid[d] != b) continue;
        bodies.push_back(d);
        is_static = is_static && m_->body_weldid[d] == 0 && m_->body_mocapid[d] == -1;
      }
      Candidate c = subtree(b, bodies);
      if (c.visuals == 0) continue;  // nothing to draw
      c.is_static = is_static;
      (is_static ? fixed : dynamic).push_back(std::move(c));
    }
    for (auto* list : {&dynamic, &fixed}) {
      for (auto& c : *list) add_instance(std::move(c));
    }
    name_models();
    size_writer();
    return std::move(plan_);
  }

 private:
  // A subtree as read, before identical ones are merged.
  struct Candidate {
    std::string name;
    int root = 0;
    std::vector<int> bodies;
    std::vector<LinkDesc> links;
    std::vector<double> key;  // structure and visual geoms: equal keys share a model
    std::size_t visuals = 0;
    bool is_static = false;
  };
  struct Group {
    std::size_t model = 0;
    std::vector<std::size_t> instances;
  };

  void compute_static_poses() {
    // Bodies welded to the world never move: their pose is the chain of body_pos/body_quat
    // (what mj_kinematics computes for a body without joints), so no mjData is needed.
    auto& poses = plan_.static_poses;
    poses.assign(7 * static_cast<std::size_t>(m_->nbody), 0.0);
    std::vector<mjtNum> quat(4 * static_cast<std::size_t>(m_->nbody), 0.0);
    quat[0] = 1.0;
    poses[6] = 1.0;
    for (int b = 1; b < m_->nbody; ++b) {
      const int p = m_->body_parentid[b];
      mjtNum* q = quat.data() + 4 * b;
      mjtNum offset[3];
      mju_rotVecQuat(offset, m_->body_pos + 3 * b, quat.data() + 4 * p);
      mju_mulQuat(q, quat.data() + 4 * p, m_->body_quat + 4 * b);
      mju_normalize4(q);
      double* out = poses.data() + 7 * b;
      for (int i = 0; i < 3; ++i) out[i] = poses[7 * static_cast<std::size_t>(p) + static_cast<std::size_t>(i)] + offset[i];
      out[3] = q[1];
      out[4] = q[2];
      out[5] = q[3];
      out[6] = q[0];
    }
  }

  std::uint32_t mesh_index(int type, int id) {
    auto& cache = type == mjGEOM_MESH ? mesh_ids_ : hfield_ids_;
    if (const auto it = cache.find(id); it != cache.end()) return it->second;
    plan_.meshes.push_back(type == mjGEOM_MESH ? mesh_of(m_, id) : hfield_mesh(m_, id));
    const auto index = static_cast<std::uint32_t>(plan_.meshes.size() - 1);
    cache.emplace(id, index);
    return index;
  }

  LinkVisualDesc visual(int g) {
    LinkVisualDesc v;
    const mjtNum* size = m_->geom_size + 3 * g;
    const auto f = [](mjtNum x) { return static_cast<float>(x); };
    switch (m_->geom_type[g]) {
      case mjGEOM_PLANE:
        v.shape = ipc::Shape::kPlane;
        v.dims = {size[0] > 0 ? f(2 * size[0]) : o_.infinite_plane_size,
                  size[1] > 0 ? f(2 * size[1]) : o_.infinite_plane_size, 0.0f};
        break;
      case mjGEOM_SPHERE:
        v.shape = ipc::Shape::kSphere;
        v.dims = {f(size[0]), f(size[0]), f(size[0])};
        break;
      case mjGEOM_CAPSULE:
        v.shape = ipc::Shape::kCapsule;
        v.dims = {f(size[0]), f(2 * size[1]), 0.0f};
        break;
      case mjGEOM_CYLINDER:
        v.shape = ipc::Shape::kCylinder;
        v.dims = {f(size[0]), f(2 * size[1]), 0.0f};
        break;
      case mjGEOM_ELLIPSOID:
        v.shape = ipc::Shape::kEllipsoid;
        v.dims = {f(size[0]), f(size[1]), f(size[2])};
        break;
      case mjGEOM_BOX:
        v.shape = ipc::Shape::kBox;
        v.dims = {f(2 * size[0]), f(2 * size[1]), f(2 * size[2])};
        break;
      case mjGEOM_MESH:
      case mjGEOM_HFIELD:
        v.shape = ipc::Shape::kInlineMesh;
        v.dims = {0.0f, 0.0f, 0.0f};
        v.mesh = mesh_index(m_->geom_type[g], m_->geom_dataid[g]);
        break;
    }
    const mjtNum* pos = m_->geom_pos + 3 * g;
    v.offset_position = {f(pos[0]), f(pos[1]), f(pos[2])};
    v.offset_orientation = quat_xyzw(m_->geom_quat + 4 * g);
    v.rgba = to_rgba8(effective_rgba(m_, g));
    return v;
  }

  Candidate subtree(int root, std::vector<int> bodies) {
    Candidate c;
    c.name = body_name(m_, root);
    c.root = root;
    c.key.push_back(static_cast<double>(bodies.size()));
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      const int b = bodies[i];
      LinkDesc link;
      link.name = body_name(m_, b);
      // The parent as an index into this subtree (-1 for the root), so that copies compare equal.
      const auto end = bodies.begin() + static_cast<std::ptrdiff_t>(i);
      const auto parent = std::find(bodies.begin(), end, m_->body_parentid[b]);
      c.key.push_back(i == 0 ? -1.0 : static_cast<double>(parent - bodies.begin()));
      const int first = m_->body_geomadr[b];
      for (int g = first; first >= 0 && g < first + m_->body_geomnum[b]; ++g) {
        if (!published(m_, g, o_.visible_groups)) {
          ++plan_.summary.hidden_geoms;
          continue;
        }
        const float* rgba = effective_rgba(m_, g);
        c.key.insert(c.key.end(), {-1.0, static_cast<double>(m_->geom_type[g]), static_cast<double>(m_->geom_dataid[g])});
        c.key.insert(c.key.end(), m_->geom_size + 3 * g, m_->geom_size + 3 * g + 3);
        c.key.insert(c.key.end(), m_->geom_pos + 3 * g, m_->geom_pos + 3 * g + 3);
        c.key.insert(c.key.end(), m_->geom_quat + 4 * g, m_->geom_quat + 4 * g + 4);
        c.key.insert(c.key.end(), rgba, rgba + 4);
        link.visuals.push_back(visual(g));
        ++c.visuals;
      }
      c.links.push_back(std::move(link));
    }
    c.bodies = std::move(bodies);
    return c;
  }

  void add_instance(Candidate&& c) {
    auto [it, added] = groups_.try_emplace(c.key);
    Group& group = it->second;
    if (added) {
      group.model = plan_.models.size();
      plan_.models.push_back(RobotModelDesc{c.name, std::move(c.links)});
      group_order_.push_back(&group);
    }
    group.instances.push_back(plan_.instances.size());
    plan_.summary.visuals += c.visuals;
    plan_.summary.links += c.bodies.size();
    (c.is_static ? plan_.summary.static_robots : plan_.summary.dynamic_robots) += 1;
    plan_.instances.push_back(Plan::Instance{fit(c.name, ipc::kRobotNameBytes - 1), group.model, c.root,
                                             std::move(c.bodies), c.is_static});
  }

  // A model shared by copies is named by what the copies' names have in common.
  void name_models() {
    for (const Group* group : group_order_) {
      RobotModelDesc& model = plan_.models[group->model];
      std::vector<std::string> names;
      for (std::size_t i : group->instances) names.push_back(body_name(m_, plan_.instances[i].root));
      model.name = fit(shared_name(names), ipc::kModelNameBytes - 1);
      if (model.name.empty()) model.name = "model" + std::to_string(group->model);
      for (std::size_t l = 0; l < model.links.size(); ++l) {
        names.clear();
        for (std::size_t i : group->instances) names.push_back(body_name(m_, plan_.instances[i].bodies[l]));
        std::string name = fit(shared_name(names), ipc::kLinkNameBytes - 1);
        model.links[l].name = name.empty() ? "link" + std::to_string(l) : std::move(name);
      }
    }
  }

  void size_writer() {
    WriterConfig& c = plan_.config;
    c.name = o_.name;
    c.detect_changes = o_.detect_changes;
    c.epsilon = o_.epsilon;
    c.replace_stale = o_.replace_stale;
    c.compress_meshes = o_.compress_meshes;
    std::uint32_t max_links = 1, links = 0, visuals = 0;
    for (const auto& model : plan_.models) {
      max_links = std::max<std::uint32_t>(max_links, static_cast<std::uint32_t>(model.links.size()));
      links += static_cast<std::uint32_t>(model.links.size());
      for (const auto& link : model.links) visuals += static_cast<std::uint32_t>(link.visuals.size());
    }
    c.max_robots = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(plan_.instances.size()));
    c.max_links = max_links;
    c.max_models = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(plan_.models.size()));
    c.max_visuals = std::max<std::uint32_t>(1, links);
    c.max_geometry_visuals = std::max<std::uint32_t>(1, visuals);
    c.max_meshes = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(plan_.meshes.size()));
    // The raw payload bounds what is stored (compressed or not); 64 bytes each for alignment.
    std::uint64_t bytes = 0;
    for (const auto& mesh : plan_.meshes) {
      bytes += 4 * (mesh.vertices.size() + mesh.triangles.size() + mesh.normals.size()) + 64;
    }
    c.mesh_bytes = bytes;
    plan_.summary.models = plan_.models.size();
    plan_.summary.meshes = plan_.meshes.size();
    plan_.summary.mesh_bytes = bytes;
  }

  const mjModel* m_;
  const MujocoPublisherOptions& o_;
  Plan plan_;
  std::map<std::vector<double>, Group> groups_;
  std::vector<const Group*> group_order_;
  std::map<int, std::uint32_t> mesh_ids_, hfield_ids_;
};

Plan plan_scene(const mjModel* m, const MujocoPublisherOptions& options) {
  if (m == nullptr) throw SegmentError(ErrorCode::kInvalidArgument, "the MuJoCo model is NULL");
  if (mj_version() != mjVERSION_HEADER) {
    // mjModel's layout changes between MuJoCo versions: reading another version's is undefined.
    throw SegmentError(ErrorCode::kVersionMismatch,
                       "MuJoCo library version " + std::to_string(mj_version()) +
                           " differs from the headers fleetscope was built with (" +
                           std::to_string(mjVERSION_HEADER) + ")");
  }
  return Planner(m, options).run();
}

}  // namespace

MujocoPublisher::MujocoPublisher(const mjModel* model, const MujocoPublisherOptions& options)
    : MujocoPublisher(plan_scene(model, options)) {}

MujocoPublisher::MujocoPublisher(detail::MujocoPlan&& plan)
    : writer_(plan.config), summary_(plan.summary) {
  std::vector<std::uint32_t> mesh_ids;
  mesh_ids.reserve(plan.meshes.size());
  for (const MeshData& mesh : plan.meshes) mesh_ids.push_back(writer_.add_mesh(mesh));
  std::vector<std::uint32_t> model_ids;
  for (RobotModelDesc& model : plan.models) {
    for (LinkDesc& link : model.links) {
      for (LinkVisualDesc& v : link.visuals) {
        if (v.shape == ipc::Shape::kInlineMesh) v.mesh = mesh_ids[v.mesh];
      }
    }
    model_ids.push_back(writer_.add_model(model));
  }
  std::size_t largest = 0;
  std::vector<double> poses;
  for (Plan::Instance& instance : plan.instances) {
    MujocoRobot robot;
    robot.name = instance.name;
    robot.model = model_ids[instance.model];
    robot.root_body = instance.root;
    robot.is_static = instance.is_static;
    robot.bodies = std::move(instance.bodies);
    if (robot.is_static) {
      poses.clear();
      for (int b : robot.bodies) {
        const double* p = plan.static_poses.data() + 7 * b;
        poses.insert(poses.end(), p, p + 7);
      }
      robot.robot = writer_.spawn_static(robot.name, robot.model, poses);
    } else {
      robot.robot = writer_.spawn_robot(robot.name, robot.model);
      largest = std::max(largest, robot.bodies.size());
      ++dynamic_count_;
    }
    robots_.push_back(std::move(robot));
  }
  poses_.resize(7 * largest);
}

PublishStats MujocoPublisher::publish(const mjData* data) {
  if (data == nullptr) throw SegmentError(ErrorCode::kInvalidArgument, "the MuJoCo data is NULL");
  for (std::size_t r = 0; r < dynamic_count_; ++r) {
    const MujocoRobot& robot = robots_[r];
    const std::size_t links = robot.bodies.size();
    double* out = poses_.data();
    // MuJoCo numbers a subtree's bodies consecutively (depth first), so the body ids are
    // first, first + 1, ...: computed, not loaded, the reads of xpos/xquat (cold after a step)
    // do not wait on each other.
    const int first = robot.bodies.front();
    const bool consecutive = robot.bodies.back() == first + static_cast<int>(links) - 1;
    for (std::size_t l = 0; l < links; ++l) {
      const int b = consecutive ? first + static_cast<int>(l) : robot.bodies[l];
      const mjtNum* p = data->xpos + 3 * b;
      const mjtNum* q = data->xquat + 4 * b;  // w x y z
      out[0] = p[0];
      out[1] = p[1];
      out[2] = p[2];
      out[3] = q[1];
      out[4] = q[2];
      out[5] = q[3];
      out[6] = q[0];
      out += 7;
    }
    writer_.set_robot_poses(robot.robot, std::span<const double>(poses_.data(), 7 * links));
  }
  return writer_.publish(data->time);
}

}  // namespace fleetscope
