#include "cluster/hint_record.h"

namespace shoal::cluster::hint_log {

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  storage::EncodeFixed32(buf, v);
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  PutFixed32(dst, static_cast<uint32_t>(v));
  PutFixed32(dst, static_cast<uint32_t>(v >> 32));
}

uint64_t DecodeFixed64(const char* p) {
  return static_cast<uint64_t>(storage::DecodeFixed32(p)) |
         (static_cast<uint64_t>(storage::DecodeFixed32(p + 4)) << 32);
}

size_t HintKeySize(size_t target_size, size_t key_size) {
  return 1 + 4 + target_size + 8 + 8 + key_size;
}

uint64_t HintFrameSize(size_t target_size, size_t key_size, size_t object_size) {
  return storage::PutFrameSize(HintKeySize(target_size, key_size), object_size);
}

void AppendTargetSeq(std::string* dst, Kind kind, std::string_view target, uint64_t seq) {
  dst->push_back(static_cast<char>(kind));
  PutFixed32(dst, static_cast<uint32_t>(target.size()));
  dst->append(target);
  PutFixed64(dst, seq);
}

void AppendMarkerRecord(std::string* dst, uint64_t next_seq) {
  std::string object;
  PutFixed32(&object, kHintLogVersion);
  PutFixed64(&object, next_seq);
  storage::AppendPutRecord(dst, kMarkerKey, object);
}

void AppendHintRecord(std::string* dst, std::string_view target, std::string_view key, uint64_t seq,
                      int64_t first_ms, std::string_view object) {
  std::string field;
  field.reserve(HintKeySize(target.size(), key.size()));
  AppendTargetSeq(&field, Kind::kHint, target, seq);
  PutFixed64(&field, static_cast<uint64_t>(first_ms));
  field.append(key);
  storage::AppendPutRecord(dst, field, object);
}

bool ParseField(std::string_view in, Field* out) {
  if (in.size() < 1 + 4) return false;
  out->kind = static_cast<Kind>(in[0]);
  uint32_t tlen = storage::DecodeFixed32(in.data() + 1);
  in.remove_prefix(5);
  if (tlen == 0 || in.size() < uint64_t{tlen} + 8) return false;
  out->target = in.substr(0, tlen);
  out->seq = DecodeFixed64(in.data() + tlen);
  in.remove_prefix(tlen + 8);
  switch (out->kind) {
    case Kind::kHint:
      if (in.size() < 8) return false;
      out->first_ms = static_cast<int64_t>(DecodeFixed64(in.data()));
      out->key = in.substr(8);
      return true;
    case Kind::kDone:
      out->key = in;
      return true;
    case Kind::kForget:
      return in.empty();
    case Kind::kMarker:
      return false;
  }
  return false;
}

}  // namespace shoal::cluster::hint_log
