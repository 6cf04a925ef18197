// CurveZMQ keys for the relay: key pair files written by `fleetscope-relay keygen` (mode 0600),
// public key files and the relay's allowed-keys file. Keys are Z85 text (40 characters).
#pragma once

#include <set>
#include <stdexcept>
#include <string>

namespace fleetscope::relay {

class RelayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;
};

// A fresh key pair (zmq_curve_keypair). Throws RelayError when libzmq has no CURVE.
KeyPair generate_key_pair();
// Writes BASE.key (both keys) and BASE.pub (the public key), each created exclusively with mode
// 0600 whatever the umask. Throws RelayError naming the file (exists, cannot be written).
void write_key_files(const std::string& base, const KeyPair& pair);
// Reads a key pair file (BASE.key). Throws RelayError naming the file and the problem.
KeyPair read_key_pair(const std::string& path);
// Reads a public key: a .pub file, or the public key of a .key file. Throws RelayError.
std::string read_public_key(const std::string& path);
// Reads an allowed-keys file: one Z85 public key a line; empty lines and lines starting with '#'
// are ignored. Throws RelayError naming the file and line of anything else.
std::set<std::string> read_allowed_keys(const std::string& path);
// True for 40 characters of Z85 that decode to 32 bytes.
bool valid_z85_key(const std::string& key);

}  // namespace fleetscope::relay
