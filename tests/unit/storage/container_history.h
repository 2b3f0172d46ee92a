#pragma once
// Random histories of container writes for the keyspace's tests
// (container_cache_test.cc, lazy_encoding_test.cc): a node (store,
// keyspace, change recorder), the writes a history draws, and the
// replication of recorded changes to a replica.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/container_cache.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::storage::history {

inline constexpr int64_t kNow = 1'700'000'000'000;

struct Recorder final : ChangeListener {
  bool deltas = true;  // WantsDeltas()
  struct Entry {
    std::string key, object, delta;
    bool operator==(const Entry&) const = default;
  };
  std::vector<Entry> changes;
  size_t flushes = 0;
  void OnChange(const Change& change) override {
    changes.push_back(
        {std::string(change.key()), change.NodeIdBytes(), std::string(change.delta())});
  }
  void OnFlush() override { ++flushes; }
  bool WantsDeltas() const override { return deltas; }
};

struct Mode {
  bool keep_tombstones = false;
  bool listener = false;  // with one, writes make deltas (and copy the base)
  bool lww = false;
};

struct Node {
  Node(bool cache, const Mode& mode, char id = 'a', ContainerCacheOptions cache_options = {})
      : self(actors.Intern(std::string(40, id)).value()), ks(store, actors, self, dots) {
    // The foreign writers, interned in the same order on every node.
    (void)actors.Intern(std::string(40, 'c')).value();
    KeyspaceOptions o;
    o.keep_tombstones = mode.keep_tombstones;
    o.lww = mode.lww;
    o.container_cache = cache_options;
    if (!cache) o.container_cache.max_keys = 0;
    ks.set_options(o);
    if (mode.listener) ks.changes().Subscribe(&recorder);
    store.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
  }
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self;
  Keyspace ks;
  Recorder recorder;
};

inline const std::vector<std::string> kKeys = {"h0", "h1", "s0", "s1", "z0", "z1"};

inline std::string Elem(uint64_t i) {
  return "e" + std::to_string(i % 12);
}

// One random step, drawn once and applied to every node alike.
struct Op {
  int kind = 0;
  std::string key;
  uint64_t a = 0, b = 0;
};

// A lazy node publishes the changes an eager one does, but weighs a delta
// against the estimate of its encoding, not the encoding: where one node
// keeps the delta and the other publishes the whole object alone, both are
// right (storage/keyspace.h "Lazy encoding"). The same keys and objects,
// and the same delta where both have one. Checks the changes from *from on.
inline void CheckSameChanges(const Recorder& lazy, const Recorder& off, size_t* from) {
  REQUIRE(lazy.changes.size() == off.changes.size());
  for (; *from < lazy.changes.size(); ++*from) {
    const Recorder::Entry& a = lazy.changes[*from];
    const Recorder::Entry& b = off.changes[*from];
    CHECK(a.key == b.key);
    CHECK(a.object == b.object);
    if (!a.delta.empty() && !b.delta.empty()) CHECK(a.delta == b.delta);
  }
}

// Applies a container write of `kind` (0..11); returns its status code.
inline Code Write(Keyspace& ks, const Op& op, int64_t now) {
  const std::string e1 = Elem(op.a), e2 = Elem(op.b);
  const std::string value = "v" + std::to_string(op.b) + std::string(op.a % 40, 'p');
  Status st;
  switch (op.kind) {
    case 0:
    case 1:
      st = ks.ModifyHash(op.key, now, [&](OrHash& h, Keyspace::ContainerWrite& w) -> Result<bool> {
        h.Set(e1, value, w.dot, w.now_ms);
        if (op.b % 3 == 0) h.Set(e2, value, w.dot, w.now_ms);
        return true;
      });
      break;
    case 2:
      st = ks.ModifyHash(op.key, now, [&](OrHash& h, Keyspace::ContainerWrite&) -> Result<bool> {
        return h.Remove(e1);
      });
      break;
    case 3:
      st = ks.ModifyHash(op.key, now, [&](OrHash& h, Keyspace::ContainerWrite& w) -> Result<bool> {
        auto r = h.IncrBy("n" + e1, static_cast<int64_t>(op.b % 7) - 3, w.dot, ks.actors());
        if (!r.ok()) return r.status();
        return true;
      });
      break;
    case 4:
    case 5:
      st = ks.ModifySet(op.key, now, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
        s.Add(e1, w.dot);
        if (op.b % 2 == 0) s.Add(e2, w.dot);
        return true;
      });
      break;
    case 6:
      st = ks.ModifySet(op.key, now, [&](OrSet& s, Keyspace::ContainerWrite&) -> Result<bool> {
        return s.Remove(e1);
      });
      break;
    case 7:
    case 8:
      st = ks.ModifyZset(op.key, now, [&](OrZset& z, Keyspace::ContainerWrite& w) -> Result<bool> {
        z.Add(e1, static_cast<double>(op.b % 100), w.dot, w.now_ms);
        return true;
      });
      break;
    case 9:
      st = ks.ModifyZset(op.key, now, [&](OrZset& z, Keyspace::ContainerWrite& w) -> Result<bool> {
        auto r = z.IncrBy(e1, 1.5, w.dot, ks.actors());
        if (!r.ok()) return r.status();
        return true;
      });
      break;
    case 10:
      st = ks.ModifyZset(op.key, now, [&](OrZset& z, Keyspace::ContainerWrite&) -> Result<bool> {
        return z.Remove(e1);
      });
      break;
    default:
      // A write that fails: nothing is stored. It fails before changing
      // the state, as ContainerFn requires (a dirty object is given back
      // to the cache as the failed write leaves it).
      st = ks.ModifySet(op.key, now, [&](OrSet& s, Keyspace::ContainerWrite&) -> Result<bool> {
        if (!s.Contains("never")) return Status(Code::kInvalid, "ERR refused");
        return true;
      });
      break;
  }
  return st.code();
}

// The foreign object of `key` a remote writer holds, in `to`'s actor ids.
inline std::optional<Object> Foreign(Node& remote, Node& to, const std::string& key, int64_t now) {
  auto obj = remote.ks.Load(key, now);
  if (!obj.ok() || obj.value().Size() == 0) return std::nullopt;
  std::string wire;
  obj.value().EncodeWithNodeIds(remote.actors, &wire);
  auto local = Object::DecodeWithNodeIds(wire, to.actors);
  REQUIRE(local.ok());
  return std::move(local).value();
}

// A replica pair fed with a writer's changes: the delta when there is one
// (refused: the whole object), else the whole object; "gone" forgets.
inline void Replicate(Node& replica, const Recorder::Entry& change, int64_t now) {
  if (!change.delta.empty()) {
    Status st = replica.ks.ApplyDelta(change.key, change.delta, now);
    if (st.ok()) return;
    REQUIRE(st.code() == Code::kStale);
  }
  auto obj = Object::DecodeWithNodeIds(change.object, replica.actors);
  REQUIRE(obj.ok());
  if (obj.value().Size() == 0) {
    replica.ks.Forget(change.key, now);
  } else {
    REQUIRE(replica.ks.Merge(change.key, obj.value(), now).ok());
  }
}

}  // namespace shoal::storage::history
