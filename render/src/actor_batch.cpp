// The baseline the instanced renderer is measured against: one vtkActor per link visual, all
// sharing one mapper per geometry, posed through its user matrix. This is what the seeds'
// PyVista viewer did; it exists only behind BatchMode::kActorPerLink for benchmarks.
#include <vtkActor.h>
#include <vtkMatrix4x4.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>

#include <vector>

#include "link_batch.hpp"

namespace fleetscope::render {
namespace {

class ActorBatch final : public LinkBatch {
 public:
  ActorBatch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry) : renderer_(renderer) {
    mapper_->SetInputData(geometry);
    mapper_->ScalarVisibilityOff();
  }
  ~ActorBatch() override {
    for (auto& a : actors_) {
      if (a) renderer_->RemoveActor(a);
    }
  }

  std::uint32_t add(const InstancePose& pose, std::array<std::uint8_t, 4> rgba) override {
    auto actor = vtkSmartPointer<vtkActor>::New();
    actor->SetMapper(mapper_);
    auto matrix = vtkSmartPointer<vtkMatrix4x4>::New();
    actor->SetUserMatrix(matrix);
    renderer_->AddActor(actor);
    std::uint32_t handle;
    if (!free_.empty()) {
      handle = free_.back();
      free_.pop_back();
      actors_[handle] = actor;
    } else {
      handle = static_cast<std::uint32_t>(actors_.size());
      actors_.push_back(actor);
    }
    ++count_;
    set_color(handle, rgba);
    set_pose(handle, pose);
    return handle;
  }

  void remove(std::uint32_t handle) override {
    renderer_->RemoveActor(actors_[handle]);
    actors_[handle] = nullptr;
    free_.push_back(handle);
    --count_;
  }

  void set_pose(std::uint32_t handle, const InstancePose& p) override {
    const float x = p.orientation[0], y = p.orientation[1], z = p.orientation[2], w = p.orientation[3];
    const double r[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
                            {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
                            {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}};
    vtkMatrix4x4* m = actors_[handle]->GetUserMatrix();
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) m->SetElement(i, j, r[i][j] * p.scale[j]);
      m->SetElement(i, 3, p.position[i]);
    }
    m->Modified();
  }

  void set_color(std::uint32_t handle, std::array<std::uint8_t, 4> rgba) override {
    actors_[handle]->GetProperty()->SetColor(rgba[0] / 255.0, rgba[1] / 255.0, rgba[2] / 255.0);
  }
  void set_visible(std::uint32_t handle, bool visible) override { actors_[handle]->SetVisibility(visible); }
  void set_geometry(vtkSmartPointer<vtkPolyData> geometry) override { mapper_->SetInputData(geometry); }
  void commit() override {}
  std::uint64_t visible_count() const override { return count_; }
  std::size_t actor_count() const override { return count_; }
  std::size_t mapper_count() const override { return 1; }

 private:
  vtkRenderer* renderer_;
  vtkNew<vtkPolyDataMapper> mapper_;
  std::vector<vtkSmartPointer<vtkActor>> actors_;
  std::vector<std::uint32_t> free_;
  std::uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<LinkBatch> make_actor_batch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry) {
  return std::make_unique<ActorBatch>(renderer, std::move(geometry));
}

}  // namespace fleetscope::render
