#include "storage/log_reader.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>

namespace shoal::storage {
namespace {

constexpr size_t kReadChunk = 1u << 20;

// A sliding window over a file: Get() returns bytes [offset, offset + n)
// (fewer at the end of the file), reading only when they are not buffered.
// A returned view is valid until the next Get().
class Window {
 public:
  Window(const ReadableFile* file, uint64_t file_size) : file_(file), file_size_(file_size) {}

  Result<std::string_view> Get(uint64_t offset, uint64_t n) {
    uint64_t want = std::min<uint64_t>(n, file_size_ - offset);
    if (offset < start_ || offset + want > start_ + buf_.size()) {
      uint64_t read = std::min<uint64_t>(std::max<uint64_t>(want, kReadChunk), file_size_ - offset);
      Status s = file_->Read(offset, static_cast<size_t>(read), &buf_);
      if (!s.ok()) return s;
      start_ = offset;
      if (buf_.size() < want) {
        return Status::IOError(file_->path() + ": file shrank while being read");
      }
    }
    return std::string_view(buf_).substr(static_cast<size_t>(offset - start_),
                                         static_cast<size_t>(want));
  }

 private:
  const ReadableFile* file_;
  uint64_t file_size_;
  uint64_t start_ = 0;
  std::string buf_;
};

// The first bytes of a frame: header, type and a kPut's key length.
constexpr size_t kPlausibleHead = kFrameHeaderSize + 1 + 4;

// A cheap filter for the byte-by-byte scans: could a frame start here, in
// `available` bytes? Rejects almost every offset inside damaged data from its
// first 13 bytes, so the scan rarely reads (let alone checksums) a body that
// a random length points at. Keep in step with ParseFrame's record types.
bool PlausibleFrameStart(std::string_view head, uint64_t available) {
  if (head.size() < FrameSize(0)) return false;
  uint64_t body = DecodeFixed32(head.data() + 4);
  if (body == 0 || body > kMaxBodySize || kFrameHeaderSize + body > available) return false;
  switch (static_cast<uint8_t>(head[kFrameHeaderSize])) {
    case static_cast<uint8_t>(RecordType::kFlushAll):
      return body == 1;
    case static_cast<uint8_t>(RecordType::kPut):
    case static_cast<uint8_t>(RecordType::kDelta):
      return body >= 9 && head.size() >= kPlausibleHead &&
             DecodeFixed32(head.data() + kFrameHeaderSize + 1) <= body - 9;
    case static_cast<uint8_t>(RecordType::kDrop):
      return body >= 5 && head.size() >= kPlausibleHead &&
             DecodeFixed32(head.data() + kFrameHeaderSize + 1) == body - 5;
    default:
      return false;
  }
}

class Replayer {
 public:
  Replayer(Env* env, const std::string& path, const ReplayOptions& options,
           const ReplayCallback& callback)
      : env_(env), path_(path), options_(options), callback_(callback) {}

  Result<ReplayReport> Run();

 private:
  // Parses the frame at `offset`, reading as much as its length asks for.
  Result<FrameCheck> ParseAt(uint64_t offset, LogRecord* record, size_t* frame_size);
  // Offset of the first fully valid frame starting in [from, end of file),
  // or the file size if there is none.
  Result<uint64_t> FindNextFrame(uint64_t from);
  Result<bool> AllZeroFrom(uint64_t offset);
  Status Cut(uint64_t offset, const char* what);
  Status HandleDamage(uint64_t offset, FrameCheck check, size_t frame_size, uint64_t* next);
  std::string Where(uint64_t offset) const {
    return path_ + ": corrupt log at offset " + std::to_string(offset) + ": ";
  }

  Env* env_;
  const std::string& path_;
  const ReplayOptions& options_;
  const ReplayCallback& callback_;
  std::unique_ptr<ReadableFile> file_;
  std::unique_ptr<Window> window_;
  ReplayReport report_;
};

Result<FrameCheck> Replayer::ParseAt(uint64_t offset, LogRecord* record, size_t* frame_size) {
  auto head = window_->Get(offset, kFrameHeaderSize);
  if (!head.ok()) return head.status();
  FrameCheck c = ParseFrame(head.value(), record, frame_size);
  if (c != FrameCheck::kShortBody) return c;  // kShortHeader or kBadLength
  if (offset + *frame_size > report_.file_size) return c;
  auto frame = window_->Get(offset, *frame_size);
  if (!frame.ok()) return frame.status();
  return ParseFrame(frame.value(), record, frame_size);
}

Result<uint64_t> Replayer::FindNextFrame(uint64_t from) {
  LogRecord record;
  size_t frame_size = 0;
  for (uint64_t o = from; o + FrameSize(0) <= report_.file_size; ++o) {
    auto head = window_->Get(o, kPlausibleHead);
    if (!head.ok()) return head.status();
    if (!PlausibleFrameStart(head.value(), report_.file_size - o)) continue;
    auto c = ParseAt(o, &record, &frame_size);
    if (!c.ok()) return c.status();
    if (c.value() == FrameCheck::kOk) return o;
  }
  return report_.file_size;
}

Result<bool> Replayer::AllZeroFrom(uint64_t offset) {
  while (offset < report_.file_size) {
    auto bytes = window_->Get(offset, kReadChunk);
    if (!bytes.ok()) return bytes.status();
    if (bytes.value().find_first_not_of('\0') != std::string_view::npos) return false;
    offset += bytes.value().size();
  }
  return true;
}

Status Replayer::Cut(uint64_t offset, const char* what) {
  uint64_t bytes = report_.file_size - offset;
  std::string msg = path_ + ": " + what + " at offset " + std::to_string(offset) + " (" +
                    std::to_string(bytes) + " bytes) ";
  if (options_.truncate_torn_tail) {
    Status s = env_->Truncate(path_, offset);
    if (!s.ok()) return s;
    msg += "cut";
  } else {
    msg += "left in place";
  }
  report_.warnings.push_back(std::move(msg));
  return Status::Ok();
}

// Decides what the bad frame at `offset` is (see log_reader.h) and either
// fails, or sets *next to where replay continues (the file size when done).
Status Replayer::HandleDamage(uint64_t offset, FrameCheck check, size_t frame_size,
                              uint64_t* next) {
  const uint64_t size = report_.file_size;
  bool tail_like = check == FrameCheck::kShortHeader || check == FrameCheck::kShortBody ||
                   (check == FrameCheck::kBadChecksum && offset + frame_size == size);
  if (!tail_like) {
    auto zeros = AllZeroFrom(offset);
    if (!zeros.ok()) return zeros.status();
    tail_like = zeros.value();
  }
  if (!tail_like && !options_.skip_corrupt) {
    return Status::Corruption(Where(offset) + FrameCheckName(check) +
                              " (set aof-load-corrupt skip to load the rest)");
  }
  auto found = FindNextFrame(offset + 1);
  if (!found.ok()) return found.status();
  const uint64_t resume = found.value();

  if (tail_like && resume == size) {
    report_.torn_tail = true;
    report_.torn_offset = offset;
    report_.torn_bytes = size - offset;
    report_.valid_end = offset;
    *next = size;
    return Cut(offset, "torn tail");
  }
  std::string reason = FrameCheckName(check);
  if (tail_like) reason += " with valid records after it";
  if (!options_.skip_corrupt) {
    return Status::Corruption(Where(offset) + reason +
                              " (set aof-load-corrupt skip to load the rest)");
  }
  report_.skipped_regions++;
  report_.skipped_bytes += resume - offset;
  *next = resume;
  if (resume == size) {
    report_.valid_end = offset;
    return Cut(offset, ("damaged log (" + reason + ") skipped").c_str());
  }
  report_.warnings.push_back(path_ + ": skipped " + std::to_string(resume - offset) +
                             " bytes of damaged log at offset " + std::to_string(offset) + " (" +
                             reason + ")");
  return Status::Ok();
}

Result<ReplayReport> Replayer::Run() {
  auto size = env_->FileSize(path_);
  if (!size.ok()) {
    if (size.status().code() == Code::kNotFound) return report_;
    return size.status();
  }
  report_.file_size = size.value();
  if (report_.file_size == 0) return report_;
  auto file = env_->OpenReadable(path_);
  if (!file.ok()) return file.status();
  file_ = std::move(file).value();
  window_ = std::make_unique<Window>(file_.get(), report_.file_size);

  auto header = window_->Get(0, kLogHeaderSize);
  if (!header.ok()) return header.status();
  switch (CheckLogHeader(header.value())) {
    case HeaderCheck::kOk:
      break;
    case HeaderCheck::kShort: {
      report_.torn_tail = true;
      report_.torn_bytes = report_.file_size;
      Status s = Cut(0, "torn tail");
      if (!s.ok()) return s;
      return report_;
    }
    case HeaderCheck::kBadMagic:
      return Status::Corruption(path_ + ": not a shoal append-only log (bad magic)");
    case HeaderCheck::kBadVersion:
      if (header.value().size() < kLogHeaderSize) {
        return Status::Corruption(path_ + ": truncated log header");
      }
      return Status::Corruption(path_ + ": unsupported log format version " +
                                std::to_string(DecodeFixed32(header.value().data() + 8)) +
                                " flags " +
                                std::to_string(DecodeFixed32(header.value().data() + 12)) +
                                " (this build reads version " + std::to_string(kLogVersion) + ")");
  }

  uint64_t offset = kLogHeaderSize;
  report_.valid_end = report_.file_size;
  LogRecord record;
  while (offset < report_.file_size) {
    size_t frame_size = 0;
    auto check = ParseAt(offset, &record, &frame_size);
    if (!check.ok()) return check.status();
    if (check.value() != FrameCheck::kOk) {
      Status s = HandleDamage(offset, check.value(), frame_size, &offset);
      if (!s.ok()) return s;
      continue;
    }
    record.offset = offset;
    Status s = callback_(record);
    if (!s.ok()) {
      return Status(s.code(),
                    path_ + ": record at offset " + std::to_string(offset) + ": " + s.message());
    }
    report_.records++;
    offset += frame_size;
  }
  return report_;
}

}  // namespace

Result<ReplayReport> ReplayLog(Env* env, const std::string& path, const ReplayOptions& options,
                               const ReplayCallback& callback) {
  Replayer replayer(env, path, options, callback);
  return replayer.Run();
}

}  // namespace shoal::storage
