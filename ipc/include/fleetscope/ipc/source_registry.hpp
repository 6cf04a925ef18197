// One registry owns one Source per attached name; the 3D scene, the dashboards and the Sources
// dock all borrow from it and never open a source themselves. It keeps the sources' liveness
// fresh (throttled: /proc reads spread over polls), follows writers restarted under the same name
// (the source's generation changes) and applies the options every source is opened with.
// Not thread-safe: one thread (the viewer's GUI thread) uses it and its sources.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fleetscope/ipc/source.hpp"

namespace fleetscope::ipc {

struct RegistryOptions {
  ReaderOptions reader;                             // e.g. allow_other_users
  std::uint64_t stale_after_ns = 1'000'000'000ULL;  // a writer counts as paused after this
  bool drop_dead = false;                           // detach sources whose writer is gone
};

struct RegistryChanges {
  bool sources_changed = false;  // attached, detached, restarted or a state changed
};

class SourceRegistry {
 public:
  explicit SourceRegistry(const RegistryOptions& options = {});
  ~SourceRegistry();
  SourceRegistry(const SourceRegistry&) = delete;
  SourceRegistry& operator=(const SourceRegistry&) = delete;

  // Opens a segment source with the registry's options; one already attached is returned as it
  // is. Throws SegmentError (missing, unreadable, another user's, newer format, ...).
  Source& attach(const std::string& name);
  // Adds a source of another kind (a relay's RemoteSource, ...) made by the caller; one of the
  // same name already attached is kept and returned instead.
  Source& attach(std::unique_ptr<Source> source);
  void detach(const std::string& name);
  Source* find(const std::string& name) const;
  bool attached(const std::string& name) const { return find(name) != nullptr; }
  // In the order attached. Pointers stay valid until that source is detached.
  const std::vector<std::unique_ptr<Source>>& sources() const noexcept { return sources_; }
  // Bumps whenever a source is attached, detached or restarted.
  std::uint64_t revision() const noexcept { return revision_; }

  const RegistryOptions& options() const noexcept { return options_; }
  void set_allow_other_users(bool allow) { options_.reader.allow_other_users = allow; }
  void set_drop_dead(bool drop) { options_.drop_dead = drop; }

  // Call once per poll: refreshes liveness (each source a few times a second; many sources are
  // spread over the polls so no poll reads /proc a thousand times), follows restarts of gone
  // writers (each at most twice a second), and detaches gone sources when drop_dead is set.
  RegistryChanges refresh();

 private:
  struct Timing {
    std::uint64_t last_state_ns = 0;
    std::uint64_t last_restart_check_ns = 0;
  };
  RegistryOptions options_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<Timing> timing_;  // by index into sources_
  std::uint64_t revision_ = 0;
  std::uint64_t last_refresh_ns_ = 0;
};

}  // namespace fleetscope::ipc
