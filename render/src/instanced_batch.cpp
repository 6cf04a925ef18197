// One vtkGlyph3DMapper drawing every instance of a geometry. Instance data lives in
// preallocated VTK arrays that are written in place; removal swaps the last instance into the
// hole so the arrays stay dense. Level of detail: instances whose projected radius falls below
// a few pixels leave the glyph mapper (its mask) and are drawn as points by a second mapper over
// the same position and colour arrays. On a software rasteriser every instanced mesh costs a
// fixed setup, so a point is far cheaper and looks the same at that size.
#include <vtkActor.h>
#include <vtkBitArray.h>
#include <vtkCellArray.h>
#include <vtkIdTypeArray.h>
#include <vtkPolyDataMapper.h>
#include <vtkFloatArray.h>
#include <vtkGlyph3DMapper.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkUnsignedCharArray.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "link_batch.hpp"

namespace fleetscope::render {
namespace {

constexpr std::uint32_t kFree = ~0u;

class InstancedBatch final : public LinkBatch {
 public:
  InstancedBatch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry, const BatchSettings& s)
      : renderer_(renderer) {
    points_->SetDataTypeToFloat();
    orientation_->SetName("orientation");
    orientation_->SetNumberOfComponents(4);
    scale_->SetName("scale");
    scale_->SetNumberOfComponents(3);
    colors_->SetName("colors");
    colors_->SetNumberOfComponents(4);
    mask_->SetName("mask");
    mask_->SetNumberOfComponents(1);
    instances_->SetPoints(points_);
    instances_->GetPointData()->AddArray(orientation_);
    instances_->GetPointData()->AddArray(scale_);
    instances_->GetPointData()->AddArray(mask_);
    instances_->GetPointData()->SetScalars(colors_);

    mapper_->SetInputData(instances_);
    mapper_->SetSourceData(geometry);
    mapper_->SetOrientationModeToQuaternion();
    mapper_->SetOrientationArray("orientation");
    mapper_->SetScaleModeToScaleByVectorComponents();
    mapper_->SetScaleArray("scale");
    mapper_->SetMasking(true);
    mapper_->SetMaskArray("mask");
    mapper_->ScalarVisibilityOn();
    mapper_->SetColorModeToDirectScalars();
    mapper_->SetScalarModeToUsePointData();
    unit_radius_ = radius_of(*geometry);
    far_->SetPoints(points_);
    far_->GetPointData()->SetScalars(colors_);
    far_->SetVerts(far_cells_);
    far_mapper_->SetInputData(far_);
    far_mapper_->ScalarVisibilityOn();
    far_mapper_->SetColorModeToDirectScalars();
    far_actor_->SetMapper(far_mapper_);
    far_actor_->GetProperty()->SetPointSize(4.0f);
    far_actor_->GetProperty()->LightingOff();
    far_actor_->PickableOff();
    far_actor_->VisibilityOff();
    renderer_->AddActor(far_actor_);
    if (s.culling_and_lod) {
      mapper_->SetCullingAndLOD(true);
      mapper_->SetNumberOfLOD(1);
      mapper_->SetLODDistanceAndTargetReduction(0, s.lod_distance, s.lod_reduction);
    }
    actor_->SetMapper(mapper_);
    actor_->GetProperty()->SetInterpolationToPhong();
    actor_->GetProperty()->SetSpecular(0.2);
    renderer_->AddActor(actor_);
  }
  ~InstancedBatch() override {
    renderer_->RemoveActor(actor_);
    renderer_->RemoveActor(far_actor_);
  }

  std::uint32_t add(const InstancePose& pose, std::array<std::uint8_t, 4> rgba) override {
    const auto index = static_cast<std::uint32_t>(index_to_handle_.size());
    std::uint32_t handle;
    if (!free_handles_.empty()) {
      handle = free_handles_.back();
      free_handles_.pop_back();
      handle_to_index_[handle] = index;
    } else {
      handle = static_cast<std::uint32_t>(handle_to_index_.size());
      handle_to_index_.push_back(index);
    }
    index_to_handle_.push_back(handle);
    points_->InsertNextPoint(0, 0, 0);
    orientation_->InsertNextTuple4(1, 0, 0, 0);
    scale_->InsertNextTuple3(1, 1, 1);
    const double c[4] = {double(rgba[0]), double(rgba[1]), double(rgba[2]), double(rgba[3])};
    colors_->InsertNextTuple(c);
    mask_->InsertNextValue(1);
    visible_flags_.push_back(1);
    far_flags_.push_back(0);
    ++visible_;
    write(index, pose);
    dirty_ = true;
    return handle;
  }

  void remove(std::uint32_t handle) override {
    const std::uint32_t index = handle_to_index_.at(handle);
    const auto last = static_cast<std::uint32_t>(index_to_handle_.size() - 1);
    if (visible_flags_[index]) --visible_;
    if (far_flags_[index]) far_dirty_ = true;
    if (index != last) {
      // Move the last instance into the hole.
      points_->SetPoint(index, points_->GetPoint(last));
      orientation_->SetTuple(index, orientation_->GetTuple(last));
      scale_->SetTuple(index, scale_->GetTuple(last));
      colors_->SetTuple(index, colors_->GetTuple(last));
      mask_->SetValue(index, mask_->GetValue(last));
      visible_flags_[index] = visible_flags_[last];
      far_flags_[index] = far_flags_[last];
      if (far_flags_[index]) far_dirty_ = true;
      const std::uint32_t moved = index_to_handle_[last];
      index_to_handle_[index] = moved;
      handle_to_index_[moved] = index;
    }
    index_to_handle_.pop_back();
    visible_flags_.pop_back();
    far_flags_.pop_back();
    points_->GetData()->SetNumberOfTuples(last);
    orientation_->SetNumberOfTuples(last);
    scale_->SetNumberOfTuples(last);
    colors_->SetNumberOfTuples(last);
    mask_->SetNumberOfTuples(last);
    handle_to_index_[handle] = kFree;
    free_handles_.push_back(handle);
    dirty_ = true;
  }

  void set_pose(std::uint32_t handle, const InstancePose& pose) override {
    write(handle_to_index_[handle], pose);
    dirty_ = true;
  }

  void set_color(std::uint32_t handle, std::array<std::uint8_t, 4> rgba) override {
    unsigned char* c = colors_->GetPointer(std::size_t{handle_to_index_[handle]} * 4);
    for (int i = 0; i < 4; ++i) c[i] = rgba[i];
    dirty_ = true;
  }

  void set_visible(std::uint32_t handle, bool visible) override {
    const std::uint32_t index = handle_to_index_[handle];
    if ((visible_flags_[index] != 0) == visible) return;
    visible_flags_[index] = visible ? 1 : 0;
    mask_->SetValue(index, visible && !far_flags_[index] ? 1 : 0);
    if (far_flags_[index]) far_dirty_ = true;
    visible_ += visible ? 1 : -1;
    dirty_ = true;
  }

  void set_geometry(vtkSmartPointer<vtkPolyData> geometry) override {
    mapper_->SetSourceData(geometry);
    unit_radius_ = radius_of(*geometry);
  }

  void apply_lod(const LodContext& ctx) override {
    if (ctx.point_radius_px <= 0.0 && far_count_ == 0) return;
    const float* xyz = static_cast<vtkFloatArray*>(points_->GetData())->GetPointer(0);
    const float* scale = scale_->GetPointer(0);
    bool changed = false;
    for (std::size_t i = 0; i < far_flags_.size(); ++i) {
      const double r = unit_radius_ * std::max({scale[3 * i], scale[3 * i + 1], scale[3 * i + 2]});
      double px = r * ctx.pixels_per_unit;
      if (!ctx.parallel) {
        const double dx = xyz[3 * i] - ctx.camera[0], dy = xyz[3 * i + 1] - ctx.camera[1], dz = xyz[3 * i + 2] - ctx.camera[2];
        px /= std::max(std::sqrt(dx * dx + dy * dy + dz * dz), 1e-6);
      }
      const std::uint8_t far = ctx.point_radius_px > 0.0 && px < ctx.point_radius_px ? 1 : 0;
      if (far == far_flags_[i]) continue;
      far_flags_[i] = far;
      mask_->SetValue(static_cast<vtkIdType>(i), visible_flags_[i] && !far ? 1 : 0);
      changed = true;
    }
    if (changed) {
      far_dirty_ = true;
      dirty_ = true;
      commit();
    }
  }

  std::uint64_t point_count() const override { return far_count_; }

  void commit() override {
    if (far_dirty_) rebuild_far_cells();
    if (!dirty_) return;
    points_->Modified();
    orientation_->Modified();
    scale_->Modified();
    colors_->Modified();
    mask_->Modified();
    instances_->Modified();
    if (far_count_ > 0) far_->Modified();
    dirty_ = false;
  }

  std::uint64_t visible_count() const override { return static_cast<std::uint64_t>(visible_); }

  void rebuild_far_cells() {
    auto offsets = vtkSmartPointer<vtkIdTypeArray>::New();
    auto ids = vtkSmartPointer<vtkIdTypeArray>::New();
    offsets->InsertNextValue(0);
    for (std::size_t i = 0; i < far_flags_.size(); ++i) {
      if (!far_flags_[i] || !visible_flags_[i]) continue;
      ids->InsertNextValue(static_cast<vtkIdType>(i));
      offsets->InsertNextValue(ids->GetNumberOfValues());
    }
    far_count_ = static_cast<std::uint64_t>(ids->GetNumberOfValues());
    far_actor_->SetVisibility(far_count_ > 0);  // no draw call for an empty point set
    far_cells_->SetData(offsets, ids);
    far_cells_->Modified();
    far_->Modified();
    far_dirty_ = false;
  }
  // The mesh instances and the point instances.
  std::size_t actor_count() const override { return 2; }
  std::size_t mapper_count() const override { return 2; }

 private:
  // Radius about the origin of the unit geometry's bounding box.
  static double radius_of(vtkPolyData& geometry) {
    double b[6];
    geometry.GetBounds(b);
    double r = 0.0;
    for (int a = 0; a < 3; ++a) r += std::pow(std::max(std::abs(b[2 * a]), std::abs(b[2 * a + 1])), 2);
    return std::sqrt(r);
  }

  void write(std::uint32_t index, const InstancePose& p) {
    float* xyz = static_cast<vtkFloatArray*>(points_->GetData())->GetPointer(std::size_t{index} * 3);
    xyz[0] = p.position[0];
    xyz[1] = p.position[1];
    xyz[2] = p.position[2];
    // vtkGlyph3DMapper takes quaternions as (w, x, y, z).
    float* q = orientation_->GetPointer(std::size_t{index} * 4);
    q[0] = p.orientation[3];
    q[1] = p.orientation[0];
    q[2] = p.orientation[1];
    q[3] = p.orientation[2];
    float* s = scale_->GetPointer(std::size_t{index} * 3);
    s[0] = p.scale[0];
    s[1] = p.scale[1];
    s[2] = p.scale[2];
  }

  vtkRenderer* renderer_;
  vtkNew<vtkPoints> points_;
  vtkNew<vtkFloatArray> orientation_;
  vtkNew<vtkFloatArray> scale_;
  vtkNew<vtkUnsignedCharArray> colors_;
  vtkNew<vtkBitArray> mask_;  // vtkGlyph3DMapper masks only with a bit array
  vtkNew<vtkPolyData> instances_;
  vtkNew<vtkGlyph3DMapper> mapper_;
  vtkNew<vtkActor> actor_;
  std::vector<std::uint32_t> handle_to_index_;
  std::vector<std::uint32_t> index_to_handle_;
  std::vector<std::uint32_t> free_handles_;
  std::int64_t visible_ = 0;
  bool dirty_ = false;
  // Level of detail
  double unit_radius_ = 0.0;  // of the unit geometry, before per-instance scale
  std::vector<std::uint8_t> visible_flags_;
  std::vector<std::uint8_t> far_flags_;  // drawn as a point
  std::uint64_t far_count_ = 0;
  bool far_dirty_ = false;
  vtkNew<vtkPolyData> far_;
  vtkNew<vtkCellArray> far_cells_;
  vtkNew<vtkPolyDataMapper> far_mapper_;
  vtkNew<vtkActor> far_actor_;
};

}  // namespace

std::unique_ptr<LinkBatch> make_instanced_batch(vtkRenderer* renderer, vtkSmartPointer<vtkPolyData> geometry,
                                                const BatchSettings& settings) {
  return std::make_unique<InstancedBatch>(renderer, std::move(geometry), settings);
}

}  // namespace fleetscope::render
