// fleetscope-shm: list, inspect, watch, dump and garbage-collect fleetscope segments.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "fleetscope/ipc/discovery.hpp"
#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"
#include "fleetscope/recording/mcap.hpp"
#include "fleetscope/recording/recorder.hpp"

namespace po = boost::program_options;
namespace ipc = fleetscope::ipc;

namespace {

std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

const char* kUsage =
    "Usage: fleetscope-shm COMMAND [options]\n"
    "Commands:\n"
    "  list                 every fleetscope segment: owner, writer pid, state, robots, links, fps, age\n"
    "  inspect NAME         header, models and robots of one segment\n"
    "  watch NAME           live frames/s, dirty links per frame and publish-to-read latency\n"
    "  dump NAME            every robot's link poses (x y z qx qy qz qw), one line per link\n"
    "  gc                   remove segments whose writer is dead; never a live one\n"
    "  record NAME... [--all] [--exact] -o FILE.mcap\n"
    "                       record segments (layout, poses, keyframes, telemetry) into an MCAP file\n"
    "                       until Ctrl-C/SIGTERM (or --seconds); --all also records segments that appear\n"
    "                       --foxglove also writes channels Foxglove Studio shows (scene, transforms, scalars)\n"
    "  recover IN.mcap -o OUT.mcap\n"
    "                       rebuild a recording cut short (SIGKILL, power loss) from its complete chunks\n";

std::string age_text(std::uint64_t created_unix_ns) {
  const std::uint64_t now = ipc::unix_time_ns();
  const double s = now > created_unix_ns ? (now - created_unix_ns) / 1e9 : 0.0;
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%.0fm", s / 60);
  else std::snprintf(buf, sizeof buf, "%.1fh", s / 3600);
  return buf;
}

int cmd_list(bool read_other_users) {
  const auto first = ipc::discover_segments(1'000'000'000ULL, read_other_users);
  if (first.empty()) {
    std::printf("no fleetscope segments\n");
    return 0;
  }
  // frames/s from two samples a short moment apart
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const auto second = ipc::discover_segments(1'000'000'000ULL, read_other_users);
  std::printf("%-24s %6s %8s %-7s %7s %7s %8s %6s %9s\n", "NAME", "OWNER", "PID", "STATE", "ROBOTS",
              "LINKS", "FPS", "AGE", "SIZE");
  for (const auto& s : first) {
    // Names and messages come from /dev/shm, where anyone can create files: never print raw
    // bytes (escape sequences) to the terminal.
    const std::string name = ipc::printable(s.name);
    if (s.other_user) {
      std::printf("%-24s %6u %8s %-7s %s\n", name.c_str(), s.owner_uid, "-", "-", "another user's; not read");
      continue;
    }
    if (!s.readable) {
      std::printf("%-24s unreadable: %s\n", name.c_str(), ipc::printable(s.error).c_str());
      continue;
    }
    double fps = 0.0;
    for (const auto& t : second) {
      if (t.name == s.name && t.readable) fps = (t.frame - s.frame) / 0.25;
    }
    std::printf("%-24s %6u %8d %-7s %7u %7llu %8.1f %6s %8.1fM\n", name.c_str(), s.owner_uid,
                s.writer_pid, ipc::writer_state_name(s.status.state), s.robots,
                static_cast<unsigned long long>(s.links), fps, age_text(s.created_unix_ns).c_str(),
                s.size_bytes / 1048576.0);
  }
  return 0;
}

const char* shape_name(std::uint32_t shape) {
  static const char* names[] = {"box", "sphere", "cylinder", "capsule", "mesh", "plane", "ellipsoid", "mesh*"};
  return shape < ipc::kExtendedShapeCount ? names[shape] : "?";
}

int cmd_inspect(const std::string& name, const ipc::ReaderOptions& options) {
  const auto reader = ipc::SegmentReader::open(name, options);
  const auto& info = reader.info();
  const auto layout = reader.read_layout();
  const auto frame = reader.frame();
  const auto status = reader.writer_status();
  const auto& c = info.layout.capacities;
  std::printf("segment      %s (/dev/shm/%s%s)\n", info.name.c_str(), std::string(ipc::kObjectPrefix).c_str(),
              info.name.c_str());
  std::printf("format       %u.%u\n", info.abi_major, info.abi_minor);
  std::printf("size         %llu bytes (%.2f MiB), mode %04o, owner uid %u\n",
              static_cast<unsigned long long>(reader.bytes().size()), reader.bytes().size() / 1048576.0,
              info.mode, info.owner_uid);
  std::printf("capacity     %u robots x %u links, %u models, %u visuals, dirty history %u\n", c.robots,
              c.links_per_robot, c.models, c.visuals, c.dirty_history);
  std::printf("writer       pid %d, uid %u, %s (heartbeat %.2fs ago, last publish %.2fs ago)\n",
              info.writer_pid, info.writer_uid, ipc::writer_state_name(status.state),
              status.heartbeat_age_ns / 1e9, status.publish_age_ns / 1e9);
  std::printf("frame        %llu, sim time %.3fs, %llu links in %llu robots changed\n",
              static_cast<unsigned long long>(frame.frame), frame.sim_time,
              static_cast<unsigned long long>(frame.dirty_links),
              static_cast<unsigned long long>(frame.changed_robots));
  std::printf("layout epoch %llu\n", static_cast<unsigned long long>(layout.epoch));
  std::printf("models       %zu\n", layout.models.size());
  for (std::size_t m = 0; m < layout.models.size(); ++m) {
    const auto& model = layout.models[m];
    std::printf("  [%zu] %s: %zu links, %zu visuals\n", m, ipc::printable(model.name).c_str(), model.visuals.size(),
                model.all_visuals.size());
    for (const auto& mv : model.all_visuals) {
      const auto& v = mv.visual;
      std::printf("       %-12s %-9s dims %.3f %.3f %.3f offset %.3f %.3f %.3f rgba %u %u %u %u%s%s",
                  ipc::printable(model.visuals[mv.link].link_name).c_str(), shape_name(v.shape), v.dims[0], v.dims[1],
                  v.dims[2], v.offset_position[0], v.offset_position[1], v.offset_position[2], v.rgba[0], v.rgba[1],
                  v.rgba[2], v.rgba[3], v.mesh_path[0] ? " mesh " : "", ipc::printable(v.mesh_path).c_str());
      if (v.shape == static_cast<std::uint32_t>(ipc::Shape::kInlineMesh)) std::printf(" stored mesh %u", mv.mesh);
      std::printf("\n");
    }
  }
  if (info.geometry) {
    const std::uint32_t meshes = reader.mesh_count();
    std::printf("meshes       %u of %u stored, %llu-byte arena (* = stored in the segment)\n", meshes,
                info.geometry->capacities.meshes, static_cast<unsigned long long>(info.geometry->capacities.mesh_bytes));
    for (std::uint32_t i = 0; i < meshes; ++i) {
      try {
        const ipc::MeshData mesh = reader.read_mesh(i);
        std::printf("  mesh %-4u %zu vertices, %zu triangles%s\n", i, mesh.vertex_count(), mesh.triangle_count(),
                    mesh.normals.empty() ? "" : ", normals");
      } catch (const ipc::SegmentError& e) {
        std::printf("  mesh %-4u refused: %s\n", i, e.what());
      }
    }
  }
  std::printf("robots       %zu\n", layout.robots.size());
  for (const auto& r : layout.robots) {
    std::printf("  slot %-5u %-20s model %u (%u links)\n", r.slot, ipc::printable(r.name).c_str(), r.model, r.link_count);
  }
  if (const auto telemetry = ipc::TelemetryReader::of(reader)) {
    const auto& t = telemetry->layout().capacities;
    const auto tags = telemetry->tags_from(0);
    const auto workers = telemetry->workers();
    const auto jobs = telemetry->jobs();
    std::printf("telemetry    ring %u records (%llu written), %zu/%u tags, %zu/%u workers, %zu/%u jobs\n",
                t.scalars, static_cast<unsigned long long>(telemetry->scalars_written()), tags.size(), t.tags,
                workers.size(), t.workers, jobs.size(), t.jobs);
    for (std::size_t i = 0; i < tags.size(); ++i) std::printf("  tag %-4zu %s\n", i, ipc::printable(tags[i]).c_str());
    for (const auto& w : workers) {
      std::printf("  worker %-4u pid %-7d %-10s %-10s steps %llu (%.1f/s) restarts %u\n", w.worker_id, w.pid,
                  ipc::printable(w.host).c_str(), ipc::worker_state_name(w.state), static_cast<unsigned long long>(w.steps),
                  w.steps_per_s, w.restarts);
    }
    for (const auto& j : jobs) {
      std::printf("  job    %-20s %-8s %llu/%llu gpu %d rounds %u done %u failed %u retried\n",
                  ipc::printable(j.object_code).c_str(), ipc::job_state_name(j.state),
                  static_cast<unsigned long long>(j.collected_count), static_cast<unsigned long long>(j.target_count),
                  j.gpu, j.rounds_done, j.rounds_failed, j.rounds_retried);
    }
  } else {
    std::printf("telemetry    none\n");
  }
  return 0;
}

int cmd_dump(const std::string& name, const ipc::ReaderOptions& options) {
  const auto reader = ipc::SegmentReader::open(name, options);
  ipc::PoseIngestor ingestor(reader);
  reader.writer_status();  // a gone writer's half-written robots are then read once, not retried
  const auto stats = ingestor.ingest();
  if (stats.robots_torn > 0) {
    std::cerr << "fleetscope-shm: " << stats.robots_torn
              << " robots were left in the middle of a write by their dead writer; their poses are as it left them\n";
  }
  if (stats.robots_deferred > 0) {
    std::cerr << "fleetscope-shm: " << stats.robots_deferred << " robots were busy; run again\n";
    return 1;
  }
  std::printf("# frame %llu\n", static_cast<unsigned long long>(stats.frame));
  for (const auto& r : ingestor.layout().robots) {
    const auto poses = ingestor.poses(r.slot);
    for (std::size_t l = 0; l < poses.size(); ++l) {
      const auto& p = poses[l];
      std::printf("%s %zu %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", ipc::printable(r.name).c_str(), l, p.position[0],
                  p.position[1], p.position[2], p.orientation[0], p.orientation[1], p.orientation[2],
                  p.orientation[3]);
    }
  }
  return 0;
}

int cmd_watch(const std::string& name, const ipc::ReaderOptions& options, double seconds) {
  const auto reader = ipc::SegmentReader::open(name, options);
  ipc::PoseIngestor ingestor(reader);
  std::printf("watching '%s' (Ctrl-C to stop)\n", name.c_str());
  std::fflush(stdout);
  const std::uint64_t start = ipc::monotonic_ns();
  std::uint64_t window_start = start;
  std::uint64_t last_frame = 0, frames = 0, links = 0, ingest_ns = 0, ingests = 0;
  std::vector<double> latency_ms;
  while (!stop_requested.load(std::memory_order_relaxed)) {
    const std::uint64_t t0 = ipc::monotonic_ns();
    const auto stats = ingestor.ingest();
    const std::uint64_t t1 = ipc::monotonic_ns();
    ingest_ns += t1 - t0;
    ++ingests;
    if (stats.frame != last_frame) {
      frames += last_frame == 0 ? 0 : stats.frame - last_frame;
      if (last_frame != 0 && t1 > stats.publish_ns) latency_ms.push_back((t1 - stats.publish_ns) / 1e6);
      last_frame = stats.frame;
      links += stats.links_changed;
    }
    if (t1 - window_start >= 1000000000ULL) {
      const double secs = (t1 - window_start) / 1e9;
      std::sort(latency_ms.begin(), latency_ms.end());
      auto pct = [&](double p) {
        return latency_ms.empty() ? 0.0 : latency_ms[std::min(latency_ms.size() - 1, std::size_t(latency_ms.size() * p))];
      };
      const auto status = reader.writer_status();
      std::printf("%-7s fps=%6.1f dirty_links/frame=%7.1f latency_ms p50=%.3f p99=%.3f ingest_us=%.1f robots=%zu\n",
                  ipc::writer_state_name(status.state), frames / secs, frames ? double(links) / frames : 0.0,
                  pct(0.5), pct(0.99), ingests ? ingest_ns / 1e3 / ingests : 0.0, ingestor.layout().robots.size());
      std::fflush(stdout);
      if (ipc::writer_is_gone(status.state)) {
        std::printf("writer is %s; stopping\n", ipc::writer_state_name(status.state));
        return 0;
      }
      window_start = t1;
      frames = links = ingest_ns = ingests = 0;
      latency_ms.clear();
    }
    if (seconds > 0 && (t1 - start) / 1e9 >= seconds) break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return 0;
}

int cmd_record(const std::vector<std::string>& names, bool all, bool foxglove, const std::string& output,
               double seconds,
               double keyframe_interval, bool exact, const ipc::ReaderOptions& options) {
  namespace rec = fleetscope::recording;
  rec::RecorderOptions o;
  o.segments = names;
  o.all = all;
  o.output = output;
  o.reader = options;
  o.keyframe_interval_s = keyframe_interval;
  o.foxglove = foxglove;
  o.exact = exact;
  rec::Recorder recorder(o);
  std::printf("recording %zu segment%s%s to %s (Ctrl-C to stop)\n", names.size(), names.size() == 1 ? "" : "s",
              all ? " and every segment that appears" : "", ipc::printable(output).c_str());
  std::fflush(stdout);
  recorder.run(stop_requested, seconds);
  std::uint64_t lost = 0;
  for (const auto& s : recorder.stats()) {
    lost += s.frames_lost;
    std::printf("%s: %llu frames recorded, %llu frames lost, %llu keyframes, %llu layouts, %llu scalars (%llu lost), "
                "%llu restarts%s%s\n",
                ipc::printable(s.name).c_str(), static_cast<unsigned long long>(s.frames),
                static_cast<unsigned long long>(s.frames_lost), static_cast<unsigned long long>(s.keyframes),
                static_cast<unsigned long long>(s.layouts), static_cast<unsigned long long>(s.scalars),
                static_cast<unsigned long long>(s.scalars_lost), static_cast<unsigned long long>(s.restarts),
                s.error.empty() ? "" : "; last error: ", ipc::printable(s.error).c_str());
  }
  std::printf("wrote %s: %.2f MiB, %llu frames lost in all\n", ipc::printable(output).c_str(),
              recorder.bytes_written() / 1048576.0, static_cast<unsigned long long>(lost));
  return 0;
}

int cmd_recover(const std::string& in, const std::string& out) {
  const auto warnings = fleetscope::recording::recover_mcap(in, out);
  for (const auto& w : warnings) std::fprintf(stderr, "fleetscope-shm: %s\n", ipc::printable(w).c_str());
  const auto reader = fleetscope::recording::McapReader::open(out);
  std::printf("recovered %s: %llu messages in %u chunks, %u channels\n", ipc::printable(out).c_str(),
              static_cast<unsigned long long>(reader.statistics().message_count), reader.statistics().chunk_count,
              reader.statistics().channel_count);
  return 0;
}

int cmd_gc() {
  const auto removed = ipc::remove_dead_segments();
  if (removed.empty()) std::printf("nothing to remove\n");
  for (const auto& r : removed) std::printf("removed %s (%s)\n", r.name.c_str(), r.reason.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, name, output;
  std::vector<std::string> names;
  double seconds = 0, keyframe_interval = 2.0;
  bool foxglove = false;
  bool allow_other = false, record_all = false, exact = false;
  po::options_description desc("Options");
  desc.add_options()("help,h", "show this help")
      ("allow-other-users", po::bool_switch(&allow_other), "read segments owned by other users")
      ("seconds", po::value(&seconds)->default_value(0), "watch, record: stop after this many seconds (0 = never)")
      ("output,o", po::value(&output), "record, recover: the MCAP file to write")
      ("all", po::bool_switch(&record_all), "record: also every segment that appears while recording")
      ("foxglove", po::bool_switch(&foxglove),
       "record: also Foxglove channels (foxglove.SceneUpdate, foxglove.FrameTransforms, scalars as JSON)")
      ("keyframe-interval", po::value(&keyframe_interval)->default_value(2.0),
       "record: seconds between full pose snapshots")
      ("exact", po::bool_switch(&exact),
       "record: poses as exact f32 (default: quantised, within 31 um and 1.2e-4 rad, ~9x smaller)");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&command))("name", po::value(&names)->multitoken());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("name", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-shm: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (vm.count("help") || command.empty()) {
    std::cout << kUsage << desc << "\n";
    return command.empty() && !vm.count("help") ? 2 : 0;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const ipc::ReaderOptions options{.allow_other_users = allow_other};
  const bool needs_name = command == "inspect" || command == "watch" || command == "dump" || command == "recover";
  const bool many_names = command == "record";
  if (!names.empty()) name = names.front();
  try {
    if (many_names) {
      if (names.empty() && !record_all) {
        std::cerr << "fleetscope-shm: 'record' needs segment NAMEs or --all\n" << kUsage;
        return 2;
      }
      if (output.empty()) {
        std::cerr << "fleetscope-shm: 'record' needs -o FILE.mcap\n";
        return 2;
      }
      if (!(seconds == 0.0 || (seconds > 0.0 && seconds <= 1e7))) {  // NaN fails both
        std::cerr << "fleetscope-shm: --seconds must be 0 (until stopped) or in (0, 10000000]\n";
        return 2;
      }
      if (!(keyframe_interval > 0.0 && keyframe_interval <= 3600.0)) {
        std::cerr << "fleetscope-shm: --keyframe-interval must be in (0, 3600] seconds\n";
        return 2;
      }
      return cmd_record(names, record_all, foxglove, output, seconds, keyframe_interval, exact, options);
    }
    if (names.size() > 1) {
      std::cerr << "fleetscope-shm: '" << ipc::printable(command) << "' takes one NAME\n";
      return 2;
    }
    if (command == "recover") {
      if (name.empty() || output.empty()) {
        std::cerr << "fleetscope-shm: 'recover' needs IN.mcap and -o OUT.mcap\n";
        return 2;
      }
      return cmd_recover(name, output);
    }
    if (needs_name && name.empty()) {
      std::cerr << "fleetscope-shm: '" << ipc::printable(command) << "' needs a segment NAME\n" << kUsage;
      return 2;
    }
    if (!needs_name && !name.empty()) {
      std::cerr << "fleetscope-shm: '" << ipc::printable(command) << "' takes no NAME\n";
      return 2;
    }
    if (command == "list") return cmd_list(allow_other);
    if (command == "inspect") return cmd_inspect(name, options);
    if (command == "watch") return cmd_watch(name, options, seconds);
    if (command == "dump") return cmd_dump(name, options);
    if (command == "gc") return cmd_gc();
    std::cerr << "fleetscope-shm: unknown command '" << ipc::printable(command) << "'\n" << kUsage;
    return 2;
  } catch (const ipc::SegmentError& e) {
    std::cerr << "fleetscope-shm: " << e.what() << "\n";  // names in messages are escaped where they are built
    return 1;
  } catch (const fleetscope::recording::McapError& e) {
    std::cerr << "fleetscope-shm: " << ipc::printable(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // A recording whose chunks claim more than memory holds (each is bounded, many are not).
    std::cerr << "fleetscope-shm: out of memory\n";
    return 1;
  }
}
