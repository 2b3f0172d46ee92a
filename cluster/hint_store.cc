#include "cluster/hint_store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "cluster/hint_record.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_rewriter.h"
#include "storage/log_writer.h"

namespace shoal::cluster {
namespace {

using storage::Code;
using storage::Result;
using storage::Status;

using namespace hint_log;  // the record format (cluster/hint_record.h)

}  // namespace

HintStore::HintStore(storage::Env* env, std::string path, HintStoreOptions options)
    : env_(env), path_(std::move(path)), options_(std::move(options)) {}

HintStore::~HintStore() = default;

Result<std::unique_ptr<HintStore>> HintStore::Open(storage::Env* env, const std::string& dir,
                                                   HintStoreOptions options) {
  if (options.file_name.empty() || options.file_name.find('/') != std::string::npos) {
    return Status::Invalid("hint log file name must be a plain file name");
  }
  std::string path = dir + "/" + options.file_name;
  std::unique_ptr<HintStore> store(new HintStore(env, std::move(path), std::move(options)));

  // A compaction that crashed before its rename left only garbage here.
  Status s = env->Remove(storage::LogRewriter::TempPath(store->path_));
  if (!s.ok() && s.code() != Code::kNotFound) return s;

  s = store->Replay();
  if (!s.ok()) return s;

  auto writer = storage::LogWriter::Open(env, store->path_);
  if (!writer.ok()) return writer.status();
  store->writer_ = std::move(writer).value();
  if (store->writer_->size() == storage::kLogHeaderSize) {
    // A new file (or one whose only record was torn): identify it before
    // anything else is appended, durably, as LogWriter did the header.
    std::string marker;
    AppendMarkerRecord(&marker, store->next_seq_);
    store->writer_->AppendFramed(marker);
    s = store->writer_->Write();
    if (s.ok()) s = store->writer_->Sync();
    if (!s.ok()) return s;
  }
  if (store->options_.sync == HintSync::kEverysec) {
    store->syncer_ = std::make_unique<storage::BackgroundSyncer>(store->options_.everysec_interval);
    store->syncer_->Start(store->writer_->file());
  }
  store->stats_.recovered_hints = store->stats_.pending_hints;
  return store;
}

Status HintStore::Replay() {
  storage::ReplayOptions replay_options;
  replay_options.skip_corrupt = options_.skip_corrupt;
  auto report =
      storage::ReplayLog(env_, path_, replay_options,
                         [this](const storage::LogRecord& record) { return ApplyRecord(record); });
  if (!report.ok()) {
    std::string msg = report.status().message();
    if (size_t at = msg.find(kAofSkipHint); at != std::string::npos) {
      msg.replace(at, kAofSkipHint.size(), " (skip_corrupt loads the rest)");
    }
    return Status(report.status().code(), std::move(msg));
  }
  recovery_warnings_ = std::move(report.value().warnings);
  return Status::Ok();
}

Status HintStore::ApplyRecord(const storage::LogRecord& record) {
  // The marker must be the first record of the file. After damage skipped at
  // the start (skip_corrupt) the first valid record may be a later one.
  const bool first = record.offset == storage::kLogHeaderSize;
  if (record.type == storage::RecordType::kFlushAll) {
    return Status::Corruption("flush record in a hint log");
  }
  if (record.type == storage::RecordType::kPut && !record.key.empty() &&
      record.key[0] == static_cast<char>(Kind::kMarker)) {
    if (record.key != kMarkerKey || record.object.size() != kMarkerObjectSize) {
      return Status::Corruption("malformed hint log marker");
    }
    uint32_t version = storage::DecodeFixed32(record.object.data());
    if (version != kHintLogVersion) {
      return Status::Corruption("unsupported hint log version " + std::to_string(version) +
                                " (this build reads " + std::to_string(kHintLogVersion) + ")");
    }
    if (!first) return Status::Corruption("hint log marker after the first record");
    next_seq_ = std::max(next_seq_, DecodeFixed64(record.object.data() + 4));
    return Status::Ok();
  }
  if (first) return Status::Corruption("not a hint log (no marker record)");

  Field f;
  if (!ParseField(record.key, &f)) return Status::Corruption("malformed hint record");
  const bool is_put = record.type == storage::RecordType::kPut;
  if (is_put != (f.kind == Kind::kHint)) return Status::Corruption("malformed hint record");
  if (f.seq == ~uint64_t{0}) return Status::Corruption("hint sequence number out of range");
  next_seq_ = std::max(next_seq_, f.seq + 1);

  auto t = targets_.find(f.target);
  switch (f.kind) {
    case Kind::kHint: {
      if (t != targets_.end()) {
        auto k = t->second.keys.find(f.key);
        // Only a newer record replaces (a duplicate from a compaction is not).
        if (k != t->second.keys.end() && k->second.seq >= f.seq) return Status::Ok();
      }
      PutSlot(f.target, f.key, Slot{std::string(record.object), f.seq, f.first_ms});
      return Status::Ok();
    }
    case Kind::kDone: {
      if (t == targets_.end()) return Status::Ok();
      auto k = t->second.keys.find(f.key);
      if (k != t->second.keys.end() && k->second.seq <= f.seq) EraseSlot(t, k);
      return Status::Ok();
    }
    case Kind::kForget: {
      if (t == targets_.end()) return Status::Ok();
      for (auto k = t->second.keys.begin(); k != t->second.keys.end();) {
        if (k->second.seq > f.seq) {
          ++k;
          continue;
        }
        auto next = std::next(k);
        const bool last = t->second.keys.size() == 1;
        EraseSlot(t, k);
        if (last) break;
        k = next;
      }
      return Status::Ok();
    }
    case Kind::kMarker:
      break;
  }
  return Status::Corruption("malformed hint record");
}

void HintStore::PutSlot(std::string_view target, std::string_view key, Slot slot) {
  auto t = targets_.find(target);
  if (t == targets_.end()) t = targets_.emplace(std::string(target), TargetHints{}).first;
  auto k = t->second.keys.find(key);
  if (k != t->second.keys.end()) {
    const Slot& old = k->second;
    by_age_.erase({old.first_ms, old.seq});
    const uint64_t old_bytes = key.size() + old.object.size();
    t->second.bytes -= old_bytes;
    stats_.pending_bytes -= old_bytes;
    live_frame_bytes_ -= HintFrameSize(target.size(), key.size(), old.object.size());
    k->second = std::move(slot);
  } else {
    k = t->second.keys.emplace(std::string(key), std::move(slot)).first;
    stats_.pending_hints++;
  }
  const Slot& now = k->second;
  const uint64_t bytes = key.size() + now.object.size();
  t->second.bytes += bytes;
  stats_.pending_bytes += bytes;
  live_frame_bytes_ += HintFrameSize(target.size(), key.size(), now.object.size());
  by_age_.emplace(std::make_pair(now.first_ms, now.seq), AgeRef{&t->first, &k->first});
}

void HintStore::EraseSlot(TargetMap::iterator t, KeyMap::iterator k) {
  const Slot& slot = k->second;
  by_age_.erase({slot.first_ms, slot.seq});
  const uint64_t bytes = k->first.size() + slot.object.size();
  t->second.bytes -= bytes;
  stats_.pending_bytes -= bytes;
  stats_.pending_hints--;
  live_frame_bytes_ -= HintFrameSize(t->first.size(), k->first.size(), slot.object.size());
  t->second.keys.erase(k);
  if (t->second.keys.empty()) targets_.erase(t);
}

void HintStore::Log(const std::string& frames) {
  writer_->AppendFramed(frames);
  if (rewriter_) rewriter_->AddLiveRecord(frames);
}

void HintStore::LogDone(std::string_view target, std::string_view key, uint64_t seq) {
  std::string field;
  AppendTargetSeq(&field, Kind::kDone, target, seq);
  field.append(key);
  frames_.clear();
  storage::AppendDropRecord(&frames_, field);
  Log(frames_);
}

void HintStore::DropByAge(AgeMap::iterator age) {
  auto t = targets_.find(*age->second.target);
  auto k = t->second.keys.find(*age->second.key);
  LogDone(t->first, k->first, k->second.seq);
  EraseSlot(t, k);
}

Result<HintAddResult> HintStore::Add(std::string_view target, std::string_view key,
                                     std::string_view object, int64_t now_ms) {
  if (!fatal_.ok()) return fatal_;
  if (target.empty()) return Status::Invalid("hint without a target node");
  HintAddResult result;
  Expire(now_ms);

  std::string merged;
  int64_t first_ms = now_ms;
  auto t = targets_.find(target);
  if (t != targets_.end()) {
    auto k = t->second.keys.find(key);
    if (k != t->second.keys.end()) {
      result.merged = true;
      first_ms = k->second.first_ms;
      if (options_.merge) {
        auto m = options_.merge(k->second.object, object);
        if (!m.ok()) return m.status();
        merged = std::move(m).value();
      }
    }
  }
  if (!result.merged || !options_.merge) merged = std::string(object);

  // body = type + [key length][key field][object length][object]
  const uint64_t body =
      1 + 4 + uint64_t{HintKeySize(target.size(), key.size())} + 4 + merged.size();
  if (body > storage::kMaxBodySize) return Status::Invalid("hint too large for the hint log");
  if (options_.max_bytes != 0 && key.size() + merged.size() > options_.max_bytes) {
    stats_.rejected++;
    return Status(Code::kOutOfMemory, "hint of " + std::to_string(key.size() + merged.size()) +
                                          " bytes exceeds the hint budget of " +
                                          std::to_string(options_.max_bytes) + " bytes");
  }

  result.seq = next_seq_++;
  frames_.clear();
  AppendHintRecord(&frames_, target, key, result.seq, first_ms, merged);
  Log(frames_);
  PutSlot(target, key, Slot{std::move(merged), result.seq, first_ms});
  (result.merged ? stats_.merged : stats_.stored)++;

  // Oldest first, but never the hint just added (a merged one keeps its old
  // first_ms, so it may well be the oldest).
  if (options_.max_bytes != 0) {
    for (auto it = by_age_.begin();
         stats_.pending_bytes > options_.max_bytes && it != by_age_.end();) {
      auto next = std::next(it);
      if (it->first.second != result.seq) {
        DropByAge(it);
        stats_.dropped_over_budget++;
        result.evicted++;
      }
      it = next;
    }
  }
  return result;
}

uint64_t HintStore::Expire(int64_t now_ms) {
  uint64_t dropped = 0;
  if (options_.max_age_ms > 0) {
    while (!by_age_.empty() && now_ms - by_age_.begin()->first.first > options_.max_age_ms) {
      DropByAge(by_age_.begin());
      stats_.dropped_expired++;
      dropped++;
    }
  }
  if (options_.max_bytes > 0) {
    while (!by_age_.empty() && stats_.pending_bytes > options_.max_bytes) {
      DropByAge(by_age_.begin());
      stats_.dropped_over_budget++;
      dropped++;
    }
  }
  return dropped;
}

bool HintStore::Delivered(std::string_view target, std::string_view key, uint64_t seq) {
  auto t = targets_.find(target);
  if (t == targets_.end()) return false;
  auto k = t->second.keys.find(key);
  if (k == t->second.keys.end() || k->second.seq != seq) return false;
  stats_.delivered++;
  stats_.delivered_bytes += k->first.size() + k->second.object.size();
  LogDone(target, key, seq);
  EraseSlot(t, k);
  return true;
}

uint64_t HintStore::DropTarget(std::string_view target) {
  auto t = targets_.find(target);
  if (t == targets_.end()) return 0;
  const uint64_t n = t->second.keys.size();
  std::string field;
  AppendTargetSeq(&field, Kind::kForget, target, next_seq_ - 1);
  frames_.clear();
  storage::AppendDropRecord(&frames_, field);
  Log(frames_);
  for (uint64_t i = 0; i < n; ++i) {
    EraseSlot(t, t->second.keys.begin());  // erases the target with its last key
  }
  stats_.dropped_forgotten += n;
  return n;
}

const std::string* HintStore::Find(std::string_view target, std::string_view key) const {
  auto t = targets_.find(target);
  if (t == targets_.end()) return nullptr;
  auto k = t->second.keys.find(key);
  return k == t->second.keys.end() ? nullptr : &k->second.object;
}

HintCount HintStore::Pending(std::string_view target) const {
  auto t = targets_.find(target);
  if (t == targets_.end()) return {};
  return HintCount{t->second.keys.size(), t->second.bytes};
}

std::vector<std::string> HintStore::Targets() const {
  std::vector<std::string> out;
  out.reserve(targets_.size());
  for (const auto& [target, hints] : targets_) out.push_back(target);
  return out;
}

std::vector<HintItem> HintStore::NextBatch(std::string_view target, size_t max_items,
                                           uint64_t max_bytes,
                                           std::optional<std::string_view> after_key) const {
  std::vector<HintItem> out;
  auto t = targets_.find(target);
  if (t == targets_.end() || max_items == 0) return out;
  const KeyMap& keys = t->second.keys;
  auto k = after_key ? keys.upper_bound(*after_key) : keys.begin();
  uint64_t bytes = 0;
  for (; k != keys.end() && out.size() < max_items; ++k) {
    const uint64_t size = k->first.size() + k->second.object.size();
    if (!out.empty() && bytes + size > max_bytes) break;
    bytes += size;
    out.push_back(HintItem{k->first, k->second.object, k->second.seq, k->second.first_ms});
  }
  return out;
}

uint64_t HintStore::LogBytes() const {
  return writer_->size() + writer_->pending_bytes();
}

bool HintStore::ShouldCompact() const {
  const uint64_t size = LogBytes();
  const uint64_t live = storage::kLogHeaderSize + kMarkerFrameSize + live_frame_bytes_;
  return size > options_.compact_min_bytes && size >= compact_retry_at_ && size > 2 * live;
}

// Copies the next pending hints, in (target, key) order from the cursor, to
// the rewriter: about `budget` bytes of frames, at least one record.
//
// Why a cursor over a changing map is enough: every change since
// StartCompaction() reaches the new file as a live record when it happens.
// A hint changed behind the cursor was copied before its change, so the
// live record comes after it; one changed ahead of the cursor is copied in
// its newest state after its live record, with the same seq, which replay
// ignores as a duplicate; one removed ahead of the cursor is never copied.
void HintStore::SnapshotStep(uint64_t budget) {
  std::string frames;
  auto t = cursor_started_ ? targets_.lower_bound(cursor_target_) : targets_.begin();
  KeyMap::const_iterator k;
  if (t != targets_.end()) {
    k = cursor_started_ && t->first == cursor_target_ ? t->second.keys.upper_bound(cursor_key_)
                                                      : t->second.keys.begin();
  }
  while (t != targets_.end()) {
    for (; k != t->second.keys.end(); ++k) {
      if (frames.size() >= budget) {
        rewriter_->AddSnapshotRecords(std::move(frames));
        return;
      }
      AppendHintRecord(&frames, t->first, k->first, k->second.seq, k->second.first_ms,
                       k->second.object);
      cursor_target_ = t->first;
      cursor_key_ = k->first;
      cursor_started_ = true;
    }
    if (++t != targets_.end()) k = t->second.keys.begin();
  }
  if (!frames.empty()) rewriter_->AddSnapshotRecords(std::move(frames));
  snapshot_done_ = true;
}

Status HintStore::StartCompaction() {
  auto r = storage::LogRewriter::Start(env_, path_);
  if (!r.ok()) {
    AbortCompaction(r.status());
    return r.status();
  }
  rewriter_ = std::move(r).value();
  // From here on every record goes to both files (Log()), and the pending
  // hints follow the marker in steps (SnapshotStep).
  std::string marker;
  AppendMarkerRecord(&marker, next_seq_);
  rewriter_->AddSnapshotRecords(std::move(marker));
  cursor_started_ = false;
  snapshot_done_ = false;
  return Status::Ok();
}

void HintStore::AbortCompaction(const Status& why) {
  if (rewriter_) rewriter_->Abort();
  rewriter_.reset();
  stats_.compaction_failures++;
  last_compaction_error_ = why.message();
  // Not again on every Commit(): a full disk would make each one create and
  // remove a temporary file.
  compact_retry_at_ = 2 * LogBytes();
}

Status HintStore::FinishCompaction() {
  // Whatever is buffered went to the rewriter too; write it to the old file
  // so that the two agree up to the switch.
  Status s = writer_->Write();
  if (!s.ok()) {
    fatal_ = s;
    return s;
  }
  auto finished = rewriter_->Finish();
  if (!finished.ok()) {
    if (rewriter_->fatal_failure()) {
      fatal_ = finished.status();
      rewriter_.reset();
      return fatal_;
    }
    AbortCompaction(finished.status());
    return finished.status();
  }
  writer_->SwitchFile(finished.value().file, finished.value().size);
  if (syncer_) syncer_->SetFile(finished.value().file);
  rewriter_.reset();
  stats_.compactions++;
  compact_retry_at_ = 0;
  return Status::Ok();
}

Status HintStore::Commit() {
  if (!fatal_.ok()) return fatal_;
  const bool wrote = writer_->pending_bytes() > 0;
  Status s = writer_->Write();
  if (s.ok() && wrote && options_.sync == HintSync::kAlways) s = writer_->Sync();
  if (s.ok() && syncer_) s = syncer_->status();
  if (!s.ok()) {
    fatal_ = s;
    return fatal_;
  }
  if (rewriter_) {
    if (!rewriter_->status().ok()) {
      AbortCompaction(rewriter_->status());
    } else if (!snapshot_done_) {
      // Bounded work per commit, and none while the disk is behind.
      if (rewriter_->queued_bytes() <= options_.compact_max_queued) {
        SnapshotStep(options_.compact_step_bytes);
      }
    } else if (rewriter_->Drained()) {
      (void)FinishCompaction();  // a failure that matters is in fatal_
    }
  } else if (ShouldCompact()) {
    (void)StartCompaction();  // a failure is counted; the old log stays
  }
  return fatal_;
}

Status HintStore::CompactNow() {
  if (!fatal_.ok()) return fatal_;
  if (!rewriter_) {
    Status s = StartCompaction();
    if (!s.ok()) return s;
  }
  if (!snapshot_done_) SnapshotStep(std::numeric_limits<uint64_t>::max());
  return FinishCompaction();
}

Status HintStore::Close() {
  if (rewriter_) {
    rewriter_->Abort();
    rewriter_.reset();
  }
  if (syncer_) {
    // A failed background fsync must not be hidden by a last one that
    // succeeds after the kernel dropped the dirty pages.
    Status synced = syncer_->status();
    syncer_->Stop();
    syncer_.reset();
    if (!synced.ok() && fatal_.ok()) fatal_ = synced;
  }
  if (!fatal_.ok()) return fatal_;
  Status s = writer_->Write();
  if (s.ok() && options_.sync != HintSync::kNo) s = writer_->Sync();
  if (!s.ok()) fatal_ = s;
  return fatal_;
}

HintStats HintStore::stats() const {
  HintStats s = stats_;
  s.log_bytes = LogBytes();
  return s;
}

}  // namespace shoal::cluster
