#pragma once
// Transactions: MULTI / EXEC / DISCARD / WATCH / UNWATCH state, as Redis's
// multi.c keeps it (multiState, the CLIENT_MULTI / CLIENT_DIRTY_EXEC /
// CLIENT_DIRTY_CAS flags, the watched_keys lists), for every connection of
// the node. Pure bookkeeping: it decides nothing about the cluster and runs
// no command; cmd_transactions.cc does.
//
//   Transaction     one connection's state: in MULTI or not, the queued
//                   commands, the queue-time error flag (EXECABORT at EXEC),
//                   the watched keys and whether one was modified.
//   Transactions    every connection's Transaction plus the index of
//                   watched keys. As a storage::ChangeListener it sees every
//                   change of the keyspace (writes, deletes, flushes, and in
//                   a cluster active expiry) and marks the watchers of the
//                   changed key, as Redis's touchWatchedKey does.
//
// Redis's rules kept here:
//   - a key that was absent (or already expired) when watched and that a
//     change leaves with tombstones only (a compaction of its expired
//     versions) is not modified (multi.c, the watchedKey `expired` flag);
//   - FLUSHALL modifies every watched key that existed; a watched key that
//     existed then is one that was live when watched (or that a write
//     touched since, which already marked it);
//   - a watched key that was live when watched and is absent at EXEC
//     (expired, evicted: neither is published on a lone node) is modified
//     (isWatchedKeyExpired); Stale() checks that against the caller's view.
// In a cluster, WATCH also keeps each key's version (its causal context from
// a quorum read) and EXEC's coordinator compares (cmd_transactions.cc).
//
// Not thread safe; the loop thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/change_feed.h"

namespace shoal::server {

struct CommandSpec;

// One watched key.
struct WatchedKey {
  std::string key;
  bool live = false;  // had a live version when watched
  // Cluster only: "L<token>" / "D<token>", live or not and the context
  // token of the key's quorum-read object when watched; empty while that
  // read is in flight; "?" if it failed (EXEC then fails: nil).
  std::string version;
};
using WatchList = std::vector<WatchedKey>;

struct Transaction {
  bool in_multi = false;
  bool dirty_exec = false;  // a command was refused while queueing: EXECABORT
  bool dirty_cas = false;   // a watched key was modified: EXEC replies nil
  bool deny_oom = false;    // a queued command may grow memory (EXEC is deny-oom)
  struct Queued {
    const CommandSpec* spec = nullptr;  // the row (a subcommand's for containers)
    std::vector<std::string> argv;
  };
  std::vector<Queued> queue;
  size_t queued_bytes = 0;  // the queued arguments' bytes (CLIENT LIST multi-mem)
  // In a cluster: every key the queued commands name (one replica set).
  std::vector<std::string> keys;
  // Shared with a WATCH still reading its versions in a cluster, which
  // fills them in when its read completes.
  std::shared_ptr<WatchList> watched = std::make_shared<WatchList>();

  // MULTI: a fresh queue.
  void Begin();
  void Queue(const CommandSpec* spec, std::vector<std::string> argv, bool deny_oom_cmd);
  // Leaves MULTI and forgets the queue (EXEC, DISCARD); watches are the
  // owner's (Transactions::Unwatch).
  void EndMulti();
};

class Transactions final : public storage::ChangeListener {
 public:
  // The connection's state, created empty on first use.
  Transaction& Of(uint64_t client);
  // nullptr if the connection has none (never used MULTI or WATCH).
  Transaction* Find(uint64_t client);
  // The connection closed.
  void Forget(uint64_t client);

  // WATCH: adds `key` to the connection's watched keys (once; watching it
  // again keeps the first entry, as Redis). `live`: the key has a live
  // version now. Returns the entry.
  WatchedKey& Watch(uint64_t client, std::string_view key, bool live);
  // UNWATCH, EXEC, DISCARD, RESET: the connection watches nothing, and its
  // modified flag is cleared.
  void Unwatch(uint64_t client);
  // EXEC's check of isWatchedKeyExpired: true if a key that was live when
  // watched is not live now (`live_now` tells).
  bool Stale(const Transaction& t, const std::function<bool(std::string_view)>& live_now) const;

  // storage::ChangeListener.
  void OnChange(const storage::Change& change) override;
  void OnFlush() override;
  // WATCH needs to know which key changed, not how.
  bool WantsDeltas() const override { return false; }

  size_t watched_keys() const { return watchers_.size(); }

 private:
  std::unordered_map<uint64_t, Transaction> txns_;
  // key -> the connections watching it.
  std::unordered_map<std::string, std::vector<uint64_t>> watchers_;
};

}  // namespace shoal::server
