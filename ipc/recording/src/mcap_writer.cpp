#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "bytes.hpp"
#include "fleetscope/ipc/mesh_data.hpp"
#include "fleetscope/recording/mcap.hpp"

namespace fleetscope::recording {

using detail::ByteWriter;

namespace {

std::string errno_text() { return std::strerror(errno); }

void put_map(ByteWriter& w, const StringMap& map) {
  const auto start = w.begin_u32();
  for (const auto& [k, v] : map) {
    w.str(k);
    w.str(v);
  }
  w.end_u32(start);
}

}  // namespace

McapWriter::McapWriter(const std::filesystem::path& path, const McapWriterOptions& options)
    : path_(path), options_(options) {
  // Truncating a live segment's shared memory object makes its writer die of SIGBUS.
  std::error_code ec;
  const auto resolved = std::filesystem::weakly_canonical(path, ec);
  if (!ec && resolved.parent_path() == "/dev/shm" && resolved.filename().string().starts_with("fleetscope.")) {
    throw McapError("'" + path.string() + "' is a segment's shared memory object: writing there would destroy it");
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw McapError("cannot create " + path.string() + ": " + errno_text());
  put(std::as_bytes(std::span(kMcapMagic)));
  std::vector<std::byte> body;
  ByteWriter w(body);
  w.str(options_.profile);
  w.str(options_.library);
  put_record(mcap_op::kHeader, body);
}

McapWriter::~McapWriter() {
  try {
    finish();
  } catch (const McapError&) {
    // finish() reports errors to callers that call it; a destructor cannot.
  }
  if (fd_ >= 0) ::close(fd_);
}

void McapWriter::put(std::span<const std::byte> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw McapError("writing " + path_.string() + ": " + errno_text());
    }
    done += static_cast<std::size_t>(n);
  }
  data_crc_ = ipc::crc32(bytes, data_crc_);
  offset_ += bytes.size();
}

void McapWriter::put_record(std::uint8_t op, std::span<const std::byte> body) {
  std::byte head[9];
  head[0] = static_cast<std::byte>(op);
  const std::uint64_t len = body.size();
  std::memcpy(head + 1, &len, 8);
  // One write for small records: header and body together.
  scratch_.assign(head, head + 9);
  scratch_.insert(scratch_.end(), body.begin(), body.end());
  put(scratch_);
}

void McapWriter::chunk_record(std::uint8_t op, std::span<const std::byte> body, std::uint64_t log_time) {
  if (chunk_.empty()) chunk_opened_ns_ = 0;
  ByteWriter w(chunk_);
  w.put<std::uint8_t>(op);
  w.put<std::uint64_t>(body.size());
  w.bytes(body);
  (void)log_time;
}

std::uint16_t McapWriter::add_schema(const std::string& name, const std::string& encoding,
                                     std::span<const std::byte> data) {
  if (finished_) throw McapError("add_schema after finish");
  if (schemas_.size() >= 0xFFFE) throw McapError("too many schemas");
  McapSchema s{static_cast<std::uint16_t>(schemas_.size() + 1), name, encoding, {data.begin(), data.end()}};
  std::vector<std::byte> body;
  ByteWriter w(body);
  w.put<std::uint16_t>(s.id);
  w.str(s.name);
  w.str(s.encoding);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(data.size()));
  w.bytes(data);
  chunk_record(mcap_op::kSchema, body, 0);
  schemas_.push_back(std::move(s));
  stats_.schema_count = static_cast<std::uint16_t>(schemas_.size());
  return schemas_.back().id;
}

std::uint16_t McapWriter::add_channel(std::uint16_t schema_id, const std::string& topic,
                                      const std::string& message_encoding, const StringMap& metadata) {
  if (finished_) throw McapError("add_channel after finish");
  if (schema_id > schemas_.size()) throw McapError("add_channel: unknown schema " + std::to_string(schema_id));
  if (channels_.size() >= 0xFFFE) throw McapError("too many channels");
  McapChannel c{static_cast<std::uint16_t>(channels_.size() + 1), schema_id, topic, message_encoding, metadata};
  std::vector<std::byte> body;
  ByteWriter w(body);
  w.put<std::uint16_t>(c.id);
  w.put<std::uint16_t>(c.schema_id);
  w.str(c.topic);
  w.str(c.message_encoding);
  put_map(w, c.metadata);
  chunk_record(mcap_op::kChannel, body, 0);
  channels_.push_back(std::move(c));
  stats_.channel_count = static_cast<std::uint32_t>(channels_.size());
  stats_.channel_message_counts[channels_.back().id] = 0;
  return channels_.back().id;
}

void McapWriter::add_metadata(const std::string& name, const StringMap& metadata) {
  if (finished_) throw McapError("add_metadata after finish");
  flush_chunk();  // metadata records live outside chunks
  std::vector<std::byte> body;
  ByteWriter w(body);
  w.str(name);
  put_map(w, metadata);
  const std::uint64_t at = offset_;
  put_record(mcap_op::kMetadata, body);
  metadata_indexes_.push_back({at, {offset_ - at, name}});
  ++stats_.metadata_count;
}

void McapWriter::write(std::uint16_t channel_id, std::uint64_t log_time, std::uint64_t publish_time,
                       std::span<const std::byte> data) {
  if (finished_) throw McapError("write after finish");
  if (channel_id == 0 || channel_id > channels_.size()) {
    throw McapError("write: unknown channel " + std::to_string(channel_id));
  }
  const std::uint64_t offset = chunk_.size();
  ByteWriter w(chunk_);
  w.put<std::uint8_t>(mcap_op::kMessage);
  w.put<std::uint64_t>(2 + 4 + 8 + 8 + data.size());
  w.put<std::uint16_t>(channel_id);
  w.put<std::uint32_t>(sequences_[channel_id]++);
  w.put<std::uint64_t>(log_time);
  w.put<std::uint64_t>(publish_time);
  w.bytes(data);
  chunk_index_[channel_id].push_back({log_time, offset});
  if (!chunk_has_messages_) {
    chunk_start_time_ = chunk_end_time_ = log_time;
    chunk_has_messages_ = true;
  } else {
    chunk_start_time_ = std::min(chunk_start_time_, log_time);
    chunk_end_time_ = std::max(chunk_end_time_, log_time);
  }
  if (stats_.message_count == 0) {
    stats_.message_start_time = stats_.message_end_time = log_time;
  } else {
    stats_.message_start_time = std::min(stats_.message_start_time, log_time);
    stats_.message_end_time = std::max(stats_.message_end_time, log_time);
  }
  ++stats_.message_count;
  ++stats_.channel_message_counts[channel_id];
  if (chunk_opened_ns_ == 0) chunk_opened_ns_ = log_time ? log_time : 1;
  if (chunk_.size() >= options_.chunk_size) flush_chunk();
}

void McapWriter::flush_if_older(std::uint64_t now_ns, std::uint64_t age_ns) {
  if (!chunk_.empty() && chunk_opened_ns_ != 0 && now_ns >= chunk_opened_ns_ + age_ns) flush_chunk();
}

void McapWriter::flush_chunk() {
  if (chunk_.empty()) return;
  McapChunkIndex index;
  index.message_start_time = chunk_has_messages_ ? chunk_start_time_ : 0;
  index.message_end_time = chunk_has_messages_ ? chunk_end_time_ : 0;
  index.chunk_start_offset = offset_;
  index.uncompressed_size = chunk_.size();
  const std::uint32_t crc = ipc::crc32(chunk_);
  std::span<const std::byte> stored = chunk_;
  std::vector<std::byte> compressed;
  if (options_.compress) {
    compressed.resize(ZSTD_compressBound(chunk_.size()));
    const std::size_t n =
        ZSTD_compress(compressed.data(), compressed.size(), chunk_.data(), chunk_.size(), options_.zstd_level);
    if (ZSTD_isError(n)) throw McapError(std::string("zstd: ") + ZSTD_getErrorName(n));
    compressed.resize(n);
    stored = compressed;
    index.compression = "zstd";
  }
  index.compressed_size = stored.size();
  std::vector<std::byte> body;
  body.reserve(stored.size() + 64);
  ByteWriter w(body);
  w.put<std::uint64_t>(index.message_start_time);
  w.put<std::uint64_t>(index.message_end_time);
  w.put<std::uint64_t>(index.uncompressed_size);
  w.put<std::uint32_t>(crc);
  w.str(index.compression);
  w.put<std::uint64_t>(stored.size());
  w.bytes(stored);
  put_record(mcap_op::kChunk, body);
  index.chunk_length = offset_ - index.chunk_start_offset;
  const std::uint64_t indexes_start = offset_;
  for (const auto& [channel, entries] : chunk_index_) {
    std::vector<std::byte> mi;
    ByteWriter m(mi);
    m.put<std::uint16_t>(channel);
    m.put<std::uint32_t>(static_cast<std::uint32_t>(entries.size() * 16));
    for (const auto& [t, o] : entries) {
      m.put<std::uint64_t>(t);
      m.put<std::uint64_t>(o);
    }
    index.message_index_offsets[channel] = offset_;
    put_record(mcap_op::kMessageIndex, mi);
  }
  index.message_index_length = offset_ - indexes_start;
  chunk_indexes_.push_back(std::move(index));
  ++stats_.chunk_count;
  chunk_.clear();
  chunk_index_.clear();
  chunk_has_messages_ = false;
  chunk_opened_ns_ = 0;
}

void McapWriter::finish() {
  if (finished_ || fd_ < 0) return;
  finished_ = true;
  flush_chunk();
  {
    std::vector<std::byte> body;
    ByteWriter w(body);
    w.put<std::uint32_t>(data_crc_);
    put_record(mcap_op::kDataEnd, body);
  }
  const std::uint64_t summary_start = offset_;
  // The summary and what follows are built in memory: their CRC is the footer's.
  std::vector<std::byte> summary;
  struct Group {
    std::uint8_t op;
    std::uint64_t start, length;
  };
  std::vector<Group> groups;
  auto record = [&](std::uint8_t op, const std::vector<std::byte>& body) {
    ByteWriter w(summary);
    w.put<std::uint8_t>(op);
    w.put<std::uint64_t>(body.size());
    w.bytes(body);
  };
  auto group = [&](std::uint8_t op, auto&& emit) {
    const std::uint64_t start = summary.size();
    emit();
    if (summary.size() > start) groups.push_back({op, summary_start + start, summary.size() - start});
  };
  group(mcap_op::kSchema, [&] {
    for (const auto& s : schemas_) {
      std::vector<std::byte> body;
      ByteWriter w(body);
      w.put<std::uint16_t>(s.id);
      w.str(s.name);
      w.str(s.encoding);
      w.put<std::uint32_t>(static_cast<std::uint32_t>(s.data.size()));
      w.bytes(s.data);
      record(mcap_op::kSchema, body);
    }
  });
  group(mcap_op::kChannel, [&] {
    for (const auto& c : channels_) {
      std::vector<std::byte> body;
      ByteWriter w(body);
      w.put<std::uint16_t>(c.id);
      w.put<std::uint16_t>(c.schema_id);
      w.str(c.topic);
      w.str(c.message_encoding);
      put_map(w, c.metadata);
      record(mcap_op::kChannel, body);
    }
  });
  group(mcap_op::kStatistics, [&] {
    std::vector<std::byte> body;
    ByteWriter w(body);
    w.put<std::uint64_t>(stats_.message_count);
    w.put<std::uint16_t>(stats_.schema_count);
    w.put<std::uint32_t>(stats_.channel_count);
    w.put<std::uint32_t>(stats_.attachment_count);
    w.put<std::uint32_t>(stats_.metadata_count);
    w.put<std::uint32_t>(stats_.chunk_count);
    w.put<std::uint64_t>(stats_.message_start_time);
    w.put<std::uint64_t>(stats_.message_end_time);
    const auto start = w.begin_u32();
    for (const auto& [channel, count] : stats_.channel_message_counts) {
      w.put<std::uint16_t>(channel);
      w.put<std::uint64_t>(count);
    }
    w.end_u32(start);
    record(mcap_op::kStatistics, body);
  });
  group(mcap_op::kChunkIndex, [&] {
    for (const auto& c : chunk_indexes_) {
      std::vector<std::byte> body;
      ByteWriter w(body);
      w.put<std::uint64_t>(c.message_start_time);
      w.put<std::uint64_t>(c.message_end_time);
      w.put<std::uint64_t>(c.chunk_start_offset);
      w.put<std::uint64_t>(c.chunk_length);
      const auto start = w.begin_u32();
      for (const auto& [channel, off] : c.message_index_offsets) {
        w.put<std::uint16_t>(channel);
        w.put<std::uint64_t>(off);
      }
      w.end_u32(start);
      w.put<std::uint64_t>(c.message_index_length);
      w.str(c.compression);
      w.put<std::uint64_t>(c.compressed_size);
      w.put<std::uint64_t>(c.uncompressed_size);
      record(mcap_op::kChunkIndex, body);
    }
  });
  group(mcap_op::kMetadataIndex, [&] {
    for (const auto& [off, rest] : metadata_indexes_) {
      std::vector<std::byte> body;
      ByteWriter w(body);
      w.put<std::uint64_t>(off);
      w.put<std::uint64_t>(rest.first);
      w.str(rest.second);
      record(mcap_op::kMetadataIndex, body);
    }
  });
  const std::uint64_t summary_offset_start = summary_start + summary.size();
  for (const auto& g : groups) {
    std::vector<std::byte> body;
    ByteWriter w(body);
    w.put<std::uint8_t>(g.op);
    w.put<std::uint64_t>(g.start);
    w.put<std::uint64_t>(g.length);
    record(mcap_op::kSummaryOffset, body);
  }
  {
    ByteWriter w(summary);
    w.put<std::uint8_t>(mcap_op::kFooter);
    w.put<std::uint64_t>(8 + 8 + 4);
    w.put<std::uint64_t>(summary.empty() ? 0 : summary_start);
    w.put<std::uint64_t>(groups.empty() ? 0 : summary_offset_start);
    // CRC of the summary up to and including summary_offset_start.
    const std::uint32_t crc = ipc::crc32(summary);
    w.put<std::uint32_t>(crc);
    w.bytes(kMcapMagic, sizeof kMcapMagic);
  }
  put(summary);
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    throw McapError("fsync " + path_.string() + ": " + errno_text());
  }
}

}  // namespace fleetscope::recording
