// Records segments into an MCAP file (ipc/recording/FORMAT.md). The recorder is a reader like the
// viewer: it borrows its sources from a SourceRegistry, so it never slows a writer; when it falls
// behind a writer it counts the frames it missed (the dirty-link rule still gives it every link
// that changed) and scalar records the ring overwrote before it read them.
// Not thread-safe: poll() and finish() from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscope/ipc/source_registry.hpp"
#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/messages.hpp"

namespace fleetscope::recording {

class FoxgloveChannels;

struct RecorderOptions {
  std::vector<std::string> segments;  // recorded from the start; each must exist
  bool all = false;                   // also every segment that appears (checked every second)
  std::filesystem::path output;
  ipc::ReaderOptions reader;
  double keyframe_interval_s = 2.0;   // full pose snapshot of each segment this often
  double telemetry_interval_s = 0.1;  // scalars, worker and job rows read this often
  double chunk_age_s = 1.0;           // a chunk is written at least this often (SIGKILL loses less)
  std::size_t chunk_size = 1u << 20;  // or when its records reach this size
  bool compress = true;
  // Also the Foxglove channels (foxglove_channels.hpp): scene, transforms and scalars as JSON.
  bool foxglove = false;
  // Poses: exact f32 (false: quantised and predicted, FORMAT.md "Quantised poses", about 9x
  // smaller) and the grid of the quantised encoding.
  bool exact = false;
  PoseQuantisation quantisation;
};

struct SegmentRecordStats {
  std::string name;
  std::uint64_t frames = 0;       // frames recorded (pose messages)
  std::uint64_t frames_lost = 0;  // frames published that the recorder did not see
  std::uint64_t keyframes = 0;
  std::uint64_t links = 0;        // link poses written (dirty links and keyframes)
  std::uint64_t layouts = 0;
  std::uint64_t meshes = 0;       // stored meshes recorded
  std::uint64_t scalars = 0;
  std::uint64_t scalars_lost = 0;
  std::uint64_t restarts = 0;     // writers restarted under the name
  std::string error;              // the last read error, if any
};

class Recorder {
 public:
  // Creates the output file and attaches the named segments. Throws McapError (file) or
  // ipc::SegmentError (a named segment that cannot be read).
  explicit Recorder(const RecorderOptions& options);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // One pass: liveness, restarts, new segments (--all), poses, telemetry, chunk flushing.
  void poll();
  // Polls until `stop` is set (or `max_seconds` > 0 have passed), sleeping `poll_interval_s`
  // between passes, then finishes the file.
  void run(const std::atomic<bool>& stop, double max_seconds = 0.0, double poll_interval_s = 0.002);
  // Writes the end metadata (counts and frames lost per segment) and finishes the file.
  void finish();

  std::vector<SegmentRecordStats> stats() const;
  std::uint64_t bytes_written() const noexcept;

 private:
  struct Track;
  void attach(const std::string& name);
  void discover();
  void record_source(Track& t, std::uint64_t now_unix, std::uint64_t now_mono);
  std::uint16_t channel_of(Track& t, std::string_view kind);
  void write_layout(Track& t, std::uint64_t log_time);
  void write_meshes(Track& t, std::uint64_t log_time);
  void write_keyframe(Track& t, std::uint64_t log_time, std::uint64_t publish_time);
  void record_telemetry(Track& t, std::uint64_t log_time);

  RecorderOptions options_;
  ipc::SourceRegistry registry_;
  McapWriter writer_;
  std::unique_ptr<FoxgloveChannels> foxglove_;  // with RecorderOptions::foxglove
  std::map<std::string, std::uint16_t> schemas_;  // by kind
  std::vector<std::unique_ptr<Track>> tracks_;
  std::uint64_t last_discover_ns_ = 0;
  bool finished_ = false;
};

}  // namespace fleetscope::recording
