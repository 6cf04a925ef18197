#include "discovery_worker.h"

#include <QMetaObject>
#include <chrono>

#include "fleetscope/ipc/process_liveness.hpp"

namespace fleetscope::app {
DiscoveryWorker::DiscoveryWorker(int interval_ms, QObject* parent)
    : QObject(parent), interval_ms_(interval_ms), thread_([this] { run(); }) {}

DiscoveryWorker::~DiscoveryWorker() { stop(); }

void DiscoveryWorker::setSkipped(std::set<std::string> names) {
  std::lock_guard lock(mutex_);
  skipped_ = std::move(names);
}

void DiscoveryWorker::requestNow() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_one();
}

void DiscoveryWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t DiscoveryWorker::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

void DiscoveryWorker::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    requested_ = false;
    const std::set<std::string> skipped = skipped_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    auto result = std::make_shared<DiscoveryResult>();
    result->listed_ns = ipc::monotonic_ns();
    bool stopped = false;
    for (const std::string& name : ipc::list_segment_names()) {
      if (skipped.count(name)) {
        result->skipped.push_back(name);
        continue;
      }
      lock.lock();
      stopped = stopping_;
      lock.unlock();
      if (stopped) break;
      result->summaries.push_back(ipc::summarise_segment(name));
    }
    result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    if (stopping_) break;
    result->round = ++rounds_;
    // Delivered on the GUI thread; dropped with this object if it is destroyed first (stop()
    // has joined this thread by then, and the posted call dies with its receiver).
    QMetaObject::invokeMethod(
        this,
        [this, result = std::shared_ptr<const DiscoveryResult>(std::move(result))] {
          {
            std::lock_guard guard(mutex_);
            if (stopping_) return;  // posted before stop(), delivered after it
          }
          emit discovered(result);
        },
        Qt::QueuedConnection);
    wake_.wait_until(lock, start + std::chrono::milliseconds(interval_ms_), [this] { return stopping_ || requested_; });
  }
}

}  // namespace fleetscope::app
