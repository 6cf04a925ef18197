#include "fleetscope/ipc/source_registry.hpp"

#include <algorithm>

#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_source.hpp"

namespace fleetscope::ipc {
namespace {

// Each source's liveness at least this often...
constexpr std::uint64_t kStateEveryNs = 200'000'000ULL;
// ...but no more liveness reads (each reads /proc) than this per second over all sources.
constexpr std::uint64_t kStateReadsPerSecond = 1000;
constexpr std::uint64_t kRestartCheckNs = 500'000'000ULL;

}  // namespace

SourceRegistry::SourceRegistry(const RegistryOptions& options) : options_(options) {}
SourceRegistry::~SourceRegistry() = default;

Source& SourceRegistry::attach(const std::string& name) {
  if (Source* existing = find(name)) return *existing;
  sources_.push_back(std::make_unique<SegmentSource>(name, options_.reader));
  timing_.push_back({monotonic_ns(), 0});
  ++revision_;
  return *sources_.back();
}

Source& SourceRegistry::attach(std::unique_ptr<Source> source) {
  if (Source* existing = find(source->name())) return *existing;
  sources_.push_back(std::move(source));
  timing_.push_back({monotonic_ns(), 0});
  ++revision_;
  return *sources_.back();
}

void SourceRegistry::detach(const std::string& name) {
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i]->name() != name) continue;
    sources_.erase(sources_.begin() + static_cast<std::ptrdiff_t>(i));
    timing_.erase(timing_.begin() + static_cast<std::ptrdiff_t>(i));
    ++revision_;
    return;
  }
}

Source* SourceRegistry::find(const std::string& name) const {
  for (const auto& s : sources_) {
    if (s->name() == name) return s.get();
  }
  return nullptr;
}

RegistryChanges SourceRegistry::refresh() {
  RegistryChanges changes;
  const std::uint64_t now = monotonic_ns();
  // Liveness of each source every `every`; this refresh may read as many as are due over the time
  // since the last one (twice that, to catch up), so the reads spread evenly over the polls.
  const std::uint64_t every = std::max<std::uint64_t>(kStateEveryNs, sources_.size() * (1'000'000'000ULL / kStateReadsPerSecond));
  std::uint64_t budget = 1 + sources_.size() * 2 * std::min(now - last_refresh_ns_, every) / every;
  last_refresh_ns_ = now;
  std::vector<std::string> dropped;
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    Source& s = *sources_[i];
    Timing& t = timing_[i];
    if (now - t.last_state_ns >= every && budget > 0) {
      --budget;
      t.last_state_ns = now;
      const WriterState before = s.state();
      s.refresh_state(options_.stale_after_ns);
      if (s.state() != before) changes.sources_changed = true;
    }
    if (!writer_is_gone(s.state())) continue;
    if (now - t.last_restart_check_ns >= kRestartCheckNs) {
      t.last_restart_check_ns = now;
      if (s.follow_restart()) {
        t.last_state_ns = now;
        ++revision_;
        changes.sources_changed = true;
        continue;
      }
    }
    if (options_.drop_dead) dropped.push_back(s.name());
  }
  for (const auto& name : dropped) detach(name);
  if (!dropped.empty()) changes.sources_changed = true;
  return changes;
}

}  // namespace fleetscope::ipc
