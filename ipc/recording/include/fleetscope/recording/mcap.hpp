// MCAP (https://mcap.dev/spec, format version 0: magic "\x89MCAP0\r\n"), written from the
// specification: a writer that puts messages into zstd-compressed chunks, each followed by its
// message index records, and ends the file with a summary section (schemas, channels, statistics,
// chunk indexes, metadata indexes), summary offsets and a footer; and a reader that seeks through
// the summary, or, for a file cut short (a recorder killed with SIGKILL), scans the data section
// up to its last complete chunk. Every count, length and offset read from a file is checked
// before use: a corrupt file is refused with McapError, never a crash.
// Neither class is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fleetscope::recording {

class McapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace mcap_op {
inline constexpr std::uint8_t kHeader = 0x01, kFooter = 0x02, kSchema = 0x03, kChannel = 0x04, kMessage = 0x05,
                              kChunk = 0x06, kMessageIndex = 0x07, kChunkIndex = 0x08, kAttachment = 0x09,
                              kAttachmentIndex = 0x0A, kStatistics = 0x0B, kMetadata = 0x0C,
                              kMetadataIndex = 0x0D, kSummaryOffset = 0x0E, kDataEnd = 0x0F;
}

inline constexpr std::uint8_t kMcapMagic[8] = {0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n'};

using StringMap = std::map<std::string, std::string>;

struct McapSchema {
  std::uint16_t id = 0;
  std::string name;
  std::string encoding;
  std::vector<std::byte> data;
};

struct McapChannel {
  std::uint16_t id = 0;
  std::uint16_t schema_id = 0;
  std::string topic;
  std::string message_encoding;
  StringMap metadata;
};

struct McapStatistics {
  std::uint64_t message_count = 0;
  std::uint16_t schema_count = 0;
  std::uint32_t channel_count = 0;
  std::uint32_t attachment_count = 0;
  std::uint32_t metadata_count = 0;
  std::uint32_t chunk_count = 0;
  std::uint64_t message_start_time = 0;
  std::uint64_t message_end_time = 0;
  std::map<std::uint16_t, std::uint64_t> channel_message_counts;
};

struct McapChunkIndex {
  std::uint64_t message_start_time = 0;
  std::uint64_t message_end_time = 0;
  std::uint64_t chunk_start_offset = 0;  // of the chunk record's opcode, from the start of the file
  std::uint64_t chunk_length = 0;        // the whole chunk record
  std::map<std::uint16_t, std::uint64_t> message_index_offsets;
  std::uint64_t message_index_length = 0;
  std::string compression;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
};

struct McapMessage {
  std::uint16_t channel_id = 0;
  std::uint32_t sequence = 0;
  std::uint64_t log_time = 0;
  std::uint64_t publish_time = 0;
  std::vector<std::byte> data;
};

struct McapHeader {
  std::string profile;
  std::string library;
};

// --- writer ----------------------------------------------------------------------------------------

struct McapWriterOptions {
  std::string profile;
  std::string library = "fleetscope";
  // A chunk is closed once its records reach this many bytes (before compression) ...
  std::size_t chunk_size = 1u << 20;
  // ... or when the oldest record in it is this old (flush_if_older), so that a recorder killed
  // with SIGKILL loses at most this much.
  bool compress = true;  // zstd; otherwise chunks are stored uncompressed ("")
  int zstd_level = 3;
};

class McapWriter {
 public:
  // Creates (truncates) the file. Throws McapError.
  McapWriter(const std::filesystem::path& path, const McapWriterOptions& options);
  // Finishes the file if finish() was not called (errors are swallowed: call finish() to see them).
  ~McapWriter();
  McapWriter(const McapWriter&) = delete;
  McapWriter& operator=(const McapWriter&) = delete;

  // Ids start at 1 (schema id 0 means "no schema"). The records go into the current chunk, so
  // a reader scanning a truncated file finds them before the messages that use them.
  std::uint16_t add_schema(const std::string& name, const std::string& encoding, std::span<const std::byte> data);
  std::uint16_t add_channel(std::uint16_t schema_id, const std::string& topic, const std::string& message_encoding,
                            const StringMap& metadata = {});
  // A Metadata record (data section, outside chunks; indexed in the summary).
  void add_metadata(const std::string& name, const StringMap& metadata);
  // Sequence numbers count per channel from 0. Throws McapError for an unknown channel.
  void write(std::uint16_t channel_id, std::uint64_t log_time, std::uint64_t publish_time,
             std::span<const std::byte> data);
  // Closes the current chunk (if any) and writes it with its message index records.
  void flush_chunk();
  // Flushes the chunk when its first record was added at least `age_ns` before `now_ns`.
  void flush_if_older(std::uint64_t now_ns, std::uint64_t age_ns);
  // Last chunk, DataEnd, summary, summary offsets, footer, magic; fsync. Idempotent.
  void finish();

  std::uint64_t bytes_written() const noexcept { return offset_; }
  const McapStatistics& statistics() const noexcept { return stats_; }

 private:
  void put(std::span<const std::byte> bytes);  // to the file, counting the data-section CRC
  void put_record(std::uint8_t op, std::span<const std::byte> body);
  void chunk_record(std::uint8_t op, std::span<const std::byte> body, std::uint64_t log_time);

  int fd_ = -1;
  std::filesystem::path path_;
  McapWriterOptions options_;
  bool finished_ = false;
  std::uint64_t offset_ = 0;
  std::uint32_t data_crc_ = 0;
  std::vector<McapSchema> schemas_;
  std::vector<McapChannel> channels_;
  std::map<std::uint16_t, std::uint32_t> sequences_;
  McapStatistics stats_;
  std::vector<McapChunkIndex> chunk_indexes_;
  std::vector<std::pair<std::uint64_t, std::pair<std::uint64_t, std::string>>> metadata_indexes_;  // offset, length, name
  // The open chunk.
  std::vector<std::byte> chunk_;
  std::uint64_t chunk_start_time_ = 0, chunk_end_time_ = 0;
  bool chunk_has_messages_ = false;
  std::uint64_t chunk_opened_ns_ = 0;
  std::map<std::uint16_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> chunk_index_;  // per channel
  std::vector<std::byte> scratch_;
};

// --- reader ----------------------------------------------------------------------------------------

// Where one message lives: which chunk and where in its decompressed records.
struct McapMessageRef {
  std::uint64_t log_time = 0;
  std::uint32_t chunk = 0;    // index into chunk_indexes()
  std::uint64_t offset = 0;   // of the message record in the chunk's decompressed records
};

class McapReader {
 public:
  // Opens and reads the summary (or scans the data section when there is none or it is unusable,
  // adding a warning). Throws McapError for a file that is not MCAP, a newer MCAP version, or
  // with no readable record at all.
  static McapReader open(const std::filesystem::path& path);
  ~McapReader();
  McapReader(McapReader&& other) noexcept;
  McapReader& operator=(McapReader&& other) noexcept;

  const McapHeader& header() const noexcept { return header_; }
  // Non-empty when the file was cut short or partly corrupt: what was kept and what was not.
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  bool has_summary() const noexcept { return has_summary_; }
  const std::map<std::uint16_t, McapSchema>& schemas() const noexcept { return schemas_; }
  const std::map<std::uint16_t, McapChannel>& channels() const noexcept { return channels_; }
  // From the summary, or computed from the chunks scanned.
  const McapStatistics& statistics() const noexcept { return statistics_; }
  const std::vector<McapChunkIndex>& chunk_indexes() const noexcept { return chunks_; }
  // Metadata records by name (the first of each name), read from the file.
  const std::map<std::string, StringMap>& metadata() const noexcept { return metadata_; }
  std::uint64_t file_size() const noexcept { return size_; }
  // The channel with this topic, if any.
  const McapChannel* channel_by_topic(const std::string& topic) const;

  // Every message of `channel` in log-time order (stable for equal times), from the message
  // index records (built by decompressing chunks when a chunk has none).
  std::vector<McapMessageRef> message_index(std::uint16_t channel);
  McapMessage read(const McapMessageRef& ref);
  // Every message in file order (chunk by chunk), optionally only those of `channels` and with
  // log_time in [start, end]. Stops early when `visit` returns false.
  void for_each_message(const std::function<bool(const McapMessage&)>& visit,
                        std::optional<std::vector<std::uint16_t>> channels = std::nullopt,
                        std::uint64_t start = 0, std::uint64_t end = UINT64_MAX);
  // The decompressed, CRC-checked records of chunk `i` (cached: the last one).
  std::span<const std::byte> chunk_records(std::uint32_t i);

 private:
  McapReader() = default;
  void read_bytes(std::uint64_t offset, std::span<std::byte> out) const;
  std::vector<std::byte> read_vec(std::uint64_t offset, std::uint64_t size) const;
  bool read_summary();
  void scan();
  void add_schema_or_channel(std::uint8_t op, std::span<const std::byte> body);
  void index_chunk_messages(std::uint32_t chunk);

  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
  McapHeader header_;
  std::vector<std::string> warnings_;
  bool has_summary_ = false;
  std::map<std::uint16_t, McapSchema> schemas_;
  std::map<std::uint16_t, McapChannel> channels_;
  McapStatistics statistics_;
  std::vector<McapChunkIndex> chunks_;
  std::map<std::string, StringMap> metadata_;
  std::map<std::uint16_t, std::vector<McapMessageRef>> index_;  // built lazily, per channel
  std::vector<bool> chunk_indexed_;
  std::uint32_t cached_chunk_ = UINT32_MAX;
  std::vector<std::byte> cached_records_;
};

// Rebuilds a complete file (summary, indexes, footer) from the complete chunks and records of
// `in` (which may be truncated). Returns the reader's warnings about `in`. Throws McapError.
std::vector<std::string> recover_mcap(const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace fleetscope::recording
