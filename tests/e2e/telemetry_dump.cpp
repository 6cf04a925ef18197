// Test helper: what a reader gets of a segment's telemetry and robot attributes, as one JSON
// document, for the Python tests (SummaryWriter, the env pool's worker segments).
//   fleetscope-test-telemetry-dump NAME
// {"tags": [...],
//  "scalars": [{"tag", "step", "wall_unix_ns", "value"}...]   every record the ring still holds,
//  "lost": N,
//  "workers": [{"worker_id", "pid", "host", "state", "chunk_size", "steps", "steps_per_s",
//               "exec_s", "ipc_s", "restarts"}...],
//  "robots": [{"name", "model", "links", "flags", "worker", "environment", "scalar", "episode_steps",
//              "episodes"}...]}
// A robot's worker, environment, scalar and episode are null when not set (FORMAT.md's attribute
// words). Doubles are printed with 17 significant digits; NaN and infinities as JSON's NaN and
// Infinity, which Python's json reads. Exits 1 with a message on stderr when the segment cannot
// be read.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/pose_ingestor.hpp"
#include "fleetscope/ipc/segment_reader.hpp"
#include "fleetscope/ipc/telemetry_reader.hpp"

namespace ipc = fleetscope::ipc;

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

constexpr std::uint32_t kProducerSet = 1u << 2;
constexpr std::uint32_t kScalarSet = 1u << 3;
constexpr std::uint32_t kEpisodeSet = 1u << 4;
constexpr std::uint32_t kUnset = 0xFFFFFFFFu;

std::string half(std::uint32_t value) { return value == kUnset ? "null" : std::to_string(value); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s NAME\n", argv[0]);
    return 2;
  }
  try {
    const auto reader = ipc::SegmentReader::open(argv[1]);
    std::string out = "{\"tags\": [";
    std::string scalars, workers;
    std::uint64_t lost = 0;
    if (const auto telemetry = ipc::TelemetryReader::of(reader)) {
      ipc::ScalarCursor cursor;
      std::vector<ipc::ScalarSample> samples;
      lost = telemetry->read_scalars(cursor, samples);
      const auto tags = telemetry->tags_from(0);
      for (std::size_t i = 0; i < tags.size(); ++i) out += (i ? ", " : "") + quoted(tags[i]);
      for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto& s = samples[i];
        const std::string tag = s.tag < tags.size() ? quoted(tags[s.tag]) : "null";
        scalars += std::string(i ? ",\n  " : "\n  ") + "{\"tag\": " + tag + ", \"step\": " + std::to_string(s.step) +
                   ", \"wall_unix_ns\": " + std::to_string(s.wall_unix_ns) + ", \"value\": " + number(s.value) + "}";
      }
      const auto rows = telemetry->workers();
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& w = rows[i];
        workers += std::string(i ? ",\n  " : "\n  ") + "{\"worker_id\": " + std::to_string(w.worker_id) +
                   ", \"pid\": " + std::to_string(w.pid) + ", \"host\": " + quoted(w.host) + ", \"state\": " +
                   quoted(ipc::worker_state_name(w.state)) + ", \"chunk_size\": " + std::to_string(w.chunk_size) +
                   ", \"steps\": " + std::to_string(w.steps) + ", \"steps_per_s\": " + number(w.steps_per_s) +
                   ", \"exec_s\": " + number(w.exec_s) + ", \"ipc_s\": " + number(w.ipc_s) +
                   ", \"restarts\": " + std::to_string(w.restarts) + "}";
      }
    }
    out += "],\n \"scalars\": [" + scalars + "],\n \"lost\": " + std::to_string(lost) + ",\n \"workers\": [" +
           workers + "],\n \"robots\": [";
    if (!reader.info().telemetry_only) {
      ipc::PoseIngestor ingestor(reader);
      ingestor.ingest();
      const auto& robots = ingestor.layout().robots;
      for (std::size_t r = 0; r < robots.size(); ++r) {
        const auto& robot = robots[r];
        const auto a = ingestor.attributes(robot.slot);
        const std::uint32_t flags = a.flags();
        double scalar = 0;
        std::memcpy(&scalar, &a.scalar_bits, sizeof scalar);
        const auto low = [](std::uint64_t w) { return static_cast<std::uint32_t>(w); };
        const auto high = [](std::uint64_t w) { return static_cast<std::uint32_t>(w >> 32); };
        out += std::string(r ? ",\n  " : "\n  ") + "{\"name\": " + quoted(robot.name) +
               ", \"model\": " + std::to_string(robot.model) + ", \"links\": " + std::to_string(robot.link_count) +
               ", \"flags\": " + std::to_string(flags) +
               ", \"worker\": " + ((flags & kProducerSet) ? half(low(a.producer)) : "null") +
               ", \"environment\": " + ((flags & kProducerSet) ? half(high(a.producer)) : "null") +
               ", \"scalar\": " + ((flags & kScalarSet) ? number(scalar) : "null") +
               ", \"episode_steps\": " + ((flags & kEpisodeSet) ? std::to_string(low(a.episode)) : "null") +
               ", \"episodes\": " + ((flags & kEpisodeSet) ? std::to_string(high(a.episode)) : "null") + "}";
      }
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  } catch (const ipc::SegmentError& e) {
    std::fprintf(stderr, "telemetry-dump: %s\n", e.what());
    return 1;
  }
}
