// MujocoPublisher against MuJoCo itself: resources/mujoco/fleet.xml is published and read back
// through ipc::SegmentReader, and compared with mjData (poses), mjModel (sizes, meshes) and the
// abstract scene MuJoCo's own viewer would draw (mjv_updateScene: which geoms, colours, where).
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/sim_bridge/mujoco_publisher.hpp"
#include "mujoco/mujoco_test_support.hpp"
#include "support/child_process.hpp"

namespace {

using namespace fleetscope;
using namespace fleetscope::testing;

std::array<std::uint8_t, 4> rgba8(const float* rgba) {
  std::array<std::uint8_t, 4> out{};
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(std::clamp(rgba[i], 0.0f, 1.0f) * 255.0f + 0.5f);
  return out;
}

std::array<std::uint8_t, 4> rgba8(const std::uint8_t* rgba) { return {rgba[0], rgba[1], rgba[2], rgba[3]}; }

// Steps with random controls and a moving mocap target, publishing after each step.
void run(Simulation& sim, MujocoPublisher& publisher, int steps) {
  std::mt19937 random(7);
  std::uniform_real_distribution<double> control(-1.0, 1.0);
  for (int s = 0; s < steps; ++s) {
    for (int i = 0; i < sim.model->nu; ++i) sim.data->ctrl[i] = control(random);
    sim.data->mocap_pos[0] = 0.5 * std::sin(0.05 * s);
    mj_step(sim.model.get(), sim.data.get());
    publisher.publish(sim.data.get());
  }
}

class MujocoPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = load_simulation(mujoco_resource("fleet.xml")); }

  MujocoPublisherOptions options(const std::string& stem) {
    MujocoPublisherOptions o;
    o.name = unique_name("mujoco." + stem);
    return o;
  }

  int body(const char* name) const { return mj_name2id(sim_.model.get(), mjOBJ_BODY, name); }
  int geom(const char* name) const { return mj_name2id(sim_.model.get(), mjOBJ_GEOM, name); }

  // The visuals of one link, as published.
  static std::vector<ipc::ModelVisual> link_visuals(const ipc::ModelSnapshot& model, std::uint32_t link) {
    std::vector<ipc::ModelVisual> out;
    for (const auto& v : model.all_visuals) {
      if (v.link == link) out.push_back(v);
    }
    return out;
  }

  Simulation sim_;
};

TEST_F(MujocoPublisherTest, LinkPosesAreMuJoCosBodyPosesAfterSteps) {
  auto o = options("poses");
  o.detect_changes = false;  // every link every frame: the segment holds exactly the last step
  MujocoPublisher publisher(sim_.model.get(), o);
  run(sim_, publisher, 300);
  const auto reader = ipc::SegmentReader::open(o.name);
  EXPECT_DOUBLE_EQ(reader.frame().sim_time, sim_.data->time);
  const ReadSegment segment = read_segment(reader);
  ASSERT_EQ(segment.robots.size(), publisher.robots().size());
  std::size_t links = 0;
  for (const MujocoRobot& robot : publisher.robots()) {
    const ReadRobot* read = segment.robot(robot.name);
    ASSERT_NE(read, nullptr) << robot.name;
    ASSERT_EQ(read->poses.size(), robot.bodies.size()) << robot.name;
    for (std::size_t l = 0; l < robot.bodies.size(); ++l) {
      const int b = robot.bodies[l];
      const auto& pose = read->poses[l];
      const mjtNum* p = sim_.data->xpos + 3 * b;
      const mjtNum* q = sim_.data->xquat + 4 * b;
      SCOPED_TRACE(robot.name + " link " + std::to_string(l) + " (body " + std::to_string(b) + ")");
      for (int i = 0; i < 3; ++i) EXPECT_EQ(pose.position[i], static_cast<float>(p[i]));
      // MuJoCo's quaternions are w x y z; fleetscope's x y z w. Static bodies' poses come from
      // the model (body_pos/body_quat chained), not from mjData: equal to float precision.
      const float expected[4] = {static_cast<float>(q[1]), static_cast<float>(q[2]), static_cast<float>(q[3]),
                                 static_cast<float>(q[0])};
      for (int i = 0; i < 4; ++i) EXPECT_NEAR(pose.orientation[i], expected[i], 2e-7f);
      ++links;
    }
  }
  EXPECT_EQ(links, publisher.summary().links);
  // The robots really moved: the hands are away from where they started.
  const ReadRobot* cart = segment.robot("cart0");
  ASSERT_NE(cart, nullptr);
  EXPECT_LT(cart->poses[0].position[2], 0.2f - 0.01f) << "the cart fell onto its wheels";
}

TEST_F(MujocoPublisherTest, WithChangeDetectionPosesStayWithinEpsilon) {
  auto o = options("epsilon");
  MujocoPublisher publisher(sim_.model.get(), o);
  run(sim_, publisher, 200);
  const ReadSegment segment = read_segment(ipc::SegmentReader::open(o.name));
  for (const MujocoRobot& robot : publisher.robots()) {
    const ReadRobot* read = segment.robot(robot.name);
    ASSERT_NE(read, nullptr);
    for (std::size_t l = 0; l < robot.bodies.size(); ++l) {
      const mjtNum* p = sim_.data->xpos + 3 * robot.bodies[l];
      for (int i = 0; i < 3; ++i) EXPECT_NEAR(read->poses[l].position[i], p[i], 1.1e-5) << robot.name;
    }
  }
}

TEST_F(MujocoPublisherTest, RobotsModelsAndNamesFollowTheBodyTree) {
  auto o = options("tree");
  MujocoPublisher publisher(sim_.model.get(), o);
  const ReadSegment segment = read_segment(ipc::SegmentReader::open(o.name));
  std::map<std::string, std::uint32_t> model_of;
  for (const auto& r : segment.robots) model_of[r.snapshot.name] = r.snapshot.model;
  // Subtrees of the world body: 4 arms, 2 carts, ball, target, table; sensor_mount shows nothing.
  const std::set<std::string> expected{"world", "table", "arm0_base", "arm1_base", "arm2_base", "arm3_base",
                                       "cart0", "cart1", "ball", "target"};
  std::set<std::string> names;
  for (const auto& [name, model] : model_of) names.insert(name);
  EXPECT_EQ(names, expected);
  // Identical subtrees share a model; arm3 differs only in colour and has its own.
  EXPECT_EQ(model_of["arm0_base"], model_of["arm1_base"]);
  EXPECT_EQ(model_of["arm0_base"], model_of["arm2_base"]);
  EXPECT_NE(model_of["arm0_base"], model_of["arm3_base"]);
  EXPECT_EQ(model_of["cart0"], model_of["cart1"]);
  EXPECT_EQ(segment.layout.models.size(), 7u);
  EXPECT_EQ(publisher.summary().models, 7u);
  // A shared model is named by what its copies' names share; a body is one link.
  const auto& arm = segment.layout.models[model_of["arm0_base"]];
  EXPECT_EQ(arm.name, "arm_base");
  std::vector<std::string> links;
  for (const auto& v : arm.visuals) links.emplace_back(v.link_name);
  EXPECT_EQ(links, (std::vector<std::string>{"arm_base", "arm_shoulder", "arm_forearm", "arm_hand", "arm_tcp"}));
  EXPECT_EQ(segment.layout.models[model_of["arm3_base"]].name, "arm3_base");
  EXPECT_EQ(segment.layout.models[model_of["cart0"]].name, "cart");
  // Several geoms on one body are several visuals of one link; a body without geoms is a link
  // without visuals; the group 3 collision box is left out.
  EXPECT_EQ(link_visuals(arm, 1).size(), 2u);  // shoulder: capsule + sphere
  EXPECT_EQ(link_visuals(arm, 3).size(), 4u);  // hand: box, two fingers, ellipsoid
  EXPECT_EQ(link_visuals(arm, 4).size(), 0u);  // tcp: a site only
  EXPECT_EQ(link_visuals(segment.layout.models[model_of["cart0"]], 0).size(), 5u);
}

TEST_F(MujocoPublisherTest, WorldGeometryIsStaticAndNeverRewritten) {
  auto o = options("static");
  MujocoPublisher publisher(sim_.model.get(), o);
  run(sim_, publisher, 50);
  const auto reader = ipc::SegmentReader::open(o.name);
  const ReadSegment segment = read_segment(reader);
  for (const auto& r : segment.robots) {
    const bool is_static = (r.sync.attributes.flags() & ipc::kRobotStatic) != 0;
    const bool expect_static = r.snapshot.name == "world" || r.snapshot.name == "table";
    EXPECT_EQ(is_static, expect_static) << r.snapshot.name;
    if (expect_static) {
      EXPECT_EQ(r.sync.change_count, 1u) << r.snapshot.name << " was written after its spawn";
    }
  }
  EXPECT_EQ(publisher.summary().static_robots, 2u);
  EXPECT_EQ(publisher.summary().dynamic_robots, 8u);
  // The world's visuals are its geoms in groups 0-2 with alpha > 0: floor, mat, terrain, rock.
  const ReadRobot* world = segment.robot("world");
  ASSERT_NE(world, nullptr);
  const auto& model = segment.layout.models[world->snapshot.model];
  ASSERT_EQ(model.all_visuals.size(), 4u);
  EXPECT_EQ(model.all_visuals[0].visual.shape, static_cast<std::uint32_t>(ipc::Shape::kPlane));
  EXPECT_EQ(model.all_visuals[2].visual.shape, static_cast<std::uint32_t>(ipc::Shape::kInlineMesh));
  EXPECT_EQ(model.all_visuals[3].visual.shape, static_cast<std::uint32_t>(ipc::Shape::kEllipsoid));
}

// mjv_updateScene lists the geoms MuJoCo's viewer draws by default, with their colour, size and
// world pose: every one of them must be published, as that visual, and no other.
TEST_F(MujocoPublisherTest, VisualsAreWhatMuJoCosViewerDraws) {
  auto o = options("scene");
  o.detect_changes = false;
  MujocoPublisher publisher(sim_.model.get(), o);
  run(sim_, publisher, 100);
  const auto reader = ipc::SegmentReader::open(o.name);
  const ReadSegment segment = read_segment(reader);

  mjvScene scene;
  mjv_defaultScene(&scene);
  mjv_makeScene(sim_.model.get(), &scene, 2000);
  mjvOption option;
  mjv_defaultOption(&option);
  mjvCamera camera;
  mjv_defaultCamera(&camera);
  mjv_updateScene(sim_.model.get(), sim_.data.get(), &option, nullptr, &camera, mjCAT_ALL, &scene);
  std::map<int, const mjvGeom*> drawn;  // by geom id
  for (int i = 0; i < scene.ngeom; ++i) {
    if (scene.geoms[i].objtype == mjOBJ_GEOM) drawn[scene.geoms[i].objid] = &scene.geoms[i];
  }

  std::size_t published = 0;
  for (const MujocoRobot& robot : publisher.robots()) {
    const ReadRobot* read = segment.robot(robot.name);
    ASSERT_NE(read, nullptr);
    const auto& model = segment.layout.models[read->snapshot.model];
    for (std::size_t l = 0; l < robot.bodies.size(); ++l) {
      const int b = robot.bodies[l];
      std::vector<int> expected;  // geoms of this body the viewer draws, in geom order
      for (int g = sim_.model->body_geomadr[b]; g >= 0 && g < sim_.model->body_geomadr[b] + sim_.model->body_geomnum[b]; ++g) {
        if (drawn.count(g)) expected.push_back(g);
      }
      const auto visuals = link_visuals(model, static_cast<std::uint32_t>(l));
      ASSERT_EQ(visuals.size(), expected.size()) << robot.name << " link " << l;
      const auto& pose = read->poses[l];
      const Quat link_q{pose.orientation[0], pose.orientation[1], pose.orientation[2], pose.orientation[3]};
      for (std::size_t k = 0; k < visuals.size(); ++k) {
        const int g = expected[k];
        const mjvGeom& shown = *drawn.at(g);
        const ipc::LinkVisual& v = visuals[k].visual;
        SCOPED_TRACE(robot.name + " geom " + std::to_string(g));
        EXPECT_EQ(rgba8(v.rgba), rgba8(shown.rgba));
        // Where: link pose x visual offset == the viewer's geom pose.
        const Vec3 offset{v.offset_position[0], v.offset_position[1], v.offset_position[2]};
        const Vec3 turned = rotate(link_q, offset);
        for (int i = 0; i < 3; ++i) EXPECT_NEAR(pose.position[i] + turned[i], shown.pos[i], 2e-5);
        const Quat visual_q{v.offset_orientation[0], v.offset_orientation[1], v.offset_orientation[2], v.offset_orientation[3]};
        const auto mat = matrix(multiply(link_q, visual_q));
        for (int i = 0; i < 9; ++i) EXPECT_NEAR(mat[i], shown.mat[i], 2e-5);
        // What: shape and size (mjvGeom sizes are MuJoCo's half sizes; planes and meshes aside).
        switch (shown.type) {
          case mjGEOM_SPHERE:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(ipc::Shape::kSphere));
            EXPECT_FLOAT_EQ(v.dims[0], shown.size[0]);
            break;
          case mjGEOM_CAPSULE:
          case mjGEOM_CYLINDER:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(shown.type == mjGEOM_CAPSULE ? ipc::Shape::kCapsule : ipc::Shape::kCylinder));
            EXPECT_FLOAT_EQ(v.dims[0], shown.size[0]);
            EXPECT_FLOAT_EQ(v.dims[1], 2 * shown.size[2]);
            break;
          case mjGEOM_BOX:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(ipc::Shape::kBox));
            for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(v.dims[i], 2 * shown.size[i]);
            break;
          case mjGEOM_ELLIPSOID:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(ipc::Shape::kEllipsoid));
            for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(v.dims[i], shown.size[i]);
            break;
          case mjGEOM_PLANE:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(ipc::Shape::kPlane));
            break;
          case mjGEOM_MESH:
          case mjGEOM_HFIELD:
            EXPECT_EQ(v.shape, static_cast<std::uint32_t>(ipc::Shape::kInlineMesh));
            break;
          default:
            ADD_FAILURE() << "unexpected geom type " << shown.type;
        }
        ++published;
      }
    }
  }
  EXPECT_EQ(published, drawn.size()) << "geoms the viewer draws that were not published";
  EXPECT_EQ(published, publisher.summary().visuals);
  EXPECT_EQ(publisher.summary().hidden_geoms + published, static_cast<std::size_t>(sim_.model->ngeom));
  mjv_freeScene(&scene);
}

TEST_F(MujocoPublisherTest, PlanesAreFiniteAndSizedFromMuJoCo) {
  auto o = options("planes");
  o.infinite_plane_size = 30.0f;
  MujocoPublisher publisher(sim_.model.get(), o);
  const ReadSegment segment = read_segment(ipc::SegmentReader::open(o.name));
  const auto& world = segment.layout.models[segment.robot("world")->snapshot.model];
  const auto& floor = world.all_visuals[0].visual;  // size 0 0: infinite in MuJoCo
  EXPECT_FLOAT_EQ(floor.dims[0], 30.0f);
  EXPECT_FLOAT_EQ(floor.dims[1], 30.0f);
  const auto& mat = world.all_visuals[1].visual;  // size 0.6 0.4: half sizes
  EXPECT_FLOAT_EQ(mat.dims[0], 1.2f);
  EXPECT_FLOAT_EQ(mat.dims[1], 0.8f);
  // Colour of a geom with a material and the default rgba: the material's.
  EXPECT_EQ(rgba8(floor.rgba), rgba8(sim_.model->mat_rgba + 4 * sim_.model->geom_matid[geom("floor")]));
}

TEST_F(MujocoPublisherTest, MeshesAreMuJoCosCompiledMeshesStoredOnce) {
  auto o = options("meshes");
  MujocoPublisher publisher(sim_.model.get(), o);
  const auto reader = ipc::SegmentReader::open(o.name);
  const ReadSegment segment = read_segment(reader);
  // The finger (8 geoms over four arms, two models) and the terrain.
  EXPECT_EQ(reader.mesh_count(), 2u);
  std::set<std::uint32_t> finger_ids;
  for (const auto& model : segment.layout.models) {
    for (const auto& v : model.all_visuals) {
      if (v.visual.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh) && model.name != "world") finger_ids.insert(v.mesh);
    }
  }
  ASSERT_EQ(finger_ids.size(), 1u);
  const MeshData finger = reader.read_mesh(*finger_ids.begin());
  const mjModel* m = sim_.model.get();
  const int id = mj_name2id(m, mjOBJ_MESH, "finger");
  ASSERT_GE(id, 0);
  ASSERT_EQ(finger.vertex_count(), static_cast<std::size_t>(m->mesh_vertnum[id]));
  ASSERT_EQ(finger.triangle_count(), static_cast<std::size_t>(m->mesh_facenum[id]));
  for (std::size_t i = 0; i < finger.vertices.size(); ++i) {
    EXPECT_EQ(finger.vertices[i], m->mesh_vert[3 * m->mesh_vertadr[id] + static_cast<int>(i)]);
  }
  for (std::size_t i = 0; i < finger.triangles.size(); ++i) {
    EXPECT_EQ(finger.triangles[i], static_cast<std::uint32_t>(m->mesh_face[3 * m->mesh_faceadr[id] + static_cast<int>(i)]));
  }
  EXPECT_TRUE(finger.normals.empty());
}

// The height field as a closed solid whose top is where MuJoCo's own ray casts hit the terrain.
TEST_F(MujocoPublisherTest, HeightFieldIsWhereMuJoCosRaysHitIt) {
  auto o = options("hfield");
  MujocoPublisher publisher(sim_.model.get(), o);
  const auto reader = ipc::SegmentReader::open(o.name);
  const ReadSegment segment = read_segment(reader);
  const auto& world = segment.layout.models[segment.robot("world")->snapshot.model];
  const auto& visual = world.all_visuals[2];
  ASSERT_EQ(visual.visual.shape, static_cast<std::uint32_t>(ipc::Shape::kInlineMesh));
  const MeshData mesh = reader.read_mesh(visual.mesh);
  const mjModel* m = sim_.model.get();
  const int g = geom("terrain");
  const int h = m->geom_dataid[g];
  const int rows = m->hfield_nrow[h], cols = m->hfield_ncol[h];
  const std::size_t border = 2 * static_cast<std::size_t>(rows + cols) - 4;
  ASSERT_EQ(mesh.vertex_count(), static_cast<std::size_t>(rows * cols) + border + 1);

  // The top grid: vertex r * cols + c. A ray straight down at each interior vertex hits the
  // terrain at that vertex's height (the geom is not rotated: its frame is the world's, moved).
  int hits = 0;
  for (int r = 1; r + 1 < rows; r += 2) {
    for (int c = 1; c + 1 < cols; c += 3) {
      const float* v = mesh.vertices.data() + 3 * (r * cols + c);
      const mjtNum from[3] = {m->geom_pos[3 * g] + v[0], m->geom_pos[3 * g + 1] + v[1], 5.0};
      const mjtNum down[3] = {0, 0, -1};
      int hit = -1;
      const mjtNum distance = mj_ray(m, sim_.data.get(), from, down, nullptr, 1, -1, &hit);
      ASSERT_EQ(hit, g) << "row " << r << " column " << c;
      EXPECT_NEAR(5.0 - distance, m->geom_pos[3 * g + 2] + v[2], 1e-4) << "row " << r << " column " << c;
      ++hits;
    }
  }
  EXPECT_GT(hits, 10);

  // Closed and facing out: every edge is used once in each direction, and the volume is positive.
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> edges;
  double volume = 0;
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const std::uint32_t a = mesh.triangles[t], b = mesh.triangles[t + 1], c = mesh.triangles[t + 2];
    ++edges[{a, b}];
    ++edges[{b, c}];
    ++edges[{c, a}];
    const float* p = &mesh.vertices[3 * a];
    const float* q = &mesh.vertices[3 * b];
    const float* s = &mesh.vertices[3 * c];
    volume += (p[0] * (q[1] * s[2] - q[2] * s[1]) - p[1] * (q[0] * s[2] - q[2] * s[0]) + p[2] * (q[0] * s[1] - q[1] * s[0])) / 6.0;
  }
  for (const auto& [edge, count] : edges) {
    EXPECT_EQ(count, 1) << edge.first << "-" << edge.second;
    EXPECT_EQ(edges.count({edge.second, edge.first}), 1u) << edge.first << "-" << edge.second;
  }
  EXPECT_GT(volume, 0.0);
  const double bottom = -m->hfield_size[4 * h + 3];
  EXPECT_FLOAT_EQ(mesh.vertices.back() /* the bottom centre's z */, static_cast<float>(bottom));
}

TEST_F(MujocoPublisherTest, OnlyVisibleGroupsArePublished) {
  auto o = options("groups");
  o.visible_groups = 0b011111;  // groups 0-4: the collision boxes (3) and sensor mount (4) too
  MujocoPublisher publisher(sim_.model.get(), o);
  const ReadSegment segment = read_segment(ipc::SegmentReader::open(o.name));
  EXPECT_NE(segment.robot("sensor_mount"), nullptr);
  // Still hidden: the alpha 0 sphere.
  EXPECT_EQ(publisher.summary().hidden_geoms, 1u);
}

TEST(MujocoPublisher, RefusesANullModel) {
  try {
    MujocoPublisher publisher(nullptr);
    FAIL() << "no exception";
  } catch (const ipc::SegmentError& e) {
    EXPECT_EQ(e.code(), ipc::ErrorCode::kInvalidArgument);
  }
}

#ifdef FLEETSCOPE_HUMANOID100
TEST(MujocoPublisher, PublishesTheHumanoidSceneWithOneSharedModel) {
  Simulation sim = load_simulation(FLEETSCOPE_HUMANOID100);
  MujocoPublisherOptions o;
  o.name = unique_name("mujoco.humanoids");
  MujocoPublisher publisher(sim.model.get(), o);
  EXPECT_EQ(publisher.summary().dynamic_robots, 100u);
  EXPECT_EQ(publisher.summary().models, 2u);  // the humanoid and the world (floor)
  const ReadSegment segment = read_segment(ipc::SegmentReader::open(o.name));
  const ReadRobot* h = segment.robot("humanoid42_torso");
  ASSERT_NE(h, nullptr);
  const auto& model = segment.layout.models[h->snapshot.model];
  EXPECT_EQ(model.name, "humanoid_torso");
  EXPECT_STREQ(model.visuals[1].link_name, "humanoid_head");
}
#endif

}  // namespace
