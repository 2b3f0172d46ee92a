#pragma once
// Persistence: the node's append-only log, wired to the loop.
//
//   start-up     Load(): replay the log into the store (a torn tail is cut
//                with a warning; damage in the middle stops start-up unless
//                `aof-load-corrupt skip`), then open it for appending.
//   each write   OnChange(): subscribed to the keyspace's change feed, it
//                logs every change's whole new object (versions, clocks,
//                tombstones) in the node-id encoding the feed shares with
//                the other listeners. Replay MERGES each logged object, so
//                replaying it twice or out of order is harmless, and the
//                rewrite can simply copy the keyspace while writes go on.
//                A container write that comes with a delta
//                (Change::delta()) logs the delta instead (a kDelta record:
//                a few dozen bytes for a one-member SADD on any set), which
//                replay redoes on the key's replayed object; the rewrite's
//                new file still gets whole objects.
//   each loop    Commit() from the server's check handle, before the replies
//   iteration    of the iteration are written to clients: one write(2) of
//                everything logged in the iteration and, under
//                `appendfsync always`, one fsync (group commit). `everysec`
//                fsyncs on a background thread; `no` leaves it to the kernel.
//   big records  A value of Store::kReleaseBytes or more is written by the
//                log writer's background thread, read in place from the
//                store (pinned, so that an overwrite or DEL meanwhile does
//                not free it), and the iteration's commit is queued behind
//                it. The loop goes on serving; as a facade::CommitGate this
//                class tells the connections how far the log is committed,
//                and the output of a request that logged something waits for
//                its records (written, or fsynced under `always`).
//   rewrite      BGREWRITEAOF / auto-aof-rewrite-*: the keyspace is copied a
//                bounded number of keys per loop iteration into a new file
//                written by a background thread; writes meanwhile go to both
//                files; the new file replaces the old atomically.
//
// A failed write or fsync is fatal: Commit() returns the error and the
// server exits non-zero (after a failed fsync the kernel may have dropped the
// dirty pages; retrying would report a success that is not one).
//
// Runs on the loop thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "facade/connection.h"
#include "server/config.h"
#include "server/log.h"
#include "storage/actor_table.h"
#include "storage/change_feed.h"
#include "storage/file.h"
#include "storage/keyspace.h"
#include "storage/log_writer.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::storage {
class LogRewriter;
}

namespace shoal::server {

struct PersistenceInfo {
  bool enabled = false;
  bool rewrite_in_progress = false;
  bool rewrite_scheduled = false;
  uint64_t rewrites = 0;
  bool last_rewrite_ok = true;
  bool last_write_ok = true;
  uint64_t current_size = 0;
  uint64_t base_size = 0;
  uint64_t buffer_length = 0;
  uint64_t loaded_records = 0;
};

class Persistence final : public storage::ChangeListener, public facade::CommitGate {
 public:
  Persistence(Config& config, Logger& logger, storage::Store& store);
  ~Persistence();
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  bool enabled() const { return writer_ != nullptr; }

  // Replays the log (if `appendonly yes`) into `keyspace` and opens it for
  // appending. Both references must outlive this object. Subscribe this
  // object to keyspace.changes() only after Load (replay must not be logged
  // again).
  storage::Status Load(storage::Keyspace& keyspace, storage::ActorTable& actors, int64_t now_ms);

  // Keeps the bytes of a stored big value alive while the returned owner
  // lives, even if the store lets go of them (LazyFree::Pin). Unset: big
  // values are written on the loop thread.
  void SetPin(std::function<storage::KeepAlive(std::string_view)> pin) { pin_ = std::move(pin); }
  // Called on the log writer's thread when a background write is done (the
  // server wakes its loop). Call after Load.
  void SetWakeup(std::function<void()> wakeup) {
    if (writer_) writer_->SetWakeup(std::move(wakeup));
  }

  // facade::CommitGate: the log's end, and how far it is written (fsynced
  // under `appendfsync always`). Both 0 with the log off.
  uint64_t logged() const override { return writer_ ? writer_->appended() : 0; }
  uint64_t committed() const override;

  // ChangeListener: logs a key's new object / a flush.
  void OnChange(const storage::Change& change) override;
  void OnFlush() override;
  // Only a running log takes deltas.
  bool WantsDeltas() const override { return writer_ != nullptr; }
  // Logs that this node forgot `key` (maxmemory eviction; not a delete).
  void OnDrop(std::string_view key);

  // Group commit: writes what was logged since the last call and fsyncs
  // under `appendfsync always`. Also checks the background syncer. A non-ok
  // status is fatal.
  storage::Status Commit();

  // Starts a rewrite. Fails if one is in progress or the log is off.
  storage::Status StartRewrite();
  // Moves a rewrite forward by a bounded amount of work; finishes it when
  // the copy is complete. Called every loop iteration. A non-ok status is
  // fatal (the switch to the new file failed half-way).
  storage::Status RewriteStep(int64_t now_ms);
  // Starts a rewrite when the log grew past auto-aof-rewrite-*.
  void MaybeAutoRewrite();
  // Frees the log's write buffer if a burst left it large and empty (cron).
  void ReleaseIdleBuffers() {
    if (writer_) writer_->ReleaseIdle();
  }

  // Blocks until the log writer's thread has written what Commit() queued
  // (big records); for tests, which read the file. Returns the writer's
  // status.
  storage::Status Drain() { return writer_ ? writer_->Drain() : storage::Status::Ok(); }

  // Final write and fsync at shutdown.
  storage::Status Close();

  PersistenceInfo Info() const;

  // Memory held by the log's buffers: records not yet written, the reused
  // record buffer, and a rewrite's queue. As Redis leaves its AOF buffers
  // out of maxmemory (freeMemoryGetNotCountedMemory), the server subtracts
  // this before comparing with maxmemory.
  uint64_t BufferBytes() const;

 private:
  std::string path() const;
  void AbortRewrite(const storage::Status& why);
  // Frees frames_ after a large record instead of keeping its capacity.
  void ReleaseFrames();

  Config& config_;
  Logger& logger_;
  storage::Store& store_;
  storage::ActorTable* actors_ = nullptr;
  storage::PosixEnv env_;
  std::unique_ptr<storage::LogWriter> writer_;
  std::unique_ptr<storage::BackgroundSyncer> syncer_;
  std::unique_ptr<storage::LogRewriter> rewriter_;
  uint64_t rewrite_cursor_ = 0;
  bool rewrite_scan_done_ = false;
  uint64_t rewrites_ = 0;
  bool last_rewrite_ok_ = true;
  uint64_t loaded_records_ = 0;
  std::string frames_;  // reused record buffer
  std::function<storage::KeepAlive(std::string_view)> pin_;
};

}  // namespace shoal::server
