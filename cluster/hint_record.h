#pragma once
// The hint log's records (cluster/hint_store.h describes the file): the kind
// byte and key field of each record, built on the append-only log's frames
// (storage/log_format.h). Pure functions; shared by the store and its
// compaction.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/log_format.h"

namespace shoal::cluster::hint_log {

// The kind byte at the start of a record's key field (hint_store.h).
enum class Kind : uint8_t {
  kMarker = 0,
  kHint = 1,
  kDone = 2,
  kForget = 3,
};

constexpr std::string_view kMarkerKey("\0SHOALHNT", 9);
constexpr uint32_t kHintLogVersion = 1;
constexpr size_t kMarkerObjectSize = 12;
constexpr size_t kMarkerFrameSize = storage::PutFrameSize(kMarkerKey.size(), kMarkerObjectSize);

// ReplayLog names the append-only log's option in its corruption message;
// the hint log has its own (HintStoreOptions::skip_corrupt).
constexpr std::string_view kAofSkipHint = " (set aof-load-corrupt skip to load the rest)";

void PutFixed32(std::string* dst, uint32_t v);

void PutFixed64(std::string* dst, uint64_t v);

uint64_t DecodeFixed64(const char* p);

size_t HintKeySize(size_t target_size, size_t key_size);

uint64_t HintFrameSize(size_t target_size, size_t key_size, size_t object_size);

// [kind][target length][target][seq], the start of every non-marker key field.
void AppendTargetSeq(std::string* dst, Kind kind, std::string_view target, uint64_t seq);

void AppendMarkerRecord(std::string* dst, uint64_t next_seq);

void AppendHintRecord(std::string* dst, std::string_view target, std::string_view key, uint64_t seq,
                      int64_t first_ms, std::string_view object);

// A record's key field, parsed. `key` is empty for kForget.
struct Field {
  Kind kind = Kind::kMarker;
  std::string_view target;
  uint64_t seq = 0;
  int64_t first_ms = 0;
  std::string_view key;
};

// Parses a kHint, kDone or kForget key field; false if malformed.
bool ParseField(std::string_view in, Field* out);

}  // namespace shoal::cluster::hint_log
