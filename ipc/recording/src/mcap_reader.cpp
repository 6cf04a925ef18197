#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bytes.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/recording/mcap.hpp"

namespace fleetscope::recording {

namespace {

using Reader = detail::ByteReader<McapError>;

// Bounds on what a file may make this reader allocate.
// One chunk's records, decompressed: the largest keyframe a segment can hold (4,194,304 links of
// 28 bytes, 117 MiB) with room to spare. A zstd bomb claiming 1 GiB took 4 GB to refuse.
constexpr std::uint64_t kMaxChunkBytes = 192ULL << 20;
constexpr std::uint64_t kMaxSummaryBytes = 1ULL << 30;
constexpr std::uint64_t kMaxRecordBytes = 1ULL << 31;  // any record read whole

StringMap get_map(Reader& r) {
  StringMap map;
  Reader m = r.sub_u32();
  while (!m.done()) {
    std::string k = m.str();
    map[std::move(k)] = m.str();
  }
  return map;
}

McapSchema parse_schema(std::span<const std::byte> body) {
  Reader r(body, "schema record");
  McapSchema s;
  s.id = r.get<std::uint16_t>();
  s.name = r.str();
  s.encoding = r.str();
  const auto data = r.take(r.get<std::uint32_t>());
  s.data.assign(data.begin(), data.end());
  return s;
}

McapChannel parse_channel(std::span<const std::byte> body) {
  Reader r(body, "channel record");
  McapChannel c;
  c.id = r.get<std::uint16_t>();
  c.schema_id = r.get<std::uint16_t>();
  c.topic = r.str();
  c.message_encoding = r.str();
  c.metadata = get_map(r);
  return c;
}

McapMessage parse_message(std::span<const std::byte> body) {
  Reader r(body, "message record");
  McapMessage m;
  m.channel_id = r.get<std::uint16_t>();
  m.sequence = r.get<std::uint32_t>();
  m.log_time = r.get<std::uint64_t>();
  m.publish_time = r.get<std::uint64_t>();
  const auto data = r.rest();
  m.data.assign(data.begin(), data.end());
  return m;
}

struct ChunkHead {
  std::uint64_t start_time, end_time, uncompressed_size;
  std::uint32_t crc;
  std::string compression;
  std::span<const std::byte> records;
};

ChunkHead parse_chunk(std::span<const std::byte> body) {
  Reader r(body, "chunk record");
  ChunkHead h;
  h.start_time = r.get<std::uint64_t>();
  h.end_time = r.get<std::uint64_t>();
  h.uncompressed_size = r.get<std::uint64_t>();
  h.crc = r.get<std::uint32_t>();
  h.compression = r.str();
  h.records = r.take(r.get<std::uint64_t>());
  return h;
}

std::vector<std::byte> decompress_chunk(const ChunkHead& h, const std::string& where) {
  if (h.uncompressed_size > kMaxChunkBytes) {
    throw McapError(where + ": uncompressed size " + std::to_string(h.uncompressed_size) + " is above the limit");
  }
  std::vector<std::byte> out;
  if (h.compression.empty()) {
    if (h.records.size() != h.uncompressed_size) throw McapError(where + ": size does not match its records");
    out.assign(h.records.begin(), h.records.end());
  } else if (h.compression == "zstd") {
    const unsigned long long content = ZSTD_getFrameContentSize(h.records.data(), h.records.size());
    if (content == ZSTD_CONTENTSIZE_ERROR) throw McapError(where + ": not a zstd frame");
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != h.uncompressed_size) {
      throw McapError(where + ": zstd content size does not match the chunk's uncompressed size");
    }
    out.resize(h.uncompressed_size);
    const std::size_t n = ZSTD_decompress(out.data(), out.size(), h.records.data(), h.records.size());
    if (ZSTD_isError(n)) throw McapError(where + ": zstd: " + ZSTD_getErrorName(n));
    if (n != h.uncompressed_size) throw McapError(where + ": decompressed to the wrong size");
  } else {
    throw McapError(where + ": unsupported compression '" + h.compression + "'");
  }
  if (h.crc != 0 && ipc::crc32(out) != h.crc) throw McapError(where + ": CRC mismatch");
  return out;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

McapReader::~McapReader() {
  if (fd_ >= 0) ::close(fd_);
}

McapReader::McapReader(McapReader&& o) noexcept { *this = std::move(o); }

McapReader& McapReader::operator=(McapReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    size_ = o.size_;
    header_ = std::move(o.header_);
    warnings_ = std::move(o.warnings_);
    has_summary_ = o.has_summary_;
    schemas_ = std::move(o.schemas_);
    channels_ = std::move(o.channels_);
    statistics_ = std::move(o.statistics_);
    chunks_ = std::move(o.chunks_);
    metadata_ = std::move(o.metadata_);
    index_ = std::move(o.index_);
    chunk_indexed_ = std::move(o.chunk_indexed_);
    cached_chunk_ = std::exchange(o.cached_chunk_, UINT32_MAX);
    cached_records_ = std::move(o.cached_records_);
  }
  return *this;
}

void McapReader::read_bytes(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > size_ || out.size() > size_ - offset) {
    throw McapError(path_.string() + ": read past the end of the file (offset " + std::to_string(offset) + ")");
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw McapError(path_.string() + ": " + errno_text());
    }
    if (n == 0) throw McapError(path_.string() + ": file shrank while being read");
    done += static_cast<std::size_t>(n);
  }
}

std::vector<std::byte> McapReader::read_vec(std::uint64_t offset, std::uint64_t size) const {
  if (offset > size_ || size > size_ - offset) {
    throw McapError(path_.string() + ": record at offset " + std::to_string(offset) + " runs past the end of the file");
  }
  std::vector<std::byte> out(static_cast<std::size_t>(size));
  read_bytes(offset, out);
  return out;
}

McapReader McapReader::open(const std::filesystem::path& path) {
  McapReader r;
  r.path_ = path;
  r.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (r.fd_ < 0) throw McapError("cannot open " + path.string() + ": " + errno_text());
  struct stat st {};
  if (::fstat(r.fd_, &st) != 0) throw McapError("cannot stat " + path.string() + ": " + errno_text());
  if (!S_ISREG(st.st_mode)) throw McapError(path.string() + " is not a regular file");
  r.size_ = static_cast<std::uint64_t>(st.st_size);
  if (r.size_ < 8) throw McapError(path.string() + " is not an MCAP file (" + std::to_string(r.size_) + " bytes)");
  std::byte magic[8];
  r.read_bytes(0, magic);
  if (std::memcmp(magic, kMcapMagic, 5) != 0) throw McapError(path.string() + " is not an MCAP file (bad magic)");
  if (std::memcmp(magic, kMcapMagic, 8) != 0) {
    const char v = static_cast<char>(magic[5]);
    throw McapError(path.string() + " is MCAP format version '" + std::string(1, v >= 0x20 && v < 0x7f ? v : '?') +
                    "'; this reader reads MCAP version '0'");
  }
  // Header record.
  std::byte head[9];
  if (r.size_ < 17) throw McapError(path.string() + ": truncated before its header record");
  r.read_bytes(8, head);
  std::uint64_t len;
  std::memcpy(&len, head + 1, 8);
  if (static_cast<std::uint8_t>(head[0]) != mcap_op::kHeader) throw McapError(path.string() + ": first record is not a header");
  if (len > r.size_ - 17 || len > kMaxRecordBytes) throw McapError(path.string() + ": truncated header record");
  {
    const auto body = r.read_vec(17, len);
    Reader h(body, "header record");
    r.header_.profile = h.str();
    r.header_.library = h.str();
  }
  bool summary_ok = false;
  try {
    summary_ok = r.read_summary();
  } catch (const McapError& e) {
    r.warnings_.push_back(std::string("summary unusable (") + e.what() + "); scanned the data section instead");
  }
  if (!summary_ok) {
    r.schemas_.clear();
    r.channels_.clear();
    r.chunks_.clear();
    r.statistics_ = {};
    r.scan();
  } else {
    r.has_summary_ = true;
    // Metadata records (few, small): read each one the index points at.
  }
  r.chunk_indexed_.assign(r.chunks_.size(), false);
  return r;
}

bool McapReader::read_summary() {
  // Footer: the last 8 bytes are the magic, before them the 29-byte footer record.
  if (size_ < 8 + 17 + 29 + 8) return false;
  std::byte tail[37];
  read_bytes(size_ - 37, tail);
  if (std::memcmp(tail + 29, kMcapMagic, 8) != 0) {
    warnings_.push_back(path_.string() + " has no footer (the recorder did not finish it)");
    return false;
  }
  Reader f(std::span<const std::byte>(tail, 29), "footer");
  if (f.get<std::uint8_t>() != mcap_op::kFooter || f.get<std::uint64_t>() != 20) {
    throw McapError("the record before the closing magic is not a footer");
  }
  const auto summary_start = f.get<std::uint64_t>();
  const auto summary_offset_start = f.get<std::uint64_t>();
  const auto summary_crc = f.get<std::uint32_t>();
  const std::uint64_t footer_at = size_ - 37;
  if (summary_start == 0) {
    warnings_.push_back(path_.string() + " has no summary section");
    return false;
  }
  if (summary_start < 17 || summary_start > footer_at || summary_offset_start > footer_at ||
      (summary_offset_start != 0 && summary_offset_start < summary_start)) {
    throw McapError("footer offsets out of range");
  }
  if (footer_at - summary_start > kMaxSummaryBytes) throw McapError("summary section too large");
  // Summary bytes and the footer's first 17 bytes of content, for the CRC.
  const auto summary = read_vec(summary_start, footer_at - summary_start + 1 + 8 + 16);
  if (summary_crc != 0 && ipc::crc32(summary) != summary_crc) throw McapError("summary CRC mismatch");
  const std::uint64_t records_end = (summary_offset_start ? summary_offset_start : footer_at) - summary_start;
  Reader r(std::span<const std::byte>(summary).first(static_cast<std::size_t>(records_end)), "summary section");
  bool have_stats = false;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> metadata_at;
  while (!r.done()) {
    const auto op = r.get<std::uint8_t>();
    const auto body = r.take(r.get<std::uint64_t>());
    switch (op) {
      case mcap_op::kSchema: {
        auto s = parse_schema(body);
        schemas_[s.id] = std::move(s);
        break;
      }
      case mcap_op::kChannel: {
        auto c = parse_channel(body);
        channels_[c.id] = std::move(c);
        break;
      }
      case mcap_op::kChunkIndex: {
        Reader c(body, "chunk index record");
        McapChunkIndex ci;
        ci.message_start_time = c.get<std::uint64_t>();
        ci.message_end_time = c.get<std::uint64_t>();
        ci.chunk_start_offset = c.get<std::uint64_t>();
        ci.chunk_length = c.get<std::uint64_t>();
        Reader m = c.sub_u32();
        while (!m.done()) {
          const auto ch = m.get<std::uint16_t>();
          ci.message_index_offsets[ch] = m.get<std::uint64_t>();
        }
        ci.message_index_length = c.get<std::uint64_t>();
        ci.compression = c.str();
        ci.compressed_size = c.get<std::uint64_t>();
        ci.uncompressed_size = c.get<std::uint64_t>();
        if (ci.chunk_start_offset < 17 || ci.chunk_start_offset > summary_start ||
            ci.chunk_length > summary_start - ci.chunk_start_offset) {
          throw McapError("chunk index points outside the data section");
        }
        chunks_.push_back(std::move(ci));
        break;
      }
      case mcap_op::kStatistics: {
        Reader s(body, "statistics record");
        McapStatistics st;
        st.message_count = s.get<std::uint64_t>();
        st.schema_count = s.get<std::uint16_t>();
        st.channel_count = s.get<std::uint32_t>();
        st.attachment_count = s.get<std::uint32_t>();
        st.metadata_count = s.get<std::uint32_t>();
        st.chunk_count = s.get<std::uint32_t>();
        st.message_start_time = s.get<std::uint64_t>();
        st.message_end_time = s.get<std::uint64_t>();
        Reader m = s.sub_u32();
        while (!m.done()) {
          const auto ch = m.get<std::uint16_t>();
          st.channel_message_counts[ch] = m.get<std::uint64_t>();
        }
        statistics_ = std::move(st);
        have_stats = true;
        break;
      }
      case mcap_op::kMetadataIndex: {
        Reader m(body, "metadata index record");
        const auto off = m.get<std::uint64_t>();
        const auto len = m.get<std::uint64_t>();
        metadata_at.push_back({off, len});
        break;
      }
      default:
        break;  // attachment indexes and records this reader does not use
    }
  }
  std::sort(chunks_.begin(), chunks_.end(),
            [](const McapChunkIndex& a, const McapChunkIndex& b) { return a.chunk_start_offset < b.chunk_start_offset; });
  // A chunk indexed twice would be read (and its messages counted) twice; overlapping chunks
  // cannot both be records of the file.
  for (std::size_t i = 1; i < chunks_.size(); ++i) {
    if (chunks_[i].chunk_start_offset < chunks_[i - 1].chunk_start_offset + chunks_[i - 1].chunk_length) {
      throw McapError("summary: chunk indexes overlap or repeat");
    }
  }
  std::sort(metadata_at.begin(), metadata_at.end());
  metadata_at.erase(std::unique(metadata_at.begin(), metadata_at.end()), metadata_at.end());
  for (const auto& [off, len] : metadata_at) {
    if (len < 9 || len > (1u << 24)) throw McapError("metadata index length out of range");
    const auto rec = read_vec(off, len);
    Reader m(rec, "metadata record");
    if (m.get<std::uint8_t>() != mcap_op::kMetadata) throw McapError("metadata index does not point at a metadata record");
    Reader body(m.take(m.get<std::uint64_t>()), "metadata record");
    std::string name = body.str();
    StringMap map = get_map(body);
    metadata_.try_emplace(std::move(name), std::move(map));
  }
  if (!have_stats) {
    statistics_ = {};
    for (const auto& c : chunks_) {
      (void)c;
      ++statistics_.chunk_count;
    }
  }
  return true;
}

void McapReader::add_schema_or_channel(std::uint8_t op, std::span<const std::byte> body) {
  if (op == mcap_op::kSchema) {
    auto s = parse_schema(body);
    schemas_.try_emplace(s.id, std::move(s));
  } else if (op == mcap_op::kChannel) {
    auto c = parse_channel(body);
    channels_.try_emplace(c.id, std::move(c));
  }
}

void McapReader::scan() {
  // Records one by one after the header; stop at the first that is incomplete or corrupt.
  std::uint64_t at = 17;
  {
    std::uint64_t len;
    std::byte head[9];
    read_bytes(8, head);
    std::memcpy(&len, head + 1, 8);
    at = 17 + len;
  }
  std::uint32_t good_chunks = 0;
  std::string stop_reason;
  std::vector<std::string> skipped;
  McapStatistics st;
  bool first_message = true;
  while (true) {
    if (at == size_) {
      stop_reason = "the file ends there";
      break;
    }
    if (size_ - at < 9) {
      stop_reason = "incomplete record header at byte " + std::to_string(at);
      break;
    }
    std::byte head[9];
    read_bytes(at, head);
    const auto op = static_cast<std::uint8_t>(head[0]);
    std::uint64_t len;
    std::memcpy(&len, head + 1, 8);
    if (len > size_ - at - 9) {
      stop_reason = "incomplete record (opcode " + std::to_string(op) + ") at byte " + std::to_string(at);
      break;
    }
    if (op == mcap_op::kDataEnd || op == mcap_op::kFooter) {
      stop_reason = "";
      break;
    }
    try {
      if (op == mcap_op::kChunk) {
        if (len > kMaxRecordBytes) throw McapError("chunk record too large");
        const auto body = read_vec(at + 9, len);
        const ChunkHead h = parse_chunk(body);
        const std::string where = "chunk at byte " + std::to_string(at);
        const auto records = decompress_chunk(h, where);
        // Schemas and channels inside the chunk; messages for the statistics.
        Reader r(records, where.c_str());
        McapChunkIndex ci;
        ci.chunk_start_offset = at;
        ci.chunk_length = 9 + len;
        ci.compression = h.compression;
        ci.compressed_size = h.records.size();
        ci.uncompressed_size = h.uncompressed_size;
        ci.message_start_time = h.start_time;
        ci.message_end_time = h.end_time;
        McapStatistics local;
        bool local_first = true;
        std::vector<std::pair<std::uint8_t, std::span<const std::byte>>> defs;
        while (!r.done()) {
          const auto rop = r.get<std::uint8_t>();
          const auto rbody = r.take(r.get<std::uint64_t>());
          if (rop == mcap_op::kSchema || rop == mcap_op::kChannel) {
            defs.push_back({rop, rbody});
          } else if (rop == mcap_op::kMessage) {
            Reader m(rbody, "message record");
            const auto ch = m.get<std::uint16_t>();
            m.get<std::uint32_t>();
            const auto t = m.get<std::uint64_t>();
            ++local.message_count;
            ++local.channel_message_counts[ch];
            if (local_first) {
              local.message_start_time = local.message_end_time = t;
              local_first = false;
            } else {
              local.message_start_time = std::min(local.message_start_time, t);
              local.message_end_time = std::max(local.message_end_time, t);
            }
          }
        }
        // The chunk is whole: keep it.
        for (const auto& [dop, dbody] : defs) add_schema_or_channel(dop, dbody);
        st.message_count += local.message_count;
        for (const auto& [ch, n] : local.channel_message_counts) st.channel_message_counts[ch] += n;
        if (local.message_count > 0) {
          if (first_message) {
            st.message_start_time = local.message_start_time;
            st.message_end_time = local.message_end_time;
            first_message = false;
          } else {
            st.message_start_time = std::min(st.message_start_time, local.message_start_time);
            st.message_end_time = std::max(st.message_end_time, local.message_end_time);
          }
        }
        chunks_.push_back(std::move(ci));
        ++good_chunks;
      } else if (op == mcap_op::kSchema || op == mcap_op::kChannel) {
        add_schema_or_channel(op, read_vec(at + 9, len));
      } else if (op == mcap_op::kMetadata) {
        const auto body = read_vec(at + 9, std::min<std::uint64_t>(len, kMaxRecordBytes));
        Reader m(body, "metadata record");
        std::string name = m.str();
        StringMap map = get_map(m);
        metadata_.try_emplace(std::move(name), std::move(map));
        ++st.metadata_count;
      } else if (op == mcap_op::kMessage) {
        // Messages outside chunks: this reader indexes chunked files only; count it.
        ++st.message_count;
      }
    } catch (const McapError& e) {
      if (op != mcap_op::kChunk) {
        stop_reason = std::string("corrupt record at byte ") + std::to_string(at) + ": " + e.what();
        break;
      }
      // A damaged chunk whose record length is intact: the chunks after it are still good.
      skipped.push_back(std::string("chunk at byte ") + std::to_string(at) + " (" + e.what() + ")");
    }
    at += 9 + len;
  }
  if (!skipped.empty()) {
    std::string list;
    for (const auto& s : skipped) list += (list.empty() ? "" : ", ") + s;
    warnings_.push_back(path_.string() + ": " + std::to_string(skipped.size()) + " damaged chunk(s) skipped: " + list);
  }
  if (!stop_reason.empty()) {
    warnings_.push_back(path_.string() + " was cut short or is corrupt (" + stop_reason + "); read up to its last good chunk: " +
                        std::to_string(good_chunks) + " chunks, " + std::to_string(st.message_count) + " messages");
  }
  st.chunk_count = good_chunks;
  st.schema_count = static_cast<std::uint16_t>(schemas_.size());
  st.channel_count = static_cast<std::uint32_t>(channels_.size());
  for (const auto& [id, c] : channels_) st.channel_message_counts.try_emplace(id, 0);
  statistics_ = std::move(st);
}

const McapChannel* McapReader::channel_by_topic(const std::string& topic) const {
  for (const auto& [id, c] : channels_) {
    if (c.topic == topic) return &c;
  }
  return nullptr;
}

std::span<const std::byte> McapReader::chunk_records(std::uint32_t i) {
  if (i >= chunks_.size()) throw McapError("no chunk " + std::to_string(i));
  if (cached_chunk_ == i) return cached_records_;
  const auto& ci = chunks_[i];
  if (ci.chunk_length < 9 || ci.chunk_length > kMaxRecordBytes + 9) throw McapError("chunk length out of range");
  const auto rec = read_vec(ci.chunk_start_offset, ci.chunk_length);
  Reader r(rec, "chunk record");
  if (r.get<std::uint8_t>() != mcap_op::kChunk) {
    throw McapError("chunk index points at a record that is not a chunk (byte " + std::to_string(ci.chunk_start_offset) + ")");
  }
  const auto body = r.take(r.get<std::uint64_t>());
  cached_chunk_ = UINT32_MAX;
  cached_records_ = decompress_chunk(parse_chunk(body), "chunk at byte " + std::to_string(ci.chunk_start_offset));
  cached_chunk_ = i;
  return cached_records_;
}

void McapReader::index_chunk_messages(std::uint32_t i) {
  if (chunk_indexed_[i]) return;
  const auto& ci = chunks_[i];
  bool from_records = false;
  if (!ci.message_index_offsets.empty() && ci.message_index_length > 0 && ci.message_index_length < kMaxRecordBytes) {
    // The message index records that follow the chunk.
    const std::uint64_t start = ci.chunk_start_offset + ci.chunk_length;
    const auto bytes = read_vec(start, ci.message_index_length);
    Reader r(bytes, "message index records");
    while (!r.done()) {
      const auto op = r.get<std::uint8_t>();
      Reader body(r.take(r.get<std::uint64_t>()), "message index record");
      if (op != mcap_op::kMessageIndex) continue;
      const auto ch = body.get<std::uint16_t>();
      Reader entries = body.sub_u32();
      auto& list = index_[ch];
      while (!entries.done()) {
        const auto t = entries.get<std::uint64_t>();
        const auto off = entries.get<std::uint64_t>();
        if (off >= ci.uncompressed_size) throw McapError("message index offset outside its chunk");
        list.push_back({t, i, off});
      }
    }
    from_records = true;
  }
  if (!from_records) {
    const auto records = chunk_records(i);
    Reader r(records, "chunk records");
    while (!r.done()) {
      const std::uint64_t off = r.position();
      const auto op = r.get<std::uint8_t>();
      const auto body = r.take(r.get<std::uint64_t>());
      if (op != mcap_op::kMessage) continue;
      Reader m(body, "message record");
      const auto ch = m.get<std::uint16_t>();
      m.get<std::uint32_t>();
      index_[ch].push_back({m.get<std::uint64_t>(), i, off});
    }
  }
  chunk_indexed_[i] = true;
}

std::vector<McapMessageRef> McapReader::message_index(std::uint16_t channel) {
  for (std::uint32_t i = 0; i < chunks_.size(); ++i) {
    if (!chunk_indexed_[i]) {
      index_chunk_messages(i);
      for (auto& [ch, list] : index_) {
        std::stable_sort(list.begin(), list.end(), [](const McapMessageRef& a, const McapMessageRef& b) {
          return a.chunk != b.chunk ? a.chunk < b.chunk : a.offset < b.offset;
        });
      }
    }
  }
  auto it = index_.find(channel);
  if (it == index_.end()) return {};
  auto list = it->second;
  std::stable_sort(list.begin(), list.end(),
                   [](const McapMessageRef& a, const McapMessageRef& b) { return a.log_time < b.log_time; });
  return list;
}

McapMessage McapReader::read(const McapMessageRef& ref) {
  const auto records = chunk_records(ref.chunk);
  if (ref.offset >= records.size()) throw McapError("message offset outside its chunk");
  Reader r(records.subspan(static_cast<std::size_t>(ref.offset)), "message record");
  if (r.get<std::uint8_t>() != mcap_op::kMessage) throw McapError("message index points at a record that is not a message");
  return parse_message(r.take(r.get<std::uint64_t>()));
}

void McapReader::for_each_message(const std::function<bool(const McapMessage&)>& visit,
                                  std::optional<std::vector<std::uint16_t>> channels, std::uint64_t start,
                                  std::uint64_t end) {
  for (std::uint32_t i = 0; i < chunks_.size(); ++i) {
    const auto& ci = chunks_[i];
    if (ci.message_end_time < start || ci.message_start_time > end) continue;
    const auto records = chunk_records(i);
    Reader r(records, "chunk records");
    while (!r.done()) {
      const auto op = r.get<std::uint8_t>();
      const auto body = r.take(r.get<std::uint64_t>());
      if (op != mcap_op::kMessage) continue;
      McapMessage m = parse_message(body);
      if (m.log_time < start || m.log_time > end) continue;
      if (channels && std::find(channels->begin(), channels->end(), m.channel_id) == channels->end()) continue;
      if (!visit(m)) return;
    }
  }
}

std::vector<std::string> recover_mcap(const std::filesystem::path& in, const std::filesystem::path& out) {
  McapReader reader = McapReader::open(in);
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec)) {
    throw McapError("recover: the output must be another file than the input");
  }
  McapWriterOptions options;
  options.profile = reader.header().profile;
  options.library = reader.header().library;
  McapWriter writer(out, options);
  for (const auto& [name, map] : reader.metadata()) writer.add_metadata(name, map);
  std::map<std::uint16_t, std::uint16_t> schema_ids, channel_ids;
  for (const auto& [id, s] : reader.schemas()) schema_ids[id] = writer.add_schema(s.name, s.encoding, s.data);
  for (const auto& [id, c] : reader.channels()) {
    const auto sit = schema_ids.find(c.schema_id);
    channel_ids[id] = writer.add_channel(sit == schema_ids.end() ? 0 : sit->second, c.topic, c.message_encoding, c.metadata);
  }
  reader.for_each_message([&](const McapMessage& m) {
    const auto it = channel_ids.find(m.channel_id);
    if (it != channel_ids.end()) writer.write(it->second, m.log_time, m.publish_time, m.data);
    return true;
  });
  writer.finish();
  return reader.warnings();
}

}  // namespace fleetscope::recording
