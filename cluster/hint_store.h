#pragma once
// HintStore: the durable hints of hinted handoff (Dynamo, section 4.6).
//
// With sloppy quorum a write whose primary is unreachable is taken by a
// fallback node. The fallback keeps the key's object as a HINT naming the
// intended owner (a node id, the TARGET) and hands it off once the owner is
// reachable again. A hint is dropped only after the owner acknowledged it, or
// when a documented limit drops it (then anti-entropy repairs the key).
//
// This is pure bookkeeping over a file Env: no loop, no sockets, no clock
// (time arrives as `now_ms`). The hand-off shell asks NextBatch() what to
// send, sends it, and calls Delivered() for each acknowledgement.
//
// Model. Per target, at most one pending hint per key. A newer hint for the
// same (target, key) is MERGED into the pending one with the injected merge
// function (objects merge associatively and idempotently; this module knows
// no object format) and gets a new sequence number. So pending hints are
// bounded by distinct keys, not by writes, and an acknowledgement of an
// older sequence never drops the newer merged hint.
//
// Durability (group commit, as the append-only log). Add(), Delivered(),
// DropTarget() and Expire() change memory and buffer a log record; Commit()
// writes the buffer with one write(2) and, under HintSync::kAlways, fsyncs
// it. A hint is durable only once Commit() returned ok: the fallback must
// not count its write toward W before that. A delivery that was not
// committed before a crash comes back after restart and is sent again, which
// the owner's merge makes harmless. Any failed write or fsync is FATAL: it
// is returned by Commit() (and every later call that can fail) and the
// server must exit, as for the append-only log (see storage/log_writer.h on
// why a failed fsync cannot be retried).
//
// On-disk format. One file, dir/<options.file_name> ("hints.log"), in the
// append-only log's format (storage/log_format.h: 16-byte header "SHOALAOF"
// v1, then frames [checksum u32][length u32][type u8][payload], XXH3 over
// length..end), replayed by storage::ReplayLog and written by
// storage::LogWriter / LogRewriter. The records reuse the log's kPut and
// kDrop types; their key field starts with a kind byte. All integers are
// little-endian.
//
//   marker  kPut  key    = [0x00]["SHOALHNT"]
//                 object = [version u32 = 1][next_seq u64]
//           Always the first record: a file whose first record is anything
//           else is not a hint log (Corruption). Written when the file is
//           created and first in every compacted file.
//   hint    kPut  key    = [0x01][target length u32][target][seq u64]
//                          [first_ms i64][key]
//                 object = the hint's object bytes (already merged)
//           "(target, key) now has this pending hint". Replay keeps, per
//           (target, key), the record with the greatest seq.
//   done    kDrop key    = [0x02][target length u32][target][seq u64][key]
//           "the hint (target, key) with seq <= this is gone" (delivered,
//           expired or evicted).
//   forget  kDrop key    = [0x03][target length u32][target][seq u64]
//           "every hint for target with seq <= this is gone" (DropTarget).
//
// Recovery (Open): the log is replayed as the append-only log is. A torn
// tail (a crash mid-write) is cut and reported in recovery_warnings(); damage
// in the middle fails Open with Corruption unless options.skip_corrupt,
// which skips to the next valid record (hints lost there are for
// anti-entropy). A temporary file left by a crashed compaction is removed.
//
// Compaction. Delivered hints leave dead records behind. When the log is
// larger than options.compact_min_bytes and its dead bytes exceed its live
// bytes, Commit() starts a compaction: storage::LogRewriter's thread writes
// <file>.rewrite.tmp, a marker then the pending hints, which each later
// Commit() copies from a cursor, options.compact_step_bytes at a time
// (paused while more than compact_max_queued bytes wait for the disk), so no
// Commit() does work that grows with the number of hints. Records logged
// meanwhile go to both files. Once the copy is complete and written, a
// Commit() switches: fsync, rename over the live file, fsync the
// directory. A failed compaction before the rename removes the temporary
// file and leaves the live log untouched (not fatal; counted, with the
// reason in last_compaction_error(), and retried once the log doubled); a
// failed directory fsync after the rename is fatal. Either file, old or
// new, replays to the same pending hints.
//
// Limits (Cassandra's max_hint_window, as age and as bytes). A hint whose
// oldest merged write is older than options.max_age_ms is dropped by
// Expire() (Add() calls it too): after that long an owner needs a full
// anti-entropy repair anyway. While pending bytes exceed options.max_bytes
// the oldest hints are dropped. An Add() whose merged hint alone exceeds
// max_bytes is refused (kOutOfMemory) and changes nothing. Every drop is
// counted in HintStats; the keys are repaired later by anti-entropy, not by
// hand-off.
//
// Thread safety: none; one HintStore belongs to the loop thread. The
// compaction and everysec fsync threads are internal.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {
class BackgroundSyncer;
class LogRewriter;
class LogWriter;
struct LogRecord;
}  // namespace shoal::storage

namespace shoal::cluster {

// Merges two encoded objects into one: `older` is the pending hint, `newer`
// the one being added. Must be associative, commutative and idempotent, as
// object merge is. An error refuses the Add.
using HintMergeFn =
    std::function<storage::Result<std::string>(std::string_view older, std::string_view newer)>;

// When Commit() makes records durable (the server's appendfsync).
enum class HintSync {
  kAlways,    // fsync in every Commit() that wrote something
  kEverysec,  // a background thread fsyncs once per everysec_interval
  kNo,        // never fsync; the kernel writes back when it likes
};

struct HintStoreOptions {
  std::string file_name = "hints.log";
  HintSync sync = HintSync::kAlways;
  std::chrono::milliseconds everysec_interval{1000};
  // Without a merge function a newer hint REPLACES the pending one: right
  // only if every object added for a key covers the earlier ones (e.g. the
  // fallback always hints its whole merged copy of the key).
  HintMergeFn merge;
  // Hints whose oldest write is older than this are dropped. 0 = no limit.
  // Cassandra's default max_hint_window is three hours.
  int64_t max_age_ms = 3 * 3600 * 1000;
  // Pending bytes (key + object sizes) above this drop the oldest hints.
  // 0 = no limit.
  uint64_t max_bytes = 256ull << 20;
  // Skip damage in the middle of the log at Open instead of failing.
  bool skip_corrupt = false;
  // Compact once the log is larger than this and mostly dead.
  uint64_t compact_min_bytes = 1ull << 20;
  // Pending hints copied to a compaction per Commit(), in bytes of records.
  uint64_t compact_step_bytes = 1ull << 20;
  // No copying while more than this waits for the compaction's disk writes.
  uint64_t compact_max_queued = 16ull << 20;
};

// One hint to hand off. `seq` goes back in Delivered().
struct HintItem {
  std::string key;
  std::string object;
  uint64_t seq = 0;
  int64_t first_ms = 0;  // when the oldest write merged into it was added
};

struct HintCount {
  uint64_t hints = 0;
  uint64_t bytes = 0;  // key + object sizes
};

// Counters since Open (for INFO and CLUSTER INFO), and current sizes.
struct HintStats {
  uint64_t stored = 0;               // Add() that created a pending hint
  uint64_t merged = 0;               // Add() merged into a pending hint
  uint64_t rejected = 0;             // Add() refused: the hint alone exceeds max_bytes
  uint64_t delivered = 0;            // hints dropped after the owner's ack
  uint64_t delivered_bytes = 0;      // their key + object bytes (hand-off bytes/s)
  uint64_t dropped_expired = 0;      // older than max_age_ms
  uint64_t dropped_over_budget = 0;  // evicted to stay within max_bytes
  uint64_t dropped_forgotten = 0;    // DropTarget()
  uint64_t pending_hints = 0;
  uint64_t pending_bytes = 0;
  uint64_t log_bytes = 0;  // the hint log's size, buffered records included
  uint64_t compactions = 0;
  uint64_t compaction_failures = 0;
  uint64_t recovered_hints = 0;  // pending after Open's replay

  uint64_t dropped() const { return dropped_expired + dropped_over_budget + dropped_forgotten; }
};

struct HintAddResult {
  uint64_t seq = 0;      // the hint's sequence number now
  bool merged = false;   // merged into a pending hint for the same key
  uint64_t evicted = 0;  // older hints dropped to stay within max_bytes
};

class HintStore {
 public:
  // Opens (creating if missing) the hint log in directory `dir`, which must
  // exist, and replays it (see "Recovery" above). `env` must outlive the
  // store. Errors: IOError, Corruption (the caller decides: refuse to start,
  // or reopen with skip_corrupt), Invalid for a bad option.
  static storage::Result<std::unique_ptr<HintStore>> Open(storage::Env* env, const std::string& dir,
                                                          HintStoreOptions options);

  // Without Close(), buffered records are lost as in a crash.
  ~HintStore();
  HintStore(const HintStore&) = delete;
  HintStore& operator=(const HintStore&) = delete;

  // Adds a hint for `target` (a node id, non-empty): `object` is the key's
  // object in node-id form (storage::Object::EncodeWithNodeIds). Merges into
  // a pending hint for (target, key). Durable after the next ok Commit().
  // Runs Expire(now_ms) first. Errors: the fatal status; Invalid (empty
  // target, a record too large for the log); kOutOfMemory when the hint
  // alone exceeds max_bytes; the merge function's error. On error no hint
  // is added or changed (though Expire() may have dropped old ones).
  storage::Result<HintAddResult> Add(std::string_view target, std::string_view key,
                                     std::string_view object, int64_t now_ms);

  // Group commit: writes every buffered record, fsyncs under kAlways, and
  // advances a compaction (starts one, or switches to a finished one). A
  // non-ok Status is fatal (and sticky): the hint log can no longer be
  // trusted to hold what was acknowledged.
  storage::Status Commit();

  // Writes and (unless kNo) fsyncs what is buffered, abandoning a
  // compaction in progress. Returns the fatal status if there is one. The
  // store must not be used afterwards.
  storage::Status Close();

  // Pending hints for `target` (zero if none).
  // The pending hint's object for (target, key), or nullptr. Valid until
  // the next call that changes the store.
  const std::string* Find(std::string_view target, std::string_view key) const;
  HintCount Pending(std::string_view target) const;
  // Targets with at least one pending hint, in id order.
  std::vector<std::string> Targets() const;
  // No hint pending for any target.
  bool empty() const { return targets_.empty(); }

  // Up to `max_items` pending hints for `target` in key order, starting
  // after `after_key` if given (a cursor: pass the last key of the previous
  // batch to send several batches before their acks arrive). Stops before a
  // hint that would take the batch past `max_bytes` (key + object sizes),
  // but always returns at least one hint if any is left. Copies: the store
  // may change while the batch is in flight.
  std::vector<HintItem> NextBatch(std::string_view target, size_t max_items, uint64_t max_bytes,
                                  std::optional<std::string_view> after_key = std::nullopt) const;

  // The owner acknowledged the hint (target, key) of sequence `seq`. Drops
  // it and returns true if it is still the pending one; returns false (and
  // keeps it) if a newer hint replaced it meanwhile or it is gone.
  bool Delivered(std::string_view target, std::string_view key, uint64_t seq);

  // Drops every hint for `target` (the node was forgotten); returns how many.
  uint64_t DropTarget(std::string_view target);

  // Applies the limits: drops hints older than max_age_ms, then the oldest
  // while pending bytes exceed max_bytes. Returns how many were dropped.
  uint64_t Expire(int64_t now_ms);

  // Compacts now (or completes the compaction in progress) and waits for it
  // (for tests and an admin command): work proportional to the pending
  // hints, on the caller's thread. Returns
  // the failure of a compaction that left the old log in place (not fatal),
  // or the fatal status (then Commit() returns it too).
  storage::Status CompactNow();
  // True while a compaction started by Commit() is in progress.
  bool compacting() const { return rewriter_ != nullptr; }

  HintStats stats() const;
  // Warnings of Open's replay (torn tail cut, damage skipped), for the log.
  const std::vector<std::string>& recovery_warnings() const { return recovery_warnings_; }
  // Why the last compaction failed, empty if none did.
  const std::string& last_compaction_error() const { return last_compaction_error_; }
  const std::string& path() const { return path_; }
  // Ok, or the fatal failure.
  const storage::Status& status() const { return fatal_; }

 private:
  struct Slot {
    std::string object;
    uint64_t seq = 0;
    int64_t first_ms = 0;
  };
  using KeyMap = std::map<std::string, Slot, std::less<>>;
  struct TargetHints {
    KeyMap keys;
    uint64_t bytes = 0;
  };
  using TargetMap = std::map<std::string, TargetHints, std::less<>>;
  // Where a hint lives, by (first_ms, seq): oldest first. The pointers are to
  // map keys, which std::map keeps stable until their node is erased.
  struct AgeRef {
    const std::string* target;
    const std::string* key;
  };
  using AgeMap = std::map<std::pair<int64_t, uint64_t>, AgeRef>;

  HintStore(storage::Env* env, std::string path, HintStoreOptions options);

  storage::Status Replay();
  storage::Status ApplyRecord(const storage::LogRecord& record);

  // Memory only: set or remove the pending hint.
  void PutSlot(std::string_view target, std::string_view key, Slot slot);
  void EraseSlot(TargetMap::iterator t, KeyMap::iterator k);

  // Buffers framed records in the writer (and the rewriter, if running).
  void Log(const std::string& frames);
  void LogDone(std::string_view target, std::string_view key, uint64_t seq);
  // Drops the hint at `age` with a done record.
  void DropByAge(AgeMap::iterator age);

  void SnapshotStep(uint64_t budget);
  storage::Status StartCompaction();
  storage::Status FinishCompaction();
  void AbortCompaction(const storage::Status& why);
  bool ShouldCompact() const;
  uint64_t LogBytes() const;

  storage::Env* const env_;
  const std::string path_;
  const HintStoreOptions options_;

  std::unique_ptr<storage::LogWriter> writer_;
  std::unique_ptr<storage::BackgroundSyncer> syncer_;
  std::unique_ptr<storage::LogRewriter> rewriter_;
  storage::Status fatal_;

  TargetMap targets_;
  AgeMap by_age_;
  uint64_t next_seq_ = 1;
  uint64_t live_frame_bytes_ = 0;  // frames of the pending hints' records
  uint64_t compact_retry_at_ = 0;  // after a failure: log size for the next try
  // The compaction's copy of the pending hints: done, or the last copied.
  bool snapshot_done_ = false;
  bool cursor_started_ = false;
  std::string cursor_target_;
  std::string cursor_key_;
  HintStats stats_;
  std::vector<std::string> recovery_warnings_;
  std::string last_compaction_error_;
  std::string frames_;  // scratch
};

}  // namespace shoal::cluster
