// Seek and replay figures of a recording (prints them; run by tests/bench/recording_bench.sh):
//   fleetscope-recording-seek FILE.mcap SEGMENT [SEEKS]
// open time; seek to SEEKS random times (p50, p99, max); playing the whole recording forward in
// steps of 1/60 s (replayed frames per second of CPU, against the recorded rate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fleetscope/recording/recording_source.hpp"

namespace rec = fleetscope::recording;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FILE.mcap SEGMENT [SEEKS]\n", argv[0]);
    return 2;
  }
  const int seeks = argc > 3 ? std::atoi(argv[3]) : 200;
  try {
    auto t0 = Clock::now();
    auto recording = rec::Recording::open(argv[1]);
    rec::RecordingSource src(recording, argv[2]);
    const double open_ms = ms_since(t0);
    const double span_s = (src.end_time() - src.start_time()) / 1e9;
    std::printf("open        %.1f ms (%zu keyframes, %.1f s recorded)\n", open_ms, src.keyframe_times().size(), span_s);
    std::mt19937_64 rng(1);
    std::vector<double> times;
    for (int i = 0; i < seeks; ++i) {
      const std::uint64_t t = src.start_time() + rng() % (src.end_time() - src.start_time() + 1);
      t0 = Clock::now();
      src.seek(t);
      src.ingest();
      times.push_back(ms_since(t0));
      if (!src.error().empty()) {
        std::fprintf(stderr, "seek: %s\n", src.error().c_str());
        return 1;
      }
    }
    std::sort(times.begin(), times.end());
    std::printf("seek        %d random points: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", seeks, times[times.size() / 2],
                times[std::min(times.size() - 1, times.size() * 99 / 100)], times.back());
    src.seek(src.start_time());
    src.ingest();
    std::uint64_t frames = 0, last = src.frame().frame;
    t0 = Clock::now();
    for (std::uint64_t t = src.start_time(); t < src.end_time(); t += 1'000'000'000ULL / 60) {
      src.advance_to(t);
      src.ingest();
      if (src.frame().frame != last) ++frames, last = src.frame().frame;
    }
    const double play_s = ms_since(t0) / 1e3;
    std::printf("replay      %llu frames in %.2f s of CPU: %.0f frames/s (recorded at %.1f frames/s)\n",
                static_cast<unsigned long long>(frames), play_s, frames / play_s, frames / span_s);
    return 0;
  } catch (const rec::McapError& e) {
    std::fprintf(stderr, "fleetscope-recording-seek: %s\n", e.what());
    return 1;
  }
}
