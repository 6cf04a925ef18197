// Segment discovery off the GUI thread. A std::thread lists /dev/shm/fleetscope.* once per
// interval (or at once when asked), opens and summarises every segment except those the GUI
// already reads itself (setSkipped: the attached ones, whose figures come from the scene), and
// posts the result to the GUI thread, where discovered() is emitted. Rounds never overlap (one
// thread). stop() (and the destructor) wakes the thread, which gives up between two segments, and
// joins it: a stop costs at most one segment's summary.
#pragma once

#include <QObject>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fleetscope/ipc/discovery.hpp"

namespace fleetscope::app {

struct DiscoveryResult {
  std::vector<ipc::SegmentSummary> summaries;  // segments read, sorted by name
  std::vector<std::string> skipped;            // present, not opened (setSkipped), sorted
  std::uint64_t listed_ns = 0;                 // monotonic time of the listing
  std::uint64_t round = 0;                     // 1 for the first round
  double seconds = 0.0;                        // the round's wall time
};

class DiscoveryWorker : public QObject {
  Q_OBJECT
 public:
  explicit DiscoveryWorker(int interval_ms = 1000, QObject* parent = nullptr);
  ~DiscoveryWorker() override;

  // Names listed but not opened from the next round on.
  void setSkipped(std::set<std::string> names);
  // Starts a round now if the thread is waiting, else right after the one in progress.
  void requestNow();
  // Stops and joins the thread; no discovered() after it returns. Idempotent.
  void stop();
  std::uint64_t rounds() const;

 signals:
  void discovered(std::shared_ptr<const fleetscope::app::DiscoveryResult> result);

 private:
  void run();

  const int interval_ms_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool requested_ = false;
  std::set<std::string> skipped_;
  std::uint64_t rounds_ = 0;
  std::thread thread_;
};

}  // namespace fleetscope::app
