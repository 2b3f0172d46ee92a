// The append-only log of lazy container writes (storage/keyspace.h "Lazy
// encoding": with the log on, a write of a cached container logs its delta
// and leaves the encoding for later). Random histories run on a lazy node
// and an eager one (write-back off), each logging its changes as
// server/persistence.cc does (a delta record when the change has a delta,
// else the whole object; drop records for evictions and gone keys; flush
// records), with DEL, TTLs, expiry, eviction, flushes and rewrites (a copy
// of the store in chunks while writes go on, as Persistence's rewrite) among
// the writes. Replaying either log — whole, or cut anywhere as a crash
// leaves it — must give what replaying the eager log up to the same record
// gives, every delta record must apply, and a whole log must give the
// writer's own state.

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "storage/keyspace.h"
#include "storage/log_format.h"
#include "storage/store.h"
#include "tests/unit/storage/container_history.h"

namespace shoal::storage {
namespace {

using history::kKeys;
using history::kNow;
using history::Mode;
using history::Node;
using history::Op;
using history::Write;

// The log of one node, as server/persistence.cc writes it, with the
// rewrite's second file while one runs.
struct LogListener final : ChangeListener {
  explicit LogListener(Node& node) : n(node) {
    n.ks.changes().Subscribe(this);
    n.store.SetEvictionObserver([this](std::string_view key) { Drop(key); });
  }
  void OnChange(const Change& change) override {
    if (change.object().Size() == 0) return Drop(change.key());
    if (!change.delta().empty()) {
      AppendDeltaRecord(&log, change.key(), change.delta());
      ++deltas;
      bool stale = false;
      (void)n.store.GetStale(change.key(), now, /*touch=*/false, &stale);
      if (stale) ++lazy_deltas;  // logged while the bytes are left for later
      if (rewriting) AppendPutRecord(&rewritten, change.key(), change.NodeIdBytes());
    } else {
      AppendPutRecord(&log, change.key(), change.NodeIdBytes());
      if (rewriting) AppendPutRecord(&rewritten, change.key(), change.NodeIdBytes());
    }
    Ended();
  }
  void OnFlush() override {
    AppendFlushAllRecord(&log);
    if (rewriting) AppendFlushAllRecord(&rewritten);
    Ended();
  }
  void Drop(std::string_view key) {
    AppendDropRecord(&log, key);
    if (rewriting) AppendDropRecord(&rewritten, key);
    Ended();
  }
  // A record was appended to the log (and to the new file, if rewriting).
  void Ended() {
    ends.push_back(log.size());
    if (rewriting) rewritten_ends.push_back(rewritten.size());
  }

  // A rewrite: the store's keys copied a few at a time (each looked up
  // when copied: what a walk hands out is written back first), changes
  // meanwhile also going to the new file as whole objects; at the end the
  // new file replaces the log.
  void StartRewrite() {
    rewriting = true;
    rewritten.clear();
    rewritten_ends.clear();
    to_copy.clear();
    n.store.ForEach(now, [&](const EntryView& e) { to_copy.emplace_back(e.key); });
  }
  void CopySome(size_t count) {
    for (; count > 0 && !to_copy.empty(); --count) {
      const std::string key = to_copy.back();
      to_copy.pop_back();
      const std::string* bytes = n.store.Peek(key, now);
      if (bytes == nullptr) continue;
      auto obj = Object::Decode(*bytes, n.actors);
      REQUIRE(obj.ok());
      std::string wire;
      obj.value().EncodeWithNodeIds(n.actors, &wire);
      AppendPutRecord(&rewritten, key, wire);
      rewritten_ends.push_back(rewritten.size());
    }
    if (to_copy.empty()) {
      rewriting = false;
      log = std::move(rewritten);
      rewritten.clear();
      ends = std::move(rewritten_ends);
      rewritten_ends.clear();
    }
  }

  Node& n;
  int64_t now = kNow;
  std::string log;
  std::vector<size_t> ends;  // where each record of `log` ends
  bool rewriting = false;
  std::string rewritten;
  std::vector<size_t> rewritten_ends;
  std::vector<std::string> to_copy;
  size_t deltas = 0;
  size_t lazy_deltas = 0;
};

// Replays `log` (a crash may have cut it anywhere: a torn last frame is
// ignored, as ReplayLog cuts it) into a fresh node, as Persistence::Load
// does; every delta must apply. The node's objects of kKeys at `now`.
std::vector<Object> Replay(std::string_view log, int64_t now, bool lazy) {
  ContainerCacheOptions options;
  options.write_back = lazy;
  Node node(true, Mode{}, 'a', options);
  while (!log.empty()) {
    LogRecord rec;
    size_t size = 0;
    const FrameCheck check = ParseFrame(log, &rec, &size);
    if (check == FrameCheck::kShortHeader || check == FrameCheck::kShortBody) break;
    REQUIRE(check == FrameCheck::kOk);
    log.remove_prefix(size);
    switch (rec.type) {
      case RecordType::kFlushAll:
        node.ks.FlushAll();
        break;
      case RecordType::kDrop:
        node.store.Delete(rec.key, now);
        break;
      case RecordType::kDelta: {
        Status st = node.ks.ApplyDelta(rec.key, rec.object, now);
        CAPTURE(st.message());
        REQUIRE(st.ok());
        break;
      }
      default: {
        auto obj = Object::DecodeWithNodeIds(rec.object, node.actors);
        REQUIRE(obj.ok());
        REQUIRE(node.ks.Merge(rec.key, obj.value(), now).ok());
        break;
      }
    }
  }
  std::vector<Object> out;
  for (const std::string& key : kKeys) out.push_back(node.ks.Load(key, now).value());
  return out;
}

// The node's own objects of kKeys at `now` (its actors were interned in
// the order a replaying node interns them: 'a', then 'c').
std::vector<Object> Objects(Node& n, int64_t now) {
  std::vector<Object> out;
  for (const std::string& key : kKeys) out.push_back(n.ks.Load(key, now).value());
  return out;
}

// Adds 30 elements of 24-byte names to `key` (of the type its name says).
Code Pad(Keyspace& ks, const std::string& key, char type, int64_t now) {
  auto name = [](int i) { return "padding-element-" + std::to_string(1000000 + i); };
  Status st;
  if (type == 'h') {
    st = ks.ModifyHash(key, now, [&](OrHash& h, Keyspace::ContainerWrite& w) -> Result<bool> {
      for (int i = 0; i < 30; ++i) h.Set(name(i), "value", w.dot, w.now_ms);
      return true;
    });
  } else if (type == 's') {
    st = ks.ModifySet(key, now, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
      for (int i = 0; i < 30; ++i) s.Add(name(i), w.dot);
      return true;
    });
  } else {
    st = ks.ModifyZset(key, now, [&](OrZset& z, Keyspace::ContainerWrite& w) -> Result<bool> {
      for (int i = 0; i < 30; ++i) z.Add(name(i), i, w.dot, w.now_ms);
      return true;
    });
  }
  return st.code();
}

void RunLogHistory(uint64_t seed, int steps, ContainerCacheOptions lazy_options) {
  Node lazy(true, Mode{}, 'a', lazy_options);
  ContainerCacheOptions eager_options = lazy_options;
  eager_options.write_back = false;
  Node eager(true, Mode{}, 'a', eager_options);
  LogListener lazy_log(lazy), eager_log(eager);
  std::vector<Node*> nodes = {&lazy, &eager};
  std::mt19937_64 rng(seed);
  int64_t now = kNow;
  size_t crashes = 0;
  for (int step = 0; step < steps; ++step) {
    CAPTURE(step);
    Op op;
    const uint64_t r = rng() % 100;
    op.key = kKeys[rng() % kKeys.size()];
    op.a = rng();
    op.b = rng();
    lazy_log.now = eager_log.now = now;
    if (r < 8) {
      // Padding: containers big enough that a one-element write's delta is
      // below half the object (the case the lazy log is for).
      CHECK(Pad(lazy.ks, op.key, op.key[0], now) == Pad(eager.ks, op.key, op.key[0], now));
    } else if (r < 70) {
      const char type = op.key[0];
      op.kind = static_cast<int>(type == 'h'   ? op.a % 4
                                 : type == 's' ? 4 + op.a % 3
                                               : 7 + op.a % 4);
      if (op.a % 40 == 0) op.kind = 11;  // fails: nothing logged
      CHECK(Write(lazy.ks, op, now) == Write(eager.ks, op, now));
    } else if (r < 75) {
      // DEL, of a dirty key as often as not.
      CHECK(lazy.ks.Delete(op.key, now).value() == eager.ks.Delete(op.key, now).value());
    } else if (r < 79) {
      const int64_t at = op.a % 3 == 0 ? 0 : now + 1 + static_cast<int64_t>(op.b % 3000);
      CHECK(lazy.ks.SetExpiry(op.key, at, now).code() ==
            eager.ks.SetExpiry(op.key, at, now).code());
    } else if (r < 84) {
      now += static_cast<int64_t>(op.a % 2500);
      CHECK(lazy.ks.ActiveExpireCycle(now, 20, op.b) == eager.ks.ActiveExpireCycle(now, 20, op.b));
    } else if (r < 87) {
      // maxmemory: the same number of keys on both (see lazy_encoding_test).
      const int k = 1 + static_cast<int>(op.b % 2);
      for (Node* n : nodes) {
        int calls = 0;
        (void)n->store.EvictUntil(1, now, op.a, [&] { return calls++ <= k ? 2 : 0; });
      }
    } else if (r < 88) {
      for (Node* n : nodes) n->ks.FlushAll();
    } else if (r < 91) {
      // A reader of the key's bytes: its dirty object is written back.
      for (Node* n : nodes) (void)n->ks.Get(op.key, now);
    } else if (r < 94) {
      if (!lazy_log.rewriting) {
        lazy_log.StartRewrite();
        eager_log.StartRewrite();
      }
    } else {
      // A crash: the lazy log cut anywhere replays as the eager log up to
      // the same record.
      const size_t cut = static_cast<size_t>(op.a % (lazy_log.log.size() + 1));
      size_t records = 0;
      while (records < lazy_log.ends.size() && lazy_log.ends[records] <= cut) ++records;
      REQUIRE(eager_log.ends.size() == lazy_log.ends.size());
      const size_t eager_cut = records == 0 ? 0 : eager_log.ends[records - 1];
      const auto expected =
          Replay(std::string_view(eager_log.log).substr(0, eager_cut), now, false);
      CHECK(Replay(std::string_view(lazy_log.log).substr(0, cut), now, true) == expected);
      CHECK(Replay(std::string_view(lazy_log.log).substr(0, cut), now, false) == expected);
      ++crashes;
    }
    if (lazy_log.rewriting) {
      const size_t chunk = 1 + op.b % 2;
      lazy_log.CopySome(chunk);
      eager_log.CopySome(chunk);
    }
    CHECK(lazy.store.stale_count() == lazy.ks.container_cache().dirty());
    if (rng() % 16 == 0 || step == steps - 1) {
      // The whole logs: the writers' state, on a lazy and an eager replay.
      const auto expected = Objects(eager, now);
      CHECK(Objects(lazy, now) == expected);
      CHECK(Replay(lazy_log.log, now, true) == expected);
      CHECK(Replay(lazy_log.log, now, false) == expected);
      CHECK(Replay(eager_log.log, now, false) == expected);
    }
  }
  MESSAGE("delta records: lazy " << lazy_log.deltas << " (" << lazy_log.lazy_deltas
                                 << " while stale), eager " << eager_log.deltas << "; crashes "
                                 << crashes);
  CHECK(lazy_log.lazy_deltas > static_cast<size_t>(steps) / 30);  // the lazy path ran
  CHECK(eager_log.lazy_deltas == 0);
}

TEST_CASE("the log of lazy container writes replays as the eager node's") {
  SUBCASE("default cache") {
    RunLogHistory(21, 3000, {});
  }
  SUBCASE("tight bounds: dirty entries written back by the LRU, short lazy runs") {
    RunLogHistory(22, 2000, {.max_keys = 2, .max_bytes = 1u << 20, .max_lazy_writes = 3});
  }
}

}  // namespace
}  // namespace shoal::storage
