#include "server/persistence.h"

#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>

#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_rewriter.h"

namespace shoal::server {
namespace {

// A rewrite copies keys in chunks of this many, for at most kRewriteStepUs
// per loop iteration (bounded work, so no pause grows with the key count).
constexpr size_t kRewriteKeysPerChunk = 1000;
constexpr int64_t kRewriteStepUs = 2000;
// The copy pauses while this much is queued for the rewrite thread.
constexpr uint64_t kRewriteMaxQueued = 64ull << 20;
// The reused record buffer is freed once a large record (a value of a few
// megabytes) has grown it past this, rather than held for ever.
constexpr size_t kMaxIdleFramesCapacity = 64u << 10;

// Encodes a stored (local form) object as a kPut record with node ids.
storage::Status AppendStoredObject(std::string* frames, std::string_view key,
                                   std::string_view stored, const storage::ActorTable& actors,
                                   std::string* scratch) {
  auto obj = storage::Object::Decode(stored, actors);
  if (!obj.ok()) return obj.status();
  scratch->clear();
  obj.value().EncodeWithNodeIds(actors, scratch);
  storage::AppendPutRecord(frames, key, *scratch);
  return storage::Status::Ok();
}

// Drops the last reference to the replaced log file on another thread:
// closing it frees its blocks, which takes ~100 ms for a large file — a stall
// the loop must not see (Redis closes the old AOF in a background job too).
void CloseInBackground(std::shared_ptr<storage::WritableFile> file) {
  try {
    std::thread([f = std::move(file)]() mutable { f.reset(); }).detach();
  } catch (const std::system_error&) {
    // No thread to be had: close it here, slow but correct.
  }
}

}  // namespace

Persistence::Persistence(Config& config, Logger& logger, storage::Store& store)
    : config_(config), logger_(logger), store_(store) {}

Persistence::~Persistence() {
  if (syncer_) syncer_->Stop();
  if (rewriter_) rewriter_->Abort();
}

std::string Persistence::path() const {
  return config_.dir + "/" + config_.appendfilename;
}

storage::Status Persistence::Load(storage::Keyspace& keyspace, storage::ActorTable& actors,
                                  int64_t now_ms) {
  actors_ = &actors;
  if (!config_.appendonly) return storage::Status::Ok();
  storage::ReplayOptions options;
  options.skip_corrupt = config_.aof_load_corrupt == AofLoadCorrupt::kSkip;
  auto report = storage::ReplayLog(
      &env_, path(), options, [&](const storage::LogRecord& rec) -> storage::Status {
        if (rec.type == storage::RecordType::kFlushAll) {
          keyspace.FlushAll();
          return storage::Status::Ok();
        }
        if (rec.type == storage::RecordType::kDrop) {
          keyspace.store().Delete(rec.key, now_ms);
          return storage::Status::Ok();
        }
        if (rec.type == storage::RecordType::kDelta) {
          // Redone on the key's replayed object, which is its base unless
          // the log is damaged (a record lost before it).
          storage::Status st = keyspace.ApplyDelta(rec.key, rec.object, now_ms);
          if (st.ok()) return st;
          std::string what = path() + ": bad delta at offset " + std::to_string(rec.offset) +
                             " (key of " + std::to_string(rec.key.size()) + " bytes): " +
                             (st.code() == storage::Code::kStale
                                  ? "the key's replayed object is not its base: " + st.message()
                                  : st.message());
          if (options.skip_corrupt) {
            // aof-load-corrupt skip: the key stays as replayed so far, for
            // anti-entropy to repair.
            logger_.Log(LogLevel::kWarning, "%s: skipped", what.c_str());
            return storage::Status::Ok();
          }
          return storage::Status::Corruption(what);
        }
        auto obj = storage::Object::DecodeWithNodeIds(rec.object, actors);
        if (!obj.ok()) {
          return storage::Status::Corruption(path() + ": bad object at offset " +
                                             std::to_string(rec.offset) + ": " +
                                             obj.status().message());
        }
        return keyspace.Merge(rec.key, obj.value(), now_ms);
      });
  if (!report.ok()) return report.status();
  for (const std::string& w : report.value().warnings) {
    logger_.Log(LogLevel::kWarning, "%s", w.c_str());
  }
  loaded_records_ = report.value().records;
  logger_.Log(LogLevel::kNotice, "DB loaded from append only file: %llu records, %zu keys",
              static_cast<unsigned long long>(loaded_records_), store_.size());

  auto writer = storage::LogWriter::Open(&env_, path());
  if (!writer.ok()) return writer.status();
  writer_ = std::move(writer).value();
  return Commit();  // starts the syncer under everysec
}

void Persistence::OnChange(const storage::Change& change) {
  if (!writer_) return;
  // An empty object is a key gone from this replica (Keyspace::Purge,
  // Keyspace::Forget): a drop record, which replay applies as a deletion. A
  // put of the empty object would merge into what was replayed before it
  // and bring that back.
  if (change.object().Size() == 0) return OnDrop(change.key());
  if (!change.delta().empty()) {
    // A container write: its delta, not the whole container. A rewrite's
    // new file gets the whole object: it is made of merges, in whatever
    // order its copy of a key and the key's later changes land in it.
    frames_.clear();
    storage::AppendDeltaRecord(&frames_, change.key(), change.delta());
    writer_->AppendFramed(frames_);
    if (rewriter_) {
      frames_.clear();
      storage::AppendPutRecord(&frames_, change.key(), change.NodeIdBytes());
      rewriter_->AddLiveRecord(frames_);
    }
    ReleaseFrames();
    return;
  }
  std::string_view head, value;
  change.NodeIdParts(&head, &value);
  if (!value.empty() && !rewriter_) {
    // A big value moved into the store: logged from there, not copied; a
    // very big one on the writer's thread, pinned meanwhile (only buffers
    // of Store::kReleaseBytes or more go through the releaser that honours
    // pins).
    storage::KeepAlive keep;
    if (pin_ && value.size() >= storage::Store::kReleaseBytes) keep = pin_(value);
    writer_->AppendPutParts(change.key(), head, value, std::move(keep));
    return;
  }
  frames_.clear();
  storage::AppendPutRecord(&frames_, change.key(), change.NodeIdBytes());
  writer_->AppendFramed(frames_);
  if (rewriter_) rewriter_->AddLiveRecord(frames_);
  ReleaseFrames();
}

void Persistence::OnDrop(std::string_view key) {
  if (!writer_) return;
  frames_.clear();
  storage::AppendDropRecord(&frames_, key);
  writer_->AppendFramed(frames_);
  if (rewriter_) rewriter_->AddLiveRecord(frames_);
  ReleaseFrames();
}

void Persistence::OnFlush() {
  if (!writer_) return;
  frames_.clear();
  storage::AppendFlushAllRecord(&frames_);
  writer_->AppendFramed(frames_);
  if (rewriter_) rewriter_->AddLiveRecord(frames_);
  ReleaseFrames();
}

void Persistence::ReleaseFrames() {
  if (frames_.capacity() > kMaxIdleFramesCapacity) std::string().swap(frames_);
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
  // Inline for an ordinary iteration; queued behind a big record still
  // being written by the writer's thread (committed() tells when it is
  // done). A big record's failure is in the writer's status().
  storage::Status st = writer_->Commit(config_.appendfsync == AppendFsync::kAlways);
  if (!st.ok()) return st;
  if (syncer_) return syncer_->status();
  return storage::Status::Ok();
}

uint64_t Persistence::committed() const {
  if (!writer_) return 0;
  return config_.appendfsync == AppendFsync::kAlways ? writer_->synced() : writer_->written();
}

storage::Status Persistence::StartRewrite() {
  if (!writer_) return storage::Status::Invalid("ERR append only file is off");
  if (rewriter_) {
    return storage::Status::Invalid(
        "ERR Background append only file rewriting already in progress");
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
    const auto start = std::chrono::steady_clock::now();
    std::string scratch;
    storage::Status bad;
    do {
      if (rewriter_->queued_bytes() > kRewriteMaxQueued) break;  // the disk is behind
      std::string frames;
      rewrite_cursor_ = store_.Scan(
          rewrite_cursor_, kRewriteKeysPerChunk, now_ms, [&](const storage::EntryView& e) {
            storage::Status st = AppendStoredObject(&frames, e.key, e.value, *actors_, &scratch);
            if (!st.ok() && bad.ok()) bad = st;
          });
      if (!bad.ok()) {
        AbortRewrite(bad);
        return storage::Status::Ok();
      }
      if (!frames.empty()) rewriter_->AddSnapshotRecords(std::move(frames));
      if (rewrite_cursor_ == 0) rewrite_scan_done_ = true;
    } while (!rewrite_scan_done_ &&
             std::chrono::steady_clock::now() - start < std::chrono::microseconds(kRewriteStepUs));
    return storage::Status::Ok();
  }
  if (!rewriter_->Drained()) return storage::Status::Ok();
  // A big record still being written goes to the old file: switch after it.
  if (writer_->busy()) return storage::Status::Ok();
  // Everything logged so far is in the new file too; switch.
  storage::Status st = writer_->Write();
  if (!st.ok()) return st;
  auto finished = rewriter_->Finish();
  if (!finished.ok()) {
    if (rewriter_->fatal_failure()) return finished.status();
    AbortRewrite(finished.status());
    return storage::Status::Ok();
  }
  std::shared_ptr<storage::WritableFile> old_file = writer_->file();
  writer_->SwitchFile(finished.value().file, finished.value().size);
  if (syncer_) syncer_->SetFile(finished.value().file);
  CloseInBackground(std::move(old_file));
  rewriter_.reset();
  ++rewrites_;
  last_rewrite_ok_ = true;
  logger_.Log(LogLevel::kNotice, "Background AOF rewrite finished successfully (%llu bytes)",
              static_cast<unsigned long long>(finished.value().size));
  return storage::Status::Ok();
}

void Persistence::MaybeAutoRewrite() {
  if (!writer_ || rewriter_) return;
  if (storage::ShouldRewrite(writer_->size(), writer_->base_size(),
                             config_.auto_aof_rewrite_percentage,
                             config_.auto_aof_rewrite_min_size)) {
    logger_.Log(LogLevel::kNotice, "Starting automatic rewriting of AOF on %llu bytes",
                static_cast<unsigned long long>(writer_->size()));
    (void)StartRewrite();
  }
}

storage::Status Persistence::Close() {
  if (!writer_) return storage::Status::Ok();
  if (rewriter_) {
    rewriter_->Abort();
    rewriter_.reset();
  }
  if (syncer_) {
    // A failed background fsync must not be hidden by a final fsync that
    // succeeds after the kernel dropped the dirty pages.
    storage::Status synced = syncer_->status();
    syncer_->Stop();
    if (!synced.ok()) return synced;
  }
  storage::Status st = writer_->Drain();  // big records still being written
  if (st.ok()) st = writer_->Write();
  // Every policy syncs at shutdown (as Redis): the clean-shutdown marker
  // written next says the log is complete on disk.
  if (st.ok()) st = writer_->Sync();
  return st;
}

uint64_t Persistence::BufferBytes() const {
  uint64_t n = frames_.capacity();
  if (writer_) n += writer_->buffer_capacity();
  if (rewriter_) n += rewriter_->queued_bytes();
  return n;
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
