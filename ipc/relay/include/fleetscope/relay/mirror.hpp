// `fleetscope-relay mirror`: every segment a relay carries, recreated as a local segment (named
// PREFIX + its name) by an ipc::SegmentWriter, so local tools (fleetscope-shm, recorders, other
// readers, the viewer) read it unchanged. Models, visuals, stored meshes, robots, their attribute
// words, dirty-link poses (the same floats), frames (simulation time, dirty link and changed robot
// counts), scalars (tag, step, wall time, value) and worker and job rows are copied. Robots take
// the local writer's slots; worker pids are not carried (0: a remote pid means nothing here).
// A segment whose layout outgrows the local segment, or whose producer changed, is recreated.
// Not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "fleetscope/relay/relay_client.hpp"

namespace fleetscope::relay {

struct MirrorOptions {
  std::string prefix = "remote.";
};

class Mirror {
 public:
  Mirror(std::shared_ptr<RelayClient> client, MirrorOptions options);
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Polls the client (waiting up to `wait_ms` for a message) and copies what changed.
  void step(int wait_ms);
  // Local segment names in use.
  std::vector<std::string> segments() const;

 private:
  struct Stream;
  std::shared_ptr<RelayClient> client_;
  MirrorOptions options_;
  std::map<std::string, std::unique_ptr<Stream>> streams_;  // by remote segment name
};

}  // namespace fleetscope::relay
