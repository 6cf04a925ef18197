// fleetscope-relay: carries segments of this host to viewers on others over ZeroMQ.
//   fleetscope-relay serve [--bind tcp://ADDR:PORT] [--key K.key --allow KEYS] [--insecure] [SEGMENT...|--all]
//   fleetscope-relay keygen NAME            writes NAME.key and NAME.pub (mode 0600)
//   fleetscope-relay list --connect tcp://HOST:PORT [--relay-key R.pub --key K.key] [--wait S]
//   fleetscope-relay mirror --connect tcp://HOST:PORT [--prefix remote.] [--relay-key R.pub --key K.key]
// relay/PROTOCOL.md describes what goes over the wire.
#include <signal.h>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "fleetscope/ipc/error.hpp"
#include "fleetscope/ipc/process_liveness.hpp"
#include "fleetscope/ipc/shared_memory.hpp"
#include "fleetscope/relay/keys.hpp"
#include "fleetscope/relay/mirror.hpp"
#include "fleetscope/relay/relay_client.hpp"
#include "fleetscope/relay/relay_server.hpp"

namespace po = boost::program_options;
using namespace fleetscope;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void usage() {
  std::cout << "fleetscope-relay: carries fleetscope segments to viewers on other hosts (ZeroMQ)\n"
               "Usage:\n"
               "  fleetscope-relay serve [--bind tcp://ADDR:PORT] [--key RELAY.key --allow ALLOWED] [--insecure]\n"
               "                         [-v] (SEGMENT... | --all)\n"
               "      publishes the segments on PORT+1 and answers snapshot requests on PORT (default\n"
               "      tcp://127.0.0.1:7700). Without keys only a loopback address is accepted unless --insecure.\n"
               "  fleetscope-relay keygen NAME\n"
               "      writes the key pair NAME.key and its public key NAME.pub (both mode 0600)\n"
               "  fleetscope-relay list --connect tcp://HOST:PORT [--relay-key RELAY.pub --key CLIENT.key] [--wait S]\n"
               "      prints the segments a relay carries and their state\n"
               "  fleetscope-relay mirror --connect tcp://HOST:PORT [--prefix remote.] [--relay-key R.pub --key K.key]\n"
               "      recreates every segment the relay carries as a local segment PREFIX+NAME (until Ctrl-C)\n";
}

int serve(int argc, char** argv) {
  relay::ServerOptions o;
  std::string key, allow;
  bool verbose = false;
  po::options_description desc("serve options");
  desc.add_options()
      ("help,h", "show this help")
      ("bind", po::value(&o.bind)->default_value(o.bind), "tcp://ADDR:PORT: snapshots on PORT, publishing on PORT+1")
      ("all", po::bool_switch(&o.all), "carry every segment of this user, as they come and go")
      ("key", po::value(&key), "the relay's key pair (fleetscope-relay keygen): CURVE encryption")
      ("allow", po::value(&allow), "allowed client public keys, one a line (needs --key)")
      ("insecure", po::bool_switch(&o.insecure), "allow a non-loopback address without keys")
      ("allow-other-users", po::bool_switch(&o.reader.allow_other_users), "carry segments of other users too")
      ("hwm", po::value(&o.publish_hwm)->default_value(o.publish_hwm), "messages queued per client before it is dropped to a snapshot")
      ("no-compress", po::bool_switch(), "send payloads as they are (no zstd)")
      ("verbose,v", po::bool_switch(&verbose), "log details")
      ("segment", po::value(&o.segments)->composing(), "segment names");
  po::positional_options_description pos;
  pos.add("segment", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-relay serve: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    usage();
    std::cout << desc << "\n";
    return 0;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  o.compress = !vm["no-compress"].as<bool>();
  if (o.segments.empty() && !o.all) {
    std::cerr << "fleetscope-relay serve: name segments or pass --all\n";
    return 2;
  }
  for (const std::string& n : o.segments) {
    try {
      ipc::validate_segment_name(n);
    } catch (const ipc::SegmentError& e) {
      std::cerr << "fleetscope-relay serve: " << e.what() << "\n";
      return 2;
    }
  }
  if (key.empty() != allow.empty()) {
    std::cerr << "fleetscope-relay serve: --key and --allow go together\n";
    return 2;
  }
  if (o.publish_hwm < 1) {
    std::cerr << "fleetscope-relay serve: --hwm must be at least 1\n";
    return 2;
  }
  install_signals();
  try {
    if (!key.empty()) o.curve = relay::ServerCurve{relay::read_key_pair(key), relay::read_allowed_keys(allow)};
    if (o.curve && o.curve->allowed_clients.empty()) {
      std::cerr << "fleetscope-relay serve: warning: " << allow << " allows no key: nobody can connect\n";
    }
    relay::RelayServer server(o);
    if (o.insecure && !o.curve && !server.endpoint().loopback()) {
      std::cerr << "fleetscope-relay: WARNING: serving " << o.bind
                << " without authentication or encryption: anyone who can reach it can watch\n";
    }
    std::printf("serving %s (snapshots) and %s (publish)%s\n", server.endpoint().snapshot().c_str(),
                server.endpoint().publish().c_str(), o.curve ? " with CURVE" : "");
    std::fflush(stdout);
    server.run(g_stop);
    const relay::ServerStats s = server.stats();
    std::printf(
                 "relay stopped: %llu messages (%llu bytes) published, %llu snapshots (%llu bytes), "
                 "%llu malformed requests refused, %llu clients refused, %llu snapshot requests throttled\n",
                 static_cast<unsigned long long>(s.published), static_cast<unsigned long long>(s.published_bytes),
                 static_cast<unsigned long long>(s.snapshots), static_cast<unsigned long long>(s.snapshot_bytes),
                 static_cast<unsigned long long>(s.refused_requests), static_cast<unsigned long long>(s.refused_clients),
                 static_cast<unsigned long long>(s.throttled_requests));
    std::fflush(stdout);
    return 0;
  } catch (const relay::RelayError& e) {
    std::cerr << "fleetscope-relay: " << e.what() << "\n";
    return 1;
  } catch (const ipc::SegmentError& e) {
    std::cerr << "fleetscope-relay: " << e.what() << "\n";
    return 1;
  }
}

int keygen(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).empty() || argv[1][0] == '-') {
    std::cerr << "usage: fleetscope-relay keygen NAME   (writes NAME.key and NAME.pub)\n";
    return 2;
  }
  try {
    const relay::KeyPair pair = relay::generate_key_pair();
    relay::write_key_files(argv[1], pair);
    std::printf("wrote %s.key (key pair, keep secret) and %s.pub (public key: %s)\n", argv[1], argv[1], pair.public_key.c_str());
    return 0;
  } catch (const relay::RelayError& e) {
    std::cerr << "fleetscope-relay keygen: " << e.what() << "\n";
    return 1;
  }
}

int list(int argc, char** argv) {
  relay::ClientOptions o;
  std::string relay_key, key;
  double wait = 3.0;
  po::options_description desc("list options");
  desc.add_options()
      ("connect", po::value(&o.endpoint)->required(), "tcp://HOST:PORT of the relay")
      ("relay-key", po::value(&relay_key), "the relay's public key file")
      ("key", po::value(&key), "this client's key pair file")
      ("wait", po::value(&wait)->default_value(wait), "seconds to wait for a snapshot");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-relay list: " << e.what() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  if (relay_key.empty() != key.empty()) {
    std::cerr << "fleetscope-relay list: --relay-key and --key go together\n";
    return 2;
  }
  try {
    if (!key.empty()) o.curve = relay::ClientCurve{relay::read_public_key(relay_key), relay::read_key_pair(key)};
    relay::RelayClient client(o);
    const std::uint64_t end = ipc::monotonic_ns() + static_cast<std::uint64_t>(std::max(0.0, wait) * 1e9);
    while (!client.synced() && ipc::monotonic_ns() < end) client.poll(50);
    if (!client.synced()) {
      std::cerr << "fleetscope-relay list: no snapshot from " << client.endpoint().snapshot() << " within " << wait << " s\n";
      return 1;
    }
    for (const auto& [id, s] : client.streams()) {
      if (s.removed) continue;
      std::size_t links = 0;
      for (const auto& r : s.layout.robots) links += r.link_count;
      std::printf("%s\t%s\tpid %d\t%zu robots\t%zu links\tframe %llu\t%zu tags\n",
                  client.endpoint().source_name(s.info.name).c_str(), ipc::writer_state_name(s.info.state), s.info.writer_pid,
                  s.layout.robots.size(), links, static_cast<unsigned long long>(s.frame.frame), s.tags.size());
    }
    return 0;
  } catch (const relay::RelayError& e) {
    std::cerr << "fleetscope-relay list: " << e.what() << "\n";
    return 1;
  }
}

int mirror(int argc, char** argv) {
  relay::ClientOptions o;
  relay::MirrorOptions m;
  std::string relay_key, key;
  bool verbose = false;
  po::options_description desc("mirror options");
  desc.add_options()
      ("connect", po::value(&o.endpoint)->required(), "tcp://HOST:PORT of the relay")
      ("prefix", po::value(&m.prefix)->default_value(m.prefix), "local segment names: PREFIX + the remote name")
      ("relay-key", po::value(&relay_key), "the relay's public key file")
      ("key", po::value(&key), "this client's key pair file")
      ("verbose,v", po::bool_switch(&verbose), "log details");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fleetscope-relay mirror: " << e.what() << "\n";
    return 2;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  if (relay_key.empty() != key.empty()) {
    std::cerr << "fleetscope-relay mirror: --relay-key and --key go together\n";
    return 2;
  }
  for (const char c : m.prefix) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok || m.prefix.size() > 40) {
      std::cerr << "fleetscope-relay mirror: --prefix must be [A-Za-z0-9_.-], at most 40 characters\n";
      return 2;
    }
  }
  install_signals();
  try {
    if (!key.empty()) o.curve = relay::ClientCurve{relay::read_public_key(relay_key), relay::read_key_pair(key)};
    auto client = std::make_shared<relay::RelayClient>(o);
    relay::Mirror mirror(client, m);
    std::printf("mirroring %s as local segments %s*\n", client->endpoint().snapshot().c_str(), m.prefix.c_str());
    std::fflush(stdout);
    while (!g_stop.load()) mirror.step(1);
    return 0;
  } catch (const relay::RelayError& e) {
    std::cerr << "fleetscope-relay mirror: " << e.what() << "\n";
    return 1;
  } catch (const ipc::SegmentError& e) {
    std::cerr << "fleetscope-relay mirror: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "serve") return serve(argc - 1, argv + 1);
    if (cmd == "keygen") return keygen(argc - 1, argv + 1);
    if (cmd == "list") return list(argc - 1, argv + 1);
    if (cmd == "mirror") return mirror(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::cerr << "fleetscope-relay: " << e.what() << "\n";
    return 1;
  }
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage();
    return 0;
  }
  std::cerr << "fleetscope-relay: unknown command '" << cmd << "'\n";
  usage();
  return 2;
}
