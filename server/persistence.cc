#include "server/persistence.h"

#include <cstring>

#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_rewriter.h"

namespace shoal::server {
namespace {

// Keys copied into a rewrite per loop iteration (bounded work per iteration,
// so no pause grows with the key count).
constexpr size_t kRewriteKeysPerStep = 2000;
// The copy pauses while this much is queued for the rewrite thread.
constexpr uint64_t kRewriteMaxQueued = 64ull << 20;

// The state of one key as logged: [kind: 1 byte][expire_at_ms: 8 bytes LE]
// [value]. kind 1 = present, 0 = absent (deleted). The versioned-object
// encoding replaces this with the next issue.
constexpr char kKeyAbsent = 0;
constexpr char kKeyPresent = 1;
constexpr size_t kStateHeader = 9;

void EncodeState(std::string* out, bool present, int64_t expire_at_ms, std::string_view value) {
  out->push_back(present ? kKeyPresent : kKeyAbsent);
  uint64_t e = static_cast<uint64_t>(expire_at_ms);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(e >> (8 * i)));
  out->append(value);
}

void AppendKeyRecord(std::string* frames, std::string_view key, bool present,
                     int64_t expire_at_ms, std::string_view value, std::string* scratch) {
  scratch->clear();
  EncodeState(scratch, present, expire_at_ms, value);
  storage::AppendPutRecord(frames, key, *scratch);
}

}  // namespace

Persistence::Persistence(Config& config, Logger& logger, storage::Store& store)
    : config_(config), logger_(logger), store_(store) {}

Persistence::~Persistence() {
  if (syncer_) syncer_->Stop();
  if (rewriter_) rewriter_->Abort();
}

std::string Persistence::path() const { return config_.dir + "/" + config_.appendfilename; }

storage::Status Persistence::Load(int64_t now_ms) {
  if (!config_.appendonly) return storage::Status::Ok();
  storage::ReplayOptions options;
  options.skip_corrupt = config_.aof_load_corrupt == AofLoadCorrupt::kSkip;
  const int64_t start = now_ms;
  auto report = storage::ReplayLog(
      &env_, path(), options, [&](const storage::LogRecord& rec) -> storage::Status {
        if (rec.type == storage::RecordType::kFlushAll) {
          store_.Clear();
          return storage::Status::Ok();
        }
        if (rec.object.size() < kStateHeader) {
          return storage::Status::Corruption(path() + ": bad key state at offset " +
                                             std::to_string(rec.offset));
        }
        uint64_t e = 0;
        for (int i = 0; i < 8; ++i) {
          e |= static_cast<uint64_t>(static_cast<unsigned char>(rec.object[1 + i])) << (8 * i);
        }
        int64_t expire_at = static_cast<int64_t>(e);
        if (rec.object[0] == kKeyAbsent || (expire_at != 0 && expire_at <= now_ms)) {
          store_.Delete(rec.key, now_ms);
        } else {
          store_.Set(rec.key, std::string(rec.object.substr(kStateHeader)), expire_at);
        }
        return storage::Status::Ok();
      });
  if (!report.ok()) return report.status();
  for (const std::string& w : report.value().warnings) logger_.Log(LogLevel::kWarning, "%s", w.c_str());
  loaded_records_ = report.value().records;
  logger_.Log(LogLevel::kNotice, "DB loaded from append only file: %llu records, %zu keys",
              static_cast<unsigned long long>(loaded_records_), store_.size());
  (void)start;

  auto writer = storage::LogWriter::Open(&env_, path());
  if (!writer.ok()) return writer.status();
  writer_ = std::move(writer).value();
  return Commit();  // starts the syncer under everysec
}

void Persistence::LogKey(std::string_view key, int64_t now_ms) {
  if (!writer_) return;
  scratch_.clear();
  std::string frames;
  const std::string* value = store_.GetMutable(key, now_ms);
  if (value != nullptr) {
    auto expire = store_.GetExpireAt(key, now_ms);
    AppendKeyRecord(&frames, key, true, expire.value_or(0), *value, &scratch_);
  } else {
    AppendKeyRecord(&frames, key, false, 0, {}, &scratch_);
  }
  writer_->AppendFramed(frames);
  if (rewriter_) rewriter_->AddLiveRecord(frames);
}

void Persistence::LogFlushAll() {
  if (!writer_) return;
  std::string frames;
  storage::AppendFlushAllRecord(&frames);
  writer_->AppendFramed(frames);
  if (rewriter_) rewriter_->AddLiveRecord(frames);
}

storage::Status Persistence::Commit() {
  if (!writer_) return storage::Status::Ok();
  // CONFIG SET appendfsync may have switched to or from everysec.
  bool everysec = config_.appendfsync == AppendFsync::kEverysec;
  if (everysec && !syncer_) {
    syncer_ = std::make_unique<storage::BackgroundSyncer>();
    syncer_->Start(writer_->file());
  } else if (!everysec && syncer_) {
    storage::Status st = syncer_->status();
    syncer_->Stop();
    syncer_.reset();
    if (!st.ok()) return st;
  }
  if (writer_->pending_bytes() > 0) {
    storage::Status st = writer_->Write();
    if (!st.ok()) return st;
    if (config_.appendfsync == AppendFsync::kAlways) {
      st = writer_->Sync();
      if (!st.ok()) return st;
    }
  }
  if (syncer_) return syncer_->status();
  return storage::Status::Ok();
}

storage::Status Persistence::StartRewrite(int64_t now_ms) {
  if (!writer_) return storage::Status::Invalid("ERR append only file is off");
  if (rewriter_) {
    return storage::Status::Invalid("ERR Background append only file rewriting already in progress");
  }
  auto r = storage::LogRewriter::Start(&env_, path());
  if (!r.ok()) {
    last_rewrite_ok_ = false;
    logger_.Log(LogLevel::kWarning, "Can't start the append only file rewrite: %s",
                r.status().message().c_str());
    return storage::Status::Invalid("ERR Can't start the rewrite: " + r.status().message());
  }
  rewriter_ = std::move(r).value();
  rewrite_cursor_ = 0;
  rewrite_scan_done_ = false;
  logger_.Log(LogLevel::kNotice, "Background append only file rewriting started");
  (void)now_ms;
  return storage::Status::Ok();
}

void Persistence::AbortRewrite(const storage::Status& why) {
  logger_.Log(LogLevel::kWarning, "Background AOF rewrite failed: %s", why.message().c_str());
  rewriter_->Abort();
  rewriter_.reset();
  last_rewrite_ok_ = false;
}

storage::Status Persistence::RewriteStep(int64_t now_ms) {
  if (!rewriter_) return storage::Status::Ok();
  if (!rewriter_->status().ok()) {
    AbortRewrite(rewriter_->status());
    return storage::Status::Ok();
  }
  if (!rewrite_scan_done_) {
    if (rewriter_->queued_bytes() > kRewriteMaxQueued) return storage::Status::Ok();
    std::string frames;
    std::string scratch;
    rewrite_cursor_ = store_.Scan(rewrite_cursor_, kRewriteKeysPerStep, now_ms,
                                  [&](const storage::EntryView& e) {
                                    AppendKeyRecord(&frames, e.key, true, e.expire_at_ms, e.value,
                                                    &scratch);
                                  });
    if (!frames.empty()) rewriter_->AddSnapshotRecords(std::move(frames));
    if (rewrite_cursor_ == 0) rewrite_scan_done_ = true;
    return storage::Status::Ok();
  }
  if (!rewriter_->Drained()) return storage::Status::Ok();
  // Everything logged so far is in the new file too; switch.
  storage::Status st = writer_->Write();
  if (!st.ok()) return st;
  auto finished = rewriter_->Finish();
  if (!finished.ok()) {
    if (rewriter_->fatal_failure()) return finished.status();
    AbortRewrite(finished.status());
    return storage::Status::Ok();
  }
  writer_->SwitchFile(finished.value().file, finished.value().size);
  if (syncer_) syncer_->SetFile(finished.value().file);
  rewriter_.reset();
  ++rewrites_;
  last_rewrite_ok_ = true;
  logger_.Log(LogLevel::kNotice, "Background AOF rewrite finished successfully (%llu bytes)",
              static_cast<unsigned long long>(finished.value().size));
  return storage::Status::Ok();
}

void Persistence::MaybeAutoRewrite(int64_t now_ms) {
  if (!writer_ || rewriter_) return;
  if (storage::ShouldRewrite(writer_->size(), writer_->base_size(),
                             config_.auto_aof_rewrite_percentage,
                             config_.auto_aof_rewrite_min_size)) {
    logger_.Log(LogLevel::kNotice, "Starting automatic rewriting of AOF on %llu bytes",
                static_cast<unsigned long long>(writer_->size()));
    (void)StartRewrite(now_ms);
  }
}

storage::Status Persistence::Close() {
  if (!writer_) return storage::Status::Ok();
  if (rewriter_) {
    rewriter_->Abort();
    rewriter_.reset();
  }
  if (syncer_) syncer_->Stop();
  storage::Status st = writer_->Write();
  if (st.ok() && config_.appendfsync != AppendFsync::kNo) st = writer_->Sync();
  return st;
}

PersistenceInfo Persistence::Info() const {
  PersistenceInfo info;
  info.enabled = writer_ != nullptr;
  info.rewrite_in_progress = rewriter_ != nullptr;
  info.rewrites = rewrites_;
  info.last_rewrite_ok = last_rewrite_ok_;
  info.loaded_records = loaded_records_;
  if (writer_) {
    info.last_write_ok = writer_->status().ok();
    info.current_size = writer_->size();
    info.base_size = writer_->base_size();
    info.buffer_length = writer_->pending_bytes();
  }
  return info;
}

}  // namespace shoal::server
