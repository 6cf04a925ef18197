// fleetscope-relay-bench: the reference fleet (fleetscope-sim: 100 robots x 30 links at 60 Hz by
// default) through fleetscope-relay over loopback to N clients in this process, for S seconds.
// Prints one line per figure: bandwidth a client receives (after zstd), the relay's CPU (its
// /proc/PID/stat user+system time over the wall time), and the latency the relay adds, from the
// writer's publish (its CLOCK_MONOTONIC publish time, same host) to the client having applied the
// frame: p50, p99, max; and the clients' CPU (this process). Not a timed test; a figure to quote.
//   fleetscope-relay-bench [--robots 100] [--links 30] [--rate 60] [--seconds 10] [--clients 1]
//                          [--sim PATH] [--relay PATH] [--port 27900] [--no-compress]
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/relay/relay_client.hpp"
#include "support/child_process.hpp"

namespace po = boost::program_options;
using namespace fleetscope;
using namespace std::chrono_literals;

namespace {

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0.0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int robots = 100, clients = 1, port = 27900;
  std::string links = "30", sim = FLEETSCOPE_SIM, relay_program = FLEETSCOPE_RELAY;
  double rate = 60.0, seconds = 10.0;
  bool no_compress = false;
  po::options_description desc("fleetscope-relay-bench options");
  desc.add_options()
      ("help,h", "show this help")
      ("robots", po::value(&robots)->default_value(robots), "robots of the reference fleet")
      ("links", po::value(&links)->default_value(links), "links per robot: N or MIN-MAX")
      ("rate", po::value(&rate)->default_value(rate), "frames per second")
      ("seconds", po::value(&seconds)->default_value(seconds), "measured seconds (after 2 s of warm-up)")
      ("clients", po::value(&clients)->default_value(clients), "clients connected at once")
      ("port", po::value(&port)->default_value(port), "the relay's port (and port+1)")
      ("sim", po::value(&sim)->default_value(sim), "fleetscope-sim")
      ("relay", po::value(&relay_program)->default_value(relay_program), "fleetscope-relay")
      ("no-compress", po::bool_switch(&no_compress), "relay without zstd");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-relay-bench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (robots < 1 || clients < 1 || clients > 100 || !(seconds > 0) || port < 1 || port > 65534) {
    std::cerr << "fleetscope-relay-bench: bad arguments\n";
    return 2;
  }
  const std::string name = "bench.relay." + std::to_string(::getpid());
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  try {
    testing::ChildProcess writer({sim, "--name", name, "--robots", std::to_string(robots), "--links", links, "--rate",
                                  std::to_string(rate), "--quiet"});
    std::this_thread::sleep_for(1s);
    std::vector<std::string> relay_args{relay_program, "serve", "--bind", endpoint, name};
    if (no_compress) relay_args.push_back("--no-compress");
    testing::ChildProcess relay(relay_args);
    if (!relay.wait_for("serving", 10s)) {
      std::cerr << "fleetscope-relay-bench: the relay did not start\n";
      return 1;
    }
    std::atomic<bool> measuring{false}, stop{false};
    std::mutex mu;
    std::vector<double> latencies_ms;
    std::vector<std::uint64_t> bytes(static_cast<std::size_t>(clients), 0), frames(static_cast<std::size_t>(clients), 0);
    std::vector<std::uint64_t> snapshots(static_cast<std::size_t>(clients), 0), gaps(static_cast<std::size_t>(clients), 0);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        relay::ClientOptions o;
        o.endpoint = endpoint;
        relay::RelayClient client(o);
        std::vector<double> mine;
        std::uint64_t bytes_at_start = 0, frames_seen = 0;
        bool started = false;
        client.set_pose_observer([&](const relay::RemoteStream&, const relay::PosesMessage& m, std::uint64_t) {
          if (!measuring.load() || m.full) return;
          const std::uint64_t now = ipc::monotonic_ns();  // after the message was decoded and applied
          mine.push_back(static_cast<double>(now - m.frame.publish_ns) / 1e6);
          ++frames_seen;
        });
        while (!stop.load()) {
          client.poll(1);
          if (measuring.load() && !started) {
            started = true;
            bytes_at_start = client.stats().received_bytes;
          }
        }
        std::lock_guard lock(mu);
        latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
        bytes[static_cast<std::size_t>(c)] = client.stats().received_bytes - bytes_at_start;
        frames[static_cast<std::size_t>(c)] = frames_seen;
        snapshots[static_cast<std::size_t>(c)] = client.stats().snapshots;
        gaps[static_cast<std::size_t>(c)] = client.stats().gaps;
      });
    }
    std::this_thread::sleep_for(2s);
    const double relay_cpu0 = cpu_seconds(relay.pid());
    const double writer_cpu0 = cpu_seconds(writer.pid());
    const double client_cpu0 = cpu_seconds(::getpid());
    const auto t0 = std::chrono::steady_clock::now();
    measuring.store(true);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    measuring.store(false);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double relay_cpu = cpu_seconds(relay.pid()) - relay_cpu0;
    const double writer_cpu = cpu_seconds(writer.pid()) - writer_cpu0;
    const double client_cpu = cpu_seconds(::getpid()) - client_cpu0;
    stop.store(true);
    for (auto& t : threads) t.join();
    std::uint64_t total_bytes = 0, total_frames = 0, total_snapshots = 0, total_gaps = 0;
    for (int c = 0; c < clients; ++c) {
      total_bytes += bytes[static_cast<std::size_t>(c)];
      total_frames += frames[static_cast<std::size_t>(c)];
      total_snapshots += snapshots[static_cast<std::size_t>(c)];
      total_gaps += gaps[static_cast<std::size_t>(c)];
    }
    std::printf("fleet: %d robots x %s links at %.0f Hz, %d client(s), %.1f s measured%s\n", robots, links.c_str(), rate,
                clients, wall, no_compress ? ", no zstd" : "");
    std::printf("bandwidth per client: %.3f MB/s (%.0f bytes per frame)\n",
                static_cast<double>(total_bytes) / clients / wall / 1e6,
                total_frames ? static_cast<double>(total_bytes) / static_cast<double>(total_frames) : 0.0);
    std::printf("frames per client: %.1f /s\n", static_cast<double>(total_frames) / clients / wall);
    std::printf("relay CPU: %.1f %% of a core\n", 100.0 * relay_cpu / wall);
    std::printf("writer CPU: %.1f %% of a core\n", 100.0 * writer_cpu / wall);
    std::printf("client CPU (receive, decompress, decode, apply; polling every 1 ms): %.1f %% of a core per client\n",
                100.0 * client_cpu / wall / clients);
    std::printf("added latency (publish -> client applied): p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu frames)\n",
                percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99),
                latencies_ms.empty() ? 0.0 : *std::max_element(latencies_ms.begin(), latencies_ms.end()), latencies_ms.size());
    std::printf("snapshots: %llu, sequence gaps: %llu (all clients)\n", static_cast<unsigned long long>(total_snapshots),
                static_cast<unsigned long long>(total_gaps));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fleetscope-relay-bench: " << e.what() << "\n";
    return 1;
  }
}
