#include "storage/log_format.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace shoal::storage {
namespace {

void PutFixed32(std::string* dst, uint32_t v) {
  char b[4];
  EncodeFixed32(b, v);
  dst->append(b, 4);
}

uint32_t FrameChecksum(const char* length_field, size_t body_size) {
  return static_cast<uint32_t>(XXH3_64bits(length_field, 4 + body_size));
}

// Reserves the frame header, appends type + payload pieces, then fills in
// length and checksum in place: the record is built once, in *dst.
class FrameBuilder {
 public:
  FrameBuilder(std::string* dst, RecordType type, size_t payload_size) : dst_(dst) {
    assert(payload_size < kMaxBodySize);
    start_ = dst->size();
    dst->append(kFrameHeaderSize, '\0');
    dst->push_back(static_cast<char>(type));
  }
  void Add(std::string_view piece) { dst_->append(piece); }
  void AddFixed32(uint32_t v) { PutFixed32(dst_, v); }
  void Seal() {
    char* frame = dst_->data() + start_;
    size_t body = dst_->size() - start_ - kFrameHeaderSize;
    EncodeFixed32(frame + 4, static_cast<uint32_t>(body));
    EncodeFixed32(frame, FrameChecksum(frame + 4, body));
  }

 private:
  std::string* dst_;
  size_t start_;
};

}  // namespace

void AppendLogHeader(std::string* dst) {
  dst->append(kLogMagic, sizeof(kLogMagic));
  PutFixed32(dst, kLogVersion);
  PutFixed32(dst, 0);  // flags
}

HeaderCheck CheckLogHeader(std::string_view bytes) {
  std::string expected;
  AppendLogHeader(&expected);
  size_t magic_len = std::min(bytes.size(), sizeof(kLogMagic));
  if (std::memcmp(bytes.data(), kLogMagic, magic_len) != 0) return HeaderCheck::kBadMagic;
  if (bytes.size() < kLogHeaderSize) {
    // A crash while the header was being written leaves a prefix of it.
    if (expected.compare(0, bytes.size(), bytes) == 0) return HeaderCheck::kShort;
    return HeaderCheck::kBadVersion;
  }
  if (DecodeFixed32(bytes.data() + 8) != kLogVersion || DecodeFixed32(bytes.data() + 12) != 0) {
    return HeaderCheck::kBadVersion;
  }
  return HeaderCheck::kOk;
}

void AppendPutRecord(std::string* dst, std::string_view key, std::string_view object) {
  FrameBuilder f(dst, RecordType::kPut, 8 + key.size() + object.size());
  f.AddFixed32(static_cast<uint32_t>(key.size()));
  f.Add(key);
  f.AddFixed32(static_cast<uint32_t>(object.size()));
  f.Add(object);
  f.Seal();
}

void AppendPutRecordHead(std::string* dst, std::string_view key, std::string_view head,
                         std::string_view tail) {
  const size_t start = dst->size();
  const size_t body = 1 + 8 + key.size() + head.size() + tail.size();
  assert(body <= kMaxBodySize);
  dst->append(kFrameHeaderSize, '\0');
  dst->push_back(static_cast<char>(RecordType::kPut));
  PutFixed32(dst, static_cast<uint32_t>(key.size()));
  dst->append(key);
  PutFixed32(dst, static_cast<uint32_t>(head.size() + tail.size()));
  dst->append(head);
  char* frame = dst->data() + start;
  EncodeFixed32(frame + 4, static_cast<uint32_t>(body));
  // The same checksum as over one contiguous frame: XXH3's streaming form
  // gives the one-shot result.
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                        XXH3_freeState);
  // Allocation failure aborts, as any allocation here does.
  if (state == nullptr) std::abort();
  XXH3_64bits_reset(state.get());
  XXH3_64bits_update(state.get(), frame + 4, dst->size() - start - 4);
  XXH3_64bits_update(state.get(), tail.data(), tail.size());
  EncodeFixed32(frame, static_cast<uint32_t>(XXH3_64bits_digest(state.get())));
}

void AppendDeltaRecord(std::string* dst, std::string_view key, std::string_view delta) {
  FrameBuilder f(dst, RecordType::kDelta, 8 + key.size() + delta.size());
  f.AddFixed32(static_cast<uint32_t>(key.size()));
  f.Add(key);
  f.AddFixed32(static_cast<uint32_t>(delta.size()));
  f.Add(delta);
  f.Seal();
}

void AppendFlushAllRecord(std::string* dst) {
  FrameBuilder f(dst, RecordType::kFlushAll, 0);
  f.Seal();
}

void AppendDropRecord(std::string* dst, std::string_view key) {
  FrameBuilder f(dst, RecordType::kDrop, 4 + key.size());
  f.AddFixed32(static_cast<uint32_t>(key.size()));
  f.Add(key);
  f.Seal();
}

const char* FrameCheckName(FrameCheck c) {
  switch (c) {
    case FrameCheck::kOk:
      return "ok";
    case FrameCheck::kShortHeader:
      return "truncated record header";
    case FrameCheck::kBadLength:
      return "bad record length";
    case FrameCheck::kShortBody:
      return "record runs past end of file";
    case FrameCheck::kBadChecksum:
      return "checksum mismatch";
    case FrameCheck::kBadType:
      return "unknown record type";
    case FrameCheck::kBadPayload:
      return "malformed record payload";
  }
  return "?";
}

namespace {

// Splits a kPut (or kDelta) payload; false if its two lengths do not cover
// it exactly.
bool ParsePut(std::string_view payload, LogRecord* record) {
  if (payload.size() < 4) return false;
  uint64_t key_len = DecodeFixed32(payload.data());
  payload.remove_prefix(4);
  if (payload.size() < key_len + 4) return false;
  record->key = payload.substr(0, key_len);
  payload.remove_prefix(key_len);
  uint64_t object_len = DecodeFixed32(payload.data());
  payload.remove_prefix(4);
  if (payload.size() != object_len) return false;
  record->object = payload;
  return true;
}

}  // namespace

FrameCheck ParseFrame(std::string_view bytes, LogRecord* record, size_t* frame_size) {
  if (bytes.size() < kFrameHeaderSize) return FrameCheck::kShortHeader;
  uint32_t body_len = DecodeFixed32(bytes.data() + 4);
  if (body_len == 0 || body_len > kMaxBodySize) return FrameCheck::kBadLength;
  *frame_size = kFrameHeaderSize + static_cast<size_t>(body_len);
  if (bytes.size() < *frame_size) return FrameCheck::kShortBody;
  if (FrameChecksum(bytes.data() + 4, body_len) != DecodeFixed32(bytes.data())) {
    return FrameCheck::kBadChecksum;
  }
  std::string_view body = bytes.substr(kFrameHeaderSize, body_len);
  std::string_view payload = body.substr(1);
  *record = LogRecord{};
  switch (static_cast<uint8_t>(body[0])) {
    case static_cast<uint8_t>(RecordType::kPut):
      record->type = RecordType::kPut;
      return ParsePut(payload, record) ? FrameCheck::kOk : FrameCheck::kBadPayload;
    case static_cast<uint8_t>(RecordType::kDelta):
      record->type = RecordType::kDelta;
      return ParsePut(payload, record) ? FrameCheck::kOk : FrameCheck::kBadPayload;
    case static_cast<uint8_t>(RecordType::kFlushAll):
      record->type = RecordType::kFlushAll;
      return payload.empty() ? FrameCheck::kOk : FrameCheck::kBadPayload;
    case static_cast<uint8_t>(RecordType::kDrop):
      record->type = RecordType::kDrop;
      if (payload.size() < 4 || DecodeFixed32(payload.data()) != payload.size() - 4) {
        return FrameCheck::kBadPayload;
      }
      record->key = payload.substr(4);
      return FrameCheck::kOk;
    default:
      return FrameCheck::kBadType;
  }
}

}  // namespace shoal::storage
