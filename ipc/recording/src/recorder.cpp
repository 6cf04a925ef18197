#include "fleetscope/recording/recorder.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <thread>

#include "bytes.hpp"
#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/recording/foxglove_channels.hpp"
#include "fleetscope/recording/messages.hpp"

namespace fleetscope::recording {

namespace {
constexpr std::uint64_t kDiscoverEveryNs = 1'000'000'000ULL;

std::uint64_t seconds_to_ns(double s) { return static_cast<std::uint64_t>(std::max(0.0, s) * 1e9); }

McapWriterOptions writer_options(const RecorderOptions& o) {
  McapWriterOptions w;
  w.profile = kProfile;
  w.library = "fleetscope-shm record";
  w.chunk_size = o.chunk_size;
  w.compress = o.compress;
  return w;
}
// The named segments are opened before the output file is created: a misspelt name must not
// truncate an existing recording.
const std::filesystem::path& checked_output(const RecorderOptions& o, ipc::SourceRegistry& registry) {
  for (const auto& name : o.segments) registry.attach(name);
  return o.output;
}

}  // namespace

struct Recorder::Track {
  ipc::Source* source = nullptr;
  std::string name;
  std::map<std::string, std::uint16_t> channels;  // by kind
  std::uint64_t generation = UINT64_MAX;
  std::uint64_t epoch = UINT64_MAX;
  std::uint64_t last_frame = 0;
  std::uint64_t next_keyframe_ns = 0;
  std::uint64_t next_telemetry_ns = 0;
  ipc::ScalarCursor cursor;
  std::uint32_t tags_written = 0;
  std::vector<std::byte> last_workers, last_jobs;
  std::set<std::uint32_t> meshes_written;  // of this generation
  std::vector<ipc::ScalarSample> samples;
  PoseEncoder poses;  // the segment's pose stream (reset with every layout)
  SegmentRecordStats stats;
};

Recorder::Recorder(const RecorderOptions& options)
    : options_(options),
      registry_(ipc::RegistryOptions{.reader = options.reader}),
      writer_(checked_output(options_, registry_), writer_options(options)) {
  if (options_.foxglove) foxglove_ = std::make_unique<FoxgloveChannels>(writer_);
  std::string names;
  for (const auto& s : options_.segments) names += (names.empty() ? "" : " ") + s;
  writer_.add_metadata(kMetadataName, {{"version", std::to_string(kRecordingMajor) + "." + std::to_string(kRecordingMinor)},
                                       {"started_unix_ns", std::to_string(ipc::unix_time_ns())},
                                       {"segments", names},
                                       {"all", options_.all ? "true" : "false"},
                                       {"keyframe_interval_s", std::to_string(options_.keyframe_interval_s)}});
  for (const auto& s : options_.segments) attach(s);
  if (options_.all) discover();
}

Recorder::~Recorder() {
  try {
    finish();
  } catch (const std::exception&) {
    // finish() reports errors to callers that call it.
  }
}

void Recorder::attach(const std::string& name) {
  for (const auto& t : tracks_) {
    if (t->name == name) return;
  }
  ipc::Source& source = registry_.attach(name);
  auto t = std::make_unique<Track>();
  t->poses = PoseEncoder(options_.exact ? PoseEncoding::kExact : PoseEncoding::kQuantised, options_.quantisation);
  t->source = &source;
  t->name = name;
  t->stats.name = name;
  tracks_.push_back(std::move(t));
}

void Recorder::discover() {
  last_discover_ns_ = ipc::monotonic_ns();
  for (const auto& name : ipc::list_segment_names()) {
    if (registry_.attached(name)) continue;
    try {
      attach(name);
    } catch (const ipc::SegmentError&) {
      // Another user's, not ready yet, or not a segment we can read: looked at again next time.
    }
  }
}

void Recorder::poll() {
  if (finished_) return;
  registry_.refresh();
  const std::uint64_t mono = ipc::monotonic_ns();
  const std::uint64_t unix_now = ipc::unix_time_ns();
  if (options_.all && mono - last_discover_ns_ >= kDiscoverEveryNs) discover();
  for (auto& t : tracks_) {
    if (!t->source) continue;  // stopped after an error
    try {
      record_source(*t, unix_now, mono);
    } catch (const ipc::SegmentError& e) {
      // One segment that cannot be read any more (truncated under the recorder, say) ends that
      // segment's recording, not the others': its error goes into the end metadata.
      t->stats.error = std::string("stopped recording: ") + e.what();
      registry_.detach(t->name);
      t->source = nullptr;
    }
  }
  writer_.flush_if_older(unix_now, seconds_to_ns(options_.chunk_age_s));
}

void Recorder::run(const std::atomic<bool>& stop, double max_seconds, double poll_interval_s) {
  const std::uint64_t start = ipc::monotonic_ns();
  const auto sleep = std::chrono::nanoseconds(seconds_to_ns(poll_interval_s));
  while (!stop.load(std::memory_order_relaxed)) {
    poll();
    if (max_seconds > 0 && ipc::monotonic_ns() - start >= seconds_to_ns(max_seconds)) break;
    std::this_thread::sleep_for(sleep);
  }
  finish();
}

std::uint16_t Recorder::channel_of(Track& t, std::string_view kind) {
  // A segment's channel of one kind, made on first use with the kind's schema (one per file).
  const std::string key(kind);
  const auto it = t.channels.find(key);
  if (it != t.channels.end()) return it->second;
  auto sit = schemas_.find(key);
  if (sit == schemas_.end()) {
    const std::string text = schema_text(kind);
    sit = schemas_.emplace(key, writer_.add_schema("fleetscope." + key, kSchemaEncoding, detail::as_bytes(text))).first;
  }
  const auto id = writer_.add_channel(sit->second, t.name + "/" + key, kMessageEncoding, {{"segment", t.name}, {"kind", key}});
  t.channels.emplace(key, id);
  return id;
}

void Recorder::record_source(Track& t, std::uint64_t now_unix, std::uint64_t now_mono) {
  ipc::Source& s = *t.source;
  if (s.generation() != t.generation) {
    if (t.generation != UINT64_MAX) ++t.stats.restarts;
    t.generation = s.generation();
    t.epoch = UINT64_MAX;
    t.last_frame = 0;
    t.cursor = {};
    t.tags_written = 0;
    t.last_workers.clear();
    t.last_jobs.clear();
    t.meshes_written.clear();
  }
  const std::uint64_t mono_to_unix = now_unix - now_mono;  // wraps as needed: both are u64
  if (s.has_poses()) {
    const ipc::FrameInfo before = s.frame();
    const ipc::IngestStats st = s.ingest();
    if (!s.error().empty()) t.stats.error = s.error();
    bool force_keyframe = false;
    if (s.error().empty() && (st.layout_changed || s.layout().epoch != t.epoch)) {
      write_meshes(t, now_unix);  // before the layout whose visuals use them
      write_layout(t, now_unix);
      t.epoch = s.layout().epoch;
      force_keyframe = true;
    }
    if (st.frame != 0 && st.frame != t.last_frame && s.error().empty()) {
      if (t.last_frame != 0 && st.frame > t.last_frame + 1) t.stats.frames_lost += st.frame - t.last_frame - 1;
      PoseFrameMessage m;
      m.frame = st.frame;
      const ipc::FrameInfo after = s.frame();
      m.sim_time = before.frame == st.frame  ? before.sim_time
                   : after.frame == st.frame ? after.sim_time
                                             : std::numeric_limits<double>::quiet_NaN();
      m.publish_ns = st.publish_ns;
      m.generation = t.generation;
      m.epoch = t.epoch;
      m.frames_lost = t.stats.frames_lost;
      const auto changes = s.changes();
      for (std::size_t i = 0; i < changes.size(); ++i) {
        if (m.robots.empty() || m.robots.back().slot != changes[i].slot) m.robots.push_back({changes[i].slot, {}, {}});
        RobotPoses& rp = m.robots.back();
        const auto poses = s.poses(changes[i].slot);
        if (changes[i].link >= poses.size()) continue;
        rp.links.push_back(static_cast<std::uint16_t>(changes[i].link));
        rp.poses.push_back(poses[changes[i].link]);
      }
      t.stats.links += changes.size();
      writer_.write(channel_of(t, kPosesKind), now_unix, st.publish_ns + mono_to_unix, t.poses.encode(m, false));
      ++t.stats.frames;
      t.last_frame = st.frame;
      if (foxglove_) {  // every link when this pass also writes a keyframe (below)
        foxglove_->transforms(t.name, s, m, force_keyframe || now_mono >= t.next_keyframe_ns, now_unix,
                              st.publish_ns + mono_to_unix);
      }
      if (!s.attribute_changes().empty()) {
        AttributesMessage a;
        for (const auto slot : s.attribute_changes()) a.robots.push_back({slot, s.attributes(slot)});
        writer_.write(channel_of(t, kAttributesKind), now_unix, now_unix, encode(a));
      }
    }
    if (s.error().empty() && t.epoch != UINT64_MAX && t.last_frame != 0 &&
        (force_keyframe || now_mono >= t.next_keyframe_ns)) {
      write_keyframe(t, now_unix, st.publish_ns + mono_to_unix);
      (void)channel_of(t, kAttributesKind);
      AttributesMessage a;
      for (const auto& r : s.layout().robots) a.robots.push_back({r.slot, s.attributes(r.slot)});
      writer_.write(channel_of(t, kAttributesKind), now_unix, now_unix, encode(a));
      t.next_keyframe_ns = now_mono + seconds_to_ns(options_.keyframe_interval_s);
    }
  } else if (t.epoch == UINT64_MAX) {
    write_layout(t, now_unix);  // a telemetry-only segment: its layout says so
    t.epoch = 0;
  }
  if (s.has_telemetry() && now_mono >= t.next_telemetry_ns) {
    t.next_telemetry_ns = now_mono + seconds_to_ns(options_.telemetry_interval_s);
    try {
      record_telemetry(t, now_unix);
    } catch (const ipc::SegmentError& e) {
      t.stats.error = e.what();
    }
  }
}

void Recorder::write_layout(Track& t, std::uint64_t log_time) {
  ipc::Source& s = *t.source;
  LayoutMessage m;
  m.segment = t.name;
  m.generation = t.generation;
  m.writer_pid = s.writer_pid();
  m.has_poses = s.has_poses();
  m.has_telemetry = s.has_telemetry();
  if (s.has_poses()) {
    m.epoch = s.layout().epoch;
    m.models = s.layout().models;
    m.robots = s.layout().robots;
  }
  writer_.write(channel_of(t, kLayoutKind), log_time, log_time, encode(m));
  t.poses.reset();  // the pose stream's prediction starts again after every layout
  ++t.stats.layouts;
}

void Recorder::write_meshes(Track& t, std::uint64_t log_time) {
  ipc::Source& s = *t.source;
  const auto stored = static_cast<std::uint32_t>(ipc::Shape::kInlineMesh);
  for (const auto& model : s.layout().models) {
    for (const auto& mv : model.all_visuals) {
      if (mv.visual.shape != stored || !t.meshes_written.insert(mv.mesh).second) continue;
      MeshMessage m;
      m.generation = t.generation;
      m.index = mv.mesh;
      try {
        m.mesh = *s.mesh(mv.mesh);
      } catch (const ipc::SegmentError& e) {
        t.stats.error = e.what();  // a corrupt mesh is not recorded (the viewer would refuse it too)
        continue;
      }
      writer_.write(channel_of(t, kMeshesKind), log_time, log_time, encode(m));
      ++t.stats.meshes;
    }
  }
}

void Recorder::write_keyframe(Track& t, std::uint64_t log_time, std::uint64_t publish_time) {
  ipc::Source& s = *t.source;
  PoseFrameMessage m;
  m.frame = t.last_frame;
  const ipc::FrameInfo f = s.frame();
  m.sim_time = f.frame == t.last_frame ? f.sim_time : std::numeric_limits<double>::quiet_NaN();
  m.publish_ns = f.publish_ns;
  m.generation = t.generation;
  m.epoch = t.epoch;
  m.frames_lost = t.stats.frames_lost;
  for (const auto& r : s.layout().robots) {
    const auto poses = s.poses(r.slot);
    RobotPoses rp{r.slot, {}, {poses.begin(), poses.end()}};
    rp.links.resize(poses.size());
    for (std::size_t l = 0; l < poses.size(); ++l) rp.links[l] = static_cast<std::uint16_t>(l);
    t.stats.links += poses.size();
    m.robots.push_back(std::move(rp));
  }
  writer_.write(channel_of(t, kKeyframeKind), log_time, publish_time, t.poses.encode(m, true));
  ++t.stats.keyframes;
  if (foxglove_) foxglove_->scene(t.name, s, log_time, publish_time);
}

void Recorder::record_telemetry(Track& t, std::uint64_t log_time) {
  ipc::Source& s = *t.source;
  t.samples.clear();
  const std::uint64_t lost = s.read_scalars(t.cursor, t.samples, SIZE_MAX);
  t.stats.scalars_lost += lost;
  // Tags after the records: a record may name a tag counted after an earlier look.
  const std::uint32_t tags = s.tag_count();
  if (tags > t.tags_written) {
    TagsMessage m{t.tags_written, s.tags_from(t.tags_written)};
    writer_.write(channel_of(t, kTagsKind), log_time, log_time, encode(m));
    if (foxglove_) foxglove_->tags(t.name, m.first, m.names);
    t.tags_written = static_cast<std::uint32_t>(t.tags_written + m.names.size());
  }
  if (!t.samples.empty() || lost > 0) {
    ScalarsMessage m{t.cursor.lost, std::move(t.samples)};
    writer_.write(channel_of(t, kScalarsKind), log_time, log_time, encode(m));
    if (foxglove_) foxglove_->scalars(t.name, m.samples, log_time);
    t.stats.scalars += m.samples.size();
    t.samples = std::move(m.samples);
  }
  auto workers = encode_workers(s.workers());
  if (workers != t.last_workers) {
    writer_.write(channel_of(t, kWorkersKind), log_time, log_time, workers);
    t.last_workers = std::move(workers);
  }
  auto jobs = encode_jobs(s.jobs());
  if (jobs != t.last_jobs) {
    writer_.write(channel_of(t, kJobsKind), log_time, log_time, jobs);
    t.last_jobs = std::move(jobs);
  }
}

void Recorder::finish() {
  if (finished_) return;
  finished_ = true;
  StringMap end{{"finished_unix_ns", std::to_string(ipc::unix_time_ns())}};
  for (const auto& t : tracks_) {
    end[t->name + ".frames"] = std::to_string(t->stats.frames);
    end[t->name + ".frames_lost"] = std::to_string(t->stats.frames_lost);
    end[t->name + ".keyframes"] = std::to_string(t->stats.keyframes);
    end[t->name + ".scalars"] = std::to_string(t->stats.scalars);
    end[t->name + ".scalars_lost"] = std::to_string(t->stats.scalars_lost);
    end[t->name + ".restarts"] = std::to_string(t->stats.restarts);
    end[t->name + ".meshes"] = std::to_string(t->stats.meshes);
  }
  writer_.add_metadata(kEndMetadataName, end);
  writer_.finish();
}

std::vector<SegmentRecordStats> Recorder::stats() const {
  std::vector<SegmentRecordStats> out;
  for (const auto& t : tracks_) out.push_back(t->stats);
  return out;
}

std::uint64_t Recorder::bytes_written() const noexcept { return writer_.bytes_written(); }

}  // namespace fleetscope::recording
