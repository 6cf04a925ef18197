// libFuzzer target: any byte string as a relay message (relay/PROTOCOL.md). decode() must either
// return a message or throw ProtocolError; never crash, read out of bounds or allocate beyond the
// protocol's limits (built with ASan+UBSan; a zstd payload is bounded by its declared size before
// it is decompressed). A decoded message encodes again to a message that decodes to the same
// encoding (the decoder accepts only what the encoder can say).
// Run: build-fuzz/tests/relay_decoder_fuzz -max_total_time=30 CORPUS (.ci/run seeds CORPUS with
// one message of each type).
#include <cstdlib>
#include <cstring>
#include <span>

#include "fleetscope/relay/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fleetscope::relay;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  Message m;
  try {
    m = decode(bytes);
  } catch (const ProtocolError&) {
    return 0;
  }
  const std::vector<std::byte> again = encode(m.header, m.body, false);
  Message m2;
  try {
    m2 = decode(again);
  } catch (const ProtocolError&) {
    std::abort();  // the decoder accepted something the encoder cannot say
  }
  const std::vector<std::byte> third = encode(m2.header, m2.body, false);
  if (third != again) std::abort();
  return 0;
}
