#include "fleetscope/relay/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fleetscope::relay {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw RelayError("key file '" + path + "': " + std::strerror(errno));
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
    ::close(fd);
    throw RelayError("key file '" + path + "': not a regular file of at most 64 KiB");
  }
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

void write_exclusive(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw RelayError("cannot create '" + path + "': " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  const int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(path.c_str());
    throw RelayError("cannot write '" + path + "': " + std::strerror(saved));
  }
}

// The value of "NAME = VALUE" lines.
std::string field(const std::string& text, const std::string& name, const std::string& path) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.rfind(name, 0) != 0) continue;
    std::string rest = trim(line.substr(name.size()));
    if (rest.empty() || rest[0] != '=') continue;
    return trim(rest.substr(1));
  }
  throw RelayError("key file '" + path + "': no '" + name + " = ...' line");
}

}  // namespace

bool valid_z85_key(const std::string& key) {
  if (key.size() != 40) return false;
  std::array<std::uint8_t, 32> raw{};
  return zmq_z85_decode(raw.data(), key.c_str()) != nullptr;
}

KeyPair generate_key_pair() {
  std::array<char, 41> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw RelayError(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()) +
                     " (libzmq built without CURVE?)");
  }
  return {pub.data(), sec.data()};
}

void write_key_files(const std::string& base, const KeyPair& pair) {
  write_exclusive(base + ".key", "# fleetscope-relay key pair: keep this file secret\npublic-key = " + pair.public_key +
                                      "\nsecret-key = " + pair.secret_key + "\n");
  try {
    write_exclusive(base + ".pub", pair.public_key + "\n");
  } catch (...) {
    ::unlink((base + ".key").c_str());
    throw;
  }
}

KeyPair read_key_pair(const std::string& path) {
  const std::string text = read_small_file(path);
  KeyPair pair{field(text, "public-key", path), field(text, "secret-key", path)};
  if (!valid_z85_key(pair.public_key) || !valid_z85_key(pair.secret_key)) {
    throw RelayError("key file '" + path + "': keys must be 40 characters of Z85");
  }
  // As ssh does: a secret key others can read is no secret.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 0777));
    throw RelayError("key file '" + path + "' holds a secret key and other users can read it (mode " + mode +
                     "): chmod 600 it");
  }
  // A public key that is not the secret key's would be trusted by clients that can never connect.
  std::array<char, 41> derived{};
  if (zmq_curve_public(derived.data(), pair.secret_key.c_str()) != 0 || pair.public_key != derived.data()) {
    throw RelayError("key file '" + path + "': its public-key is not the public key of its secret-key");
  }
  return pair;
}

std::string read_public_key(const std::string& path) {
  const std::string text = read_small_file(path);
  if (text.find("secret-key") != std::string::npos) return read_key_pair(path).public_key;
  const std::string key = trim(text);
  if (!valid_z85_key(key)) throw RelayError("public key file '" + path + "': not a 40-character Z85 key");
  return key;
}

std::set<std::string> read_allowed_keys(const std::string& path) {
  const std::string text = read_small_file(path);
  std::set<std::string> keys;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (!valid_z85_key(line)) {
      throw RelayError("allowed-keys file '" + path + "' line " + std::to_string(number) +
                       ": not a 40-character Z85 public key");
    }
    keys.insert(line);
  }
  return keys;
}

}  // namespace fleetscope::relay
