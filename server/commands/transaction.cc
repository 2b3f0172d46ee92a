#include "server/commands/transaction.h"

#include <algorithm>

namespace shoal::server {

void Transaction::Begin() {
  in_multi = true;
  dirty_exec = false;
  deny_oom = false;
  queue.clear();
  queued_bytes = 0;
  keys.clear();
}

void Transaction::Queue(const CommandSpec* spec, std::vector<std::string> argv, bool deny_oom_cmd) {
  for (const std::string& a : argv) queued_bytes += a.size();
  deny_oom = deny_oom || deny_oom_cmd;
  queue.push_back({spec, std::move(argv)});
}

void Transaction::EndMulti() {
  in_multi = false;
  dirty_exec = false;
  deny_oom = false;
  queue.clear();
  queue.shrink_to_fit();
  queued_bytes = 0;
  keys.clear();
}

Transaction& Transactions::Of(uint64_t client) {
  return txns_[client];
}

Transaction* Transactions::Find(uint64_t client) {
  auto it = txns_.find(client);
  return it == txns_.end() ? nullptr : &it->second;
}

void Transactions::Forget(uint64_t client) {
  if (txns_.count(client) == 0) return;
  Unwatch(client);
  txns_.erase(client);
}

WatchedKey& Transactions::Watch(uint64_t client, std::string_view key, bool live) {
  Transaction& t = Of(client);
  for (WatchedKey& w : *t.watched) {
    if (w.key == key) return w;
  }
  watchers_[std::string(key)].push_back(client);
  t.watched->push_back({std::string(key), live, {}});
  return t.watched->back();
}

void Transactions::Unwatch(uint64_t client) {
  Transaction* t = Find(client);
  if (t == nullptr) return;
  for (const WatchedKey& w : *t->watched) {
    auto it = watchers_.find(w.key);
    if (it == watchers_.end()) continue;
    std::erase(it->second, client);
    if (it->second.empty()) watchers_.erase(it);
  }
  // A new list: a WATCH still reading in a cluster fills the old one.
  t->watched = std::make_shared<WatchList>();
  t->dirty_cas = false;
}

bool Transactions::Stale(const Transaction& t,
                         const std::function<bool(std::string_view)>& live_now) const {
  for (const WatchedKey& w : *t.watched) {
    if (w.live && !live_now(w.key)) return true;
  }
  return false;
}

void Transactions::OnChange(const storage::Change& change) {
  if (watchers_.empty()) return;
  auto it = watchers_.find(std::string(change.key()));
  if (it == watchers_.end()) return;
  const bool dead = change.object().Size() == 0 || change.object().IsTombstonesOnly();
  for (uint64_t client : it->second) {
    Transaction* t = Find(client);
    if (t == nullptr || t->dirty_cas) continue;
    if (dead) {
      // Absent when watched and still nothing live: not a modification.
      auto w = std::find_if(t->watched->begin(), t->watched->end(),
                            [&](const WatchedKey& k) { return k.key == change.key(); });
      if (w != t->watched->end() && !w->live) continue;
    }
    t->dirty_cas = true;
  }
}

void Transactions::OnFlush() {
  for (auto& [client, t] : txns_) {
    for (const WatchedKey& w : *t.watched) {
      if (w.live) t.dirty_cas = true;
    }
  }
}

}  // namespace shoal::server
