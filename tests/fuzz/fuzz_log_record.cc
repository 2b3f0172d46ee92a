// libFuzzer target: the append-only log's records (storage/log_format.h
// ParseFrame) and recovery over a whole file (storage/log_reader.h
// ReplayLog), on an in-memory file.
//
// Input: byte 0 is a mode (bit 0: fix up the checksum of every frame whose
// length fits, so mutations reach the record parsing; bit 1: put a valid
// file header in front; bit 2: `aof-load-corrupt skip`). The rest is the
// log file.
//
// Invariants checked:
//   - each frame ParseFrame accepts is exactly what AppendPutRecord /
//     AppendFlushAllRecord / AppendDropRecord write for its record;
//   - without skip, ReplayLog hands over exactly the frames before the first
//     bad one; with skip, those frames come first;
//   - after a successful replay (which cuts a torn tail) a second replay
//     finds no torn tail and the same records;
//   - kPut objects that decode (Object::DecodeWithNodeIds) round-trip.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/container_delta.h"
#include "storage/file.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/object.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::fuzz::Check;
using namespace shoal::storage;

// One file, in memory: just what ReplayLog uses (FileSize, OpenReadable,
// Truncate).
class MemoryEnv final : public Env {
 public:
  explicit MemoryEnv(std::string bytes) : bytes_(std::move(bytes)) {}
  const std::string& bytes() const { return bytes_; }

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string&) override {
    return Status::IOError("not supported");
  }
  Result<std::unique_ptr<WritableFile>> CreateTruncated(const std::string&) override {
    return Status::IOError("not supported");
  }
  Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override {
    return std::unique_ptr<ReadableFile>(new File(this, path));
  }
  Result<uint64_t> FileSize(const std::string&) override { return uint64_t{bytes_.size()}; }
  Status Rename(const std::string&, const std::string&) override {
    return Status::IOError("not supported");
  }
  Status Remove(const std::string&) override { return Status::IOError("not supported"); }
  Status Truncate(const std::string&, uint64_t size) override {
    Check(size <= bytes_.size(), "Truncate grows the file");
    bytes_.resize(size);
    return Status::Ok();
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }

 private:
  class File final : public ReadableFile {
   public:
    File(const MemoryEnv* env, std::string path) : env_(env), path_(std::move(path)) {}
    Status Read(uint64_t offset, size_t n, std::string* out) const override {
      const std::string& b = env_->bytes_;
      out->assign(offset >= b.size() ? std::string_view() : std::string_view(b).substr(offset, n));
      return Status::Ok();
    }
    const std::string& path() const override { return path_; }

   private:
    const MemoryEnv* env_;
    std::string path_;
  };

  std::string bytes_;
};

struct Rec {
  RecordType type;
  std::string key;
  std::string object;
  bool operator==(const Rec&) const = default;
};

std::string Reencode(const LogRecord& r) {
  std::string out;
  switch (r.type) {
    case RecordType::kPut:
      AppendPutRecord(&out, r.key, r.object);
      break;
    case RecordType::kFlushAll:
      AppendFlushAllRecord(&out);
      break;
    case RecordType::kDrop:
      AppendDropRecord(&out, r.key);
      break;
    case RecordType::kDelta:
      AppendDeltaRecord(&out, r.key, r.object);
      break;
  }
  return out;
}

// A logged container delta that decodes re-encodes to a delta that decodes
// to the same.
void CheckDelta(std::string_view bytes) {
  ActorTable actors(8);
  auto d = DecodeDelta(bytes, actors);
  if (!d.ok()) return;
  std::string wire;
  EncodeDelta(d.value(), actors, &wire);
  auto again = DecodeDelta(wire, actors);
  Check(again.ok() && again.value() == d.value(), "a logged delta does not round-trip");
}

void CheckObject(std::string_view bytes) {
  ActorTable actors(8);
  auto o = Object::DecodeWithNodeIds(bytes, actors);
  if (!o.ok()) return;
  std::string wire;
  o.value().EncodeWithNodeIds(actors, &wire);
  auto again = Object::DecodeWithNodeIds(wire, actors);
  Check(again.ok() && again.value() == o.value(), "a logged object does not round-trip");
}

Result<ReplayReport> Replay(MemoryEnv* env, bool skip, std::vector<Rec>* out) {
  ReplayOptions options;
  options.skip_corrupt = skip;
  return ReplayLog(env, "fuzz.aof", options, [&](const LogRecord& r) {
    out->push_back({r.type, std::string(r.key), std::string(r.object)});
    return Status::Ok();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool fix = data[0] & 1;
  const bool header = data[0] & 2;
  const bool skip = data[0] & 4;
  std::string file;
  if (header) AppendLogHeader(&file);
  file.append(reinterpret_cast<const char*>(data) + 1, size - 1);

  const size_t start = std::min(file.size(), kLogHeaderSize);
  if (fix) {
    for (size_t pos = start; pos + kFrameHeaderSize <= file.size();) {
      const uint32_t len = DecodeFixed32(file.data() + pos + 4);
      if (len == 0 || len > file.size() - pos - kFrameHeaderSize) break;
      const std::string sealed =
          shoal::fuzz::WithChecksum(std::string_view(file).substr(pos + 4, 4 + len), 4);
      file.replace(pos, 4, sealed, 4 + len, 4);
      pos += kFrameHeaderSize + len;
    }
  }

  // Frame by frame, as far as the frames are good.
  std::vector<Rec> parsed;
  if (CheckLogHeader(file) == HeaderCheck::kOk) {
    for (size_t pos = kLogHeaderSize; pos < file.size();) {
      LogRecord r;
      size_t frame_size = 0;
      if (ParseFrame(std::string_view(file).substr(pos), &r, &frame_size) != FrameCheck::kOk) {
        break;
      }
      Check(frame_size <= file.size() - pos, "a frame longer than the bytes");
      Check(Reencode(r) == std::string_view(file).substr(pos, frame_size),
            "a parsed frame is not what the encoder writes for its record");
      if (r.type == RecordType::kPut) CheckObject(r.object);
      if (r.type == RecordType::kDelta) CheckDelta(r.object);
      parsed.push_back({r.type, std::string(r.key), std::string(r.object)});
      pos += frame_size;
    }
  }

  MemoryEnv env(file);
  std::vector<Rec> replayed;
  auto report = Replay(&env, skip, &replayed);
  if (CheckLogHeader(file) == HeaderCheck::kOk) {
    Check(replayed.size() >= parsed.size() &&
              std::equal(parsed.begin(), parsed.end(), replayed.begin()),
          "replay does not start with the good frames");
    if (!skip) Check(replayed == parsed, "replay went past a bad frame");
  }
  if (!report.ok()) return 0;
  Check(report.value().records == replayed.size(), "records count");
  Check(env.bytes().size() == report.value().valid_end, "the file does not end at valid_end");

  std::vector<Rec> again;
  auto second = Replay(&env, skip, &again);
  Check(second.ok(), "a replayed log does not replay again");
  Check(!second.value().torn_tail, "a torn tail after the cut");
  Check(again == replayed, "the second replay differs");
  return 0;
}
