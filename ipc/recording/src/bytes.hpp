// Little-endian byte building and checked parsing, shared by the MCAP layer and the fleetscope
// message encodings. A ByteReader never reads past its span: a short or hostile input throws the
// error type it was given, naming what was being read.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fleetscope::recording::detail {

static_assert(std::endian::native == std::endian::little, "fleetscope recordings are little-endian");

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::byte>& out) : out_(out) {}
  template <typename T>
    requires std::is_arithmetic_v<T>
  void put(T value) {
    const auto at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &value, sizeof(T));
  }
  void bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  // u32 length + bytes (MCAP String and uint32-prefixed Bytes).
  void str(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  // Reserves a u32 length to be filled by end_u32().
  std::size_t begin_u32() {
    put<std::uint32_t>(0);
    return out_.size();
  }
  void end_u32(std::size_t start) {
    const auto n = static_cast<std::uint32_t>(out_.size() - start);
    std::memcpy(out_.data() + start - 4, &n, 4);
  }
  std::size_t size() const noexcept { return out_.size(); }

 private:
  std::vector<std::byte>& out_;
};

template <typename Error>
class ByteReader {
 public:
  ByteReader(std::span<const std::byte> in, std::string_view what) : in_(in), what_(what) {}
  template <typename T>
    requires std::is_arithmetic_v<T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::span<const std::byte> take(std::uint64_t n) {
    need(n);
    auto s = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string str() {
    const auto n = get<std::uint32_t>();
    const auto s = take(n);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
  // A u32 byte length and that many bytes, as a reader of its own.
  ByteReader sub_u32() { return ByteReader(take(get<std::uint32_t>()), what_); }
  std::span<const std::byte> rest() {
    auto s = in_.subspan(pos_);
    pos_ = in_.size();
    return s;
  }
  bool done() const noexcept { return pos_ == in_.size(); }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }

 private:
  void need(std::uint64_t n) const {
    if (n > in_.size() - pos_) {
      throw Error(std::string(what_) + ": truncated (needs " + std::to_string(n) + " bytes at offset " +
                  std::to_string(pos_) + ", has " + std::to_string(in_.size() - pos_) + ")");
    }
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  std::string_view what_;
};

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace fleetscope::recording::detail
