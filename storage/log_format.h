#pragma once
// The on-disk format of the append-only log (the "AOF"), and the pure
// functions that encode and parse it. No I/O here: LogWriter, ReplayLog and
// LogRewriter do the files.
//
// File layout
//
//   [file header: 16 bytes][frame][frame]...
//
//   file header   8 bytes  magic "SHOALAOF"
//                 4 bytes  format version, little-endian uint32 (kLogVersion = 1)
//                 4 bytes  flags, little-endian uint32, must be 0 in version 1
//
//   frame         4 bytes  checksum, little-endian uint32
//                 4 bytes  body length N, little-endian uint32, 1 <= N <= kMaxBodySize
//                 N bytes  body = [type: 1 byte][payload: N-1 bytes]
//
//   checksum = the low 32 bits of XXH3_64bits (xxHash 0.8, seed 0) over the
//   frame from its length field to its end (the 4 + N bytes after the
//   checksum). Covering the length means a damaged length fails the checksum
//   instead of silently reframing the rest of the file.
//
// Record types (the first body byte)
//
//   0  never written, so a zero-filled tail (a file the file system extended
//      but whose data never reached the disk) never parses as a record.
//   1  kPut       "key K now has object bytes B". Payload:
//                   [key length: u32 LE][key][object length: u32 LE][object]
//                 and the two lengths must account for the payload exactly.
//                 The object bytes are opaque here (the versioned object's
//                 own encoding). Replay MERGES B into K, so replaying a kPut
//                 twice, or an older one after a newer one, is harmless.
//   2  kFlushAll  every key is removed. Empty payload.
//   3  kDrop      "this node forgot key K" (maxmemory eviction): a local
//                 removal, not a delete — it writes no tombstone, so nothing
//                 about it replicates. Payload: [key length: u32 LE][key],
//                 the length accounting for the payload exactly.
//   4  kDelta     "key K changed by container delta D" (a container write
//                 whose base was the key's object right before it: see
//                 storage/container_delta.h). Payload as kPut's, with D
//                 (the delta's encoding) in place of the object. Unlike a
//                 kPut it is not a merge: replay redoes the write on the
//                 key's replayed object, which must be exactly its base (the
//                 log is in order); any other base is damage. A rewrite
//                 writes whole objects (kPut) only. Logs without kDelta
//                 read as before; a reader older than kDelta rejects it as
//                 an unknown type.
//   5..255        reserved. A frame with a good checksum but an unknown type
//                 is corruption for this version of the reader.
//
// Nothing is ever rewritten in place: records are only appended, and a
// rewrite writes a whole new file that replaces the old one by rename.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::storage {

inline constexpr char kLogMagic[8] = {'S', 'H', 'O', 'A', 'L', 'A', 'O', 'F'};
inline constexpr uint32_t kLogVersion = 1;
inline constexpr size_t kLogHeaderSize = 16;
inline constexpr size_t kFrameHeaderSize = 8;  // checksum + length
// Largest body. proto-max-bulk-len caps one value at 512 MiB; an object with
// a few siblings of that size still fits.
inline constexpr uint32_t kMaxBodySize = 0x7fffffffu;

enum class RecordType : uint8_t {
  kPut = 1,
  kFlushAll = 2,
  kDrop = 3,
  kDelta = 4,
};

// A parsed record. The views point into the buffer it was parsed from and
// are valid only as long as that buffer (during the replay callback).
struct LogRecord {
  RecordType type = RecordType::kFlushAll;
  std::string_view key;     // kPut, kDrop and kDelta
  std::string_view object;  // kPut: the object; kDelta: the delta
  uint64_t offset = 0;      // file offset of the frame (set by the reader)
};

// Little-endian fixed-width integers, as every length in the format.
inline uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
inline void EncodeFixed32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
  p[2] = static_cast<char>(v >> 16);
  p[3] = static_cast<char>(v >> 24);
}

// Appends the 16-byte file header to *dst.
void AppendLogHeader(std::string* dst);

enum class HeaderCheck {
  kOk,
  kShort,       // fewer than 16 bytes, all a prefix of a valid header
  kBadMagic,    // not a shoal log
  kBadVersion,  // a version (or flags) this build cannot read
};
// Checks the first bytes of a file. `bytes` may be shorter than the header.
HeaderCheck CheckLogHeader(std::string_view bytes);

// Size of the frame of a record with a payload of `payload_size` bytes.
inline constexpr size_t FrameSize(size_t payload_size) {
  return kFrameHeaderSize + 1 + payload_size;
}
inline constexpr size_t PutFrameSize(size_t key_size, size_t object_size) {
  return FrameSize(8 + key_size + object_size);
}

// Appends one framed record to *dst. The caller keeps the payload within
// kMaxBodySize - 1 (the server's proto-max-bulk-len guarantees it);
// checked by assert.
void AppendPutRecord(std::string* dst, std::string_view key, std::string_view object);
// The kPut frame of AppendPutRecord(dst, key, head + tail), appended to
// *dst without its last tail.size() bytes, which are `tail`: the caller
// writes tail right after, from where it is (a big value is logged without
// being copied into a buffer).
void AppendPutRecordHead(std::string* dst, std::string_view key, std::string_view head,
                         std::string_view tail);
// A kDelta frame: `delta` is a ContainerDelta's encoding.
void AppendDeltaRecord(std::string* dst, std::string_view key, std::string_view delta);
void AppendFlushAllRecord(std::string* dst);
void AppendDropRecord(std::string* dst, std::string_view key);

enum class FrameCheck {
  kOk,
  kShortHeader,  // fewer than 8 bytes left
  kBadLength,    // length 0 or above kMaxBodySize
  kShortBody,    // the length runs past the end of `bytes`
  kBadChecksum,  // checksum mismatch
  kBadType,      // checksum fine, unknown record type
  kBadPayload,   // checksum fine, payload does not match its type
};
// A short human-readable reason ("checksum mismatch", ...).
const char* FrameCheckName(FrameCheck c);

// Parses the frame at the start of `bytes`. On kOk fills *record (views into
// `bytes`; offset left 0) and *frame_size. On kShortBody, kBadChecksum,
// kBadType and kBadPayload *frame_size is the size the length field claims.
FrameCheck ParseFrame(std::string_view bytes, LogRecord* record, size_t* frame_size);

}  // namespace shoal::storage
