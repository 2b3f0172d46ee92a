#include "storage/keyspace.h"

#include <algorithm>

#include "storage/container_delta.h"
#include "storage/node_id.h"

namespace shoal::storage {

Keyspace::Keyspace(::shoal::storage::Store& store, ActorTable& actors, ActorId self,
                   DotCounter& dots, KeyspaceOptions options)
    : store_(store),
      actors_(actors),
      self_(self),
      writer_(self),
      dots_(dots),
      options_(options),
      changes_(actors),
      cache_(options.container_cache) {
  store_.set_keep_expired(options_.keep_tombstones);
  store_.SetStaleValueOwner(this);
  cache_.set_write_back([this](std::string_view key, const Object& object) {
    store_.WriteBack(key, object.Encode());
  });
}

void Keyspace::set_options(const KeyspaceOptions& options) {
  if (!options.container_cache.write_back) {
    // Every write encodes from now on: nothing stays stale.
    FlushPending();
    store_.WriteBackAll();
  }
  options_ = options;
  store_.set_keep_expired(options_.keep_tombstones);
  cache_.set_options(options_.container_cache);
}

Keyspace::Pin::Pin(Keyspace& keyspace, std::string_view key, const Object& object)
    : keyspace_(keyspace) {
  keyspace_.pinned_key_ = key;
  keyspace_.pinned_ = &object;
}

Keyspace::Pin::~Pin() {
  keyspace_.pinned_ = nullptr;
  keyspace_.pinned_key_ = {};
}

Result<Object> Keyspace::Load(std::string_view key, int64_t now_ms) {
  if (const Object* pinned = Pinned(key)) return *pinned;
  const Stored stored = Lookup(key, now_ms);
  if (stored.cached != nullptr) return *stored.cached;
  if (stored.bytes == nullptr) return Object();
  return Object::Decode(*stored.bytes, actors_);
}

Result<Object> Keyspace::LoadForWrite(std::string_view key, int64_t now_ms, bool* dirty) {
  *dirty = false;
  if (const Object* pinned = Pinned(key)) return *pinned;
  bool stale = false;
  const std::string* bytes = store_.GetStale(key, now_ms, /*touch=*/true, &stale);
  if (auto cached = cache_.Take(key, bytes)) {
    *dirty = stale;
    return std::move(*cached);
  }
  if (bytes == nullptr) return Object();
  if (stale) bytes = store_.WriteBack(key, now_ms);  // the pending save's
  return Object::Decode(*bytes, actors_);
}

void Keyspace::Remember(std::string_view key, Object& obj, int64_t now_ms) {
  bool container = obj.Size() > 0;
  for (const auto& sibling : obj.siblings()) container = container && sibling.value.IsContainer();
  bool stale = false;
  const std::string* stored =
      container ? store_.GetStale(key, now_ms, /*touch=*/false, &stale) : nullptr;
  if (stored == nullptr || stale) {
    cache_.Erase(key);
    return;
  }
  cache_.Insert(key, std::move(obj), *stored);
}

Result<Object> Keyspace::Peek(std::string_view key, int64_t now_ms) {
  if (const Object* pinned = Pinned(key)) return *pinned;
  const std::string* bytes = store_.Peek(key, now_ms);
  if (bytes == nullptr) return Object();
  return Object::Decode(*bytes, actors_);
}

bool Keyspace::EncodeWithNodeIds(std::string_view key, int64_t now_ms, std::string* out) {
  const Stored stored = Lookup(key, now_ms, /*touch=*/false);
  if (stored.cached != nullptr) {
    if (stored.cached->Size() == 0) return false;
    stored.cached->EncodeWithNodeIds(actors_, out);
    return true;
  }
  if (stored.bytes == nullptr) return false;
  auto obj = Object::Decode(*stored.bytes, actors_);
  if (!obj.ok() || obj.value().Size() == 0) return false;
  obj.value().EncodeWithNodeIds(actors_, out);
  return true;
}

std::optional<uint64_t> Keyspace::CachedBaseDigest(std::string_view key, int64_t now_ms) {
  if (cache_.size() == 0) return std::nullopt;
  bool stale = false;
  const std::string* bytes = store_.GetStale(key, now_ms, /*touch=*/false, &stale);
  if (bytes == nullptr) return std::nullopt;
  // (A stale value the cache does not hold is the save being published:
  // nothing cached to digest.)
  return cache_.Digest(key, bytes, [this](const Object& obj) -> std::optional<uint64_t> {
    if (obj.Size() == 0) return std::nullopt;
    return BaseDigest(obj, actors_);
  });
}

Result<Keyspace::View> Keyspace::Get(std::string_view key, int64_t now_ms) {
  View view;
  if (const Object* pinned = Pinned(key)) {
    store_.CountLookup(!pinned->IsAbsent(now_ms));
    // One live string needs no copy.
    const Version* only = nullptr;
    size_t live = 0;
    for (const auto& sibling : pinned->siblings()) {
      if (sibling.value.IsLive(now_ms)) {
        ++live;
        only = &sibling.value;
      }
    }
    if (live == 1 && only->kind == VersionKind::kBytes) {
      view.count = 1;
      view.single = only->bytes;
      return view;
    }
    const KeyType type = pinned->TypeAt(now_ms, actors_);
    if (type != KeyType::kNone && type != KeyType::kString) {
      return Status(Code::kWrongType, std::string(kWrongTypeMessage));
    }
    view.siblings = pinned->LiveValues(now_ms, actors_);
    view.count = view.siblings.size();
    return view;
  }
  // Counted by what the object shows, not by the entry: a replica in a
  // cluster keeps dead keys (tombstones, expired versions).
  const std::string* bytes = store_.GetMutable(key, now_ms);
  if (bytes == nullptr) {
    store_.CountLookup(false);
    return view;
  }
  // The common case, one live string, costs no decoding.
  if (auto single = Object::PeekSingleValue(*bytes, now_ms)) {
    store_.CountLookup(true);
    view.count = 1;
    view.single = *single;
    return view;
  }
  auto obj = Object::Decode(*bytes, actors_);
  if (!obj.ok()) return obj.status();
  const KeyType type = obj.value().TypeAt(now_ms, actors_);
  store_.CountLookup(type != KeyType::kNone);
  if (type != KeyType::kNone && type != KeyType::kString) {
    return Status(Code::kWrongType, std::string(kWrongTypeMessage));
  }
  view.siblings = obj.value().LiveValues(now_ms, actors_);
  view.count = view.siblings.size();
  return view;
}

Result<std::optional<std::string>> Keyspace::Single(std::string_view key, int64_t now_ms) {
  std::vector<std::string> values;
  auto string_values = [&](const Object& obj) -> Status {
    const KeyType type = obj.TypeAt(now_ms, actors_);
    if (type != KeyType::kNone && type != KeyType::kString) {
      return Status(Code::kWrongType, std::string(kWrongTypeMessage));
    }
    values = obj.LiveValues(now_ms, actors_);
    return Status::Ok();
  };
  if (const Object* pinned = Pinned(key)) {
    Status st = string_values(*pinned);
    if (!st.ok()) return st;
  } else {
    const std::string* bytes = store_.GetMutable(key, now_ms);
    if (bytes == nullptr) return std::optional<std::string>();
    if (auto single = Object::PeekSingleValue(*bytes, now_ms)) {
      return std::optional<std::string>(std::string(*single));
    }
    auto obj = Object::Decode(*bytes, actors_);
    if (!obj.ok()) return obj.status();
    Status st = string_values(obj.value());
    if (!st.ok()) return st;
  }
  if (values.empty()) return std::optional<std::string>();
  if (values.size() > 1) return Status(Code::kConflict, ConflictMessage(values.size()));
  return std::optional<std::string>(std::move(values[0]));
}

bool Keyspace::Exists(std::string_view key, int64_t now_ms) {
  if (const Object* pinned = Pinned(key)) return !pinned->IsAbsent(now_ms);
  const Stored stored = Lookup(key, now_ms);
  if (stored.cached != nullptr) return !stored.cached->IsAbsent(now_ms);
  const std::string* bytes = stored.bytes;
  if (bytes == nullptr) return false;
  if (Object::PeekSingleValue(*bytes, now_ms)) return true;
  auto obj = Object::Decode(*bytes, actors_);
  return obj.ok() && !obj.value().IsAbsent(now_ms);
}

std::optional<int64_t> Keyspace::ExpireAt(std::string_view key, int64_t now_ms) {
  if (const Object* pinned = Pinned(key)) {
    if (pinned->IsAbsent(now_ms)) return std::nullopt;
    return pinned->ExpireAtMs();
  }
  // The store's TTL is the object's (Save writes Object::ExpireAtMs), and a
  // lone node's store holds live keys only.
  std::optional<int64_t> at = store_.GetExpireAt(key, now_ms);
  if (!at || !options_.keep_tombstones) return at;
  if (*at != 0 && *at <= now_ms) return std::nullopt;  // expired, kept for the cluster
  const std::string* bytes = store_.GetMutable(key, now_ms);
  if (bytes == nullptr || Object::PeekSingleValue(*bytes, now_ms)) return at;
  auto obj = Object::Decode(*bytes, actors_);
  if (!obj.ok() || obj.value().IsAbsent(now_ms)) return std::nullopt;
  return at;
}

Result<Object> Keyspace::Settled(std::string_view key, int64_t now_ms) {
  auto obj = Load(key, now_ms);
  if (obj.ok()) obj.value().CompactExpired(now_ms);
  return obj;
}

Status Keyspace::CheckSiblings(size_t after) {
  if (options_.lww) return Status::Ok();  // resolved right after the write
  if (after > options_.max_siblings) {
    ++stats_.conflicts;
    return Status(Code::kConflict, ConflictMessage(after - 1));
  }
  return Status::Ok();
}

Status Keyspace::Put(std::string_view key, Version version, int64_t now_ms) {
  // Put supersedes every sibling: only the old object's context matters, so
  // its values are not copied out (a big value's DEL or overwrite stays cheap).
  Result<Object> obj = Object();
  if (const Object* pinned = Pinned(key)) {
    obj = *pinned;
  } else if (const std::string* bytes = store_.GetMutable(key, now_ms)) {
    obj = Object::DecodeWithoutValues(*bytes, actors_);
  }
  if (!obj.ok()) return obj.status();
  auto floor = dots_.Next();
  if (!floor.ok()) return floor.status();
  obj.value().Put(std::move(version), writer_, floor.value());
  Save(key, obj.value(), now_ms);
  return Status::Ok();
}

Status Keyspace::Update(std::string_view key, const VersionVector& context, Version version,
                        int64_t now_ms) {
  auto obj = Load(key, now_ms);
  if (!obj.ok()) return obj.status();
  Status st = CheckSiblings(obj.value().SiblingsAfterUpdate(context));
  if (!st.ok()) return st;
  auto floor = dots_.Next();
  if (!floor.ok()) return floor.status();
  obj.value().Update(context, std::move(version), writer_, floor.value());
  Save(key, obj.value(), now_ms);
  return Status::Ok();
}

Result<int64_t> Keyspace::IncrBy(std::string_view key, int64_t delta, int64_t now_ms) {
  auto obj = Load(key, now_ms);
  if (!obj.ok()) return obj.status();
  auto base = obj.value().CounterForUpdate(now_ms, actors_);
  if (!base.ok()) return base.status();
  PnCounter counter = std::move(base.value().counter);
  Status st = counter.Add(writer_, delta);
  if (!st.ok()) return st;
  auto value = counter.Value();
  if (!value.ok()) return value.status();
  auto floor = dots_.Next();
  if (!floor.ok()) return floor.status();
  obj.value().Put(Version::Counter(std::move(counter), now_ms, base.value().expire_at_ms), writer_,
                  floor.value());
  Save(key, obj.value(), now_ms);
  return value.value();
}

Result<bool> Keyspace::Delete(std::string_view key, int64_t now_ms) {
  if (!Exists(key, now_ms)) return false;
  // A string key needs only the context (Put's cheap path); a container
  // stores its empty state, which keeps the clock.
  // (A cached object is a container.)
  const Stored stored = Pinned(key) == nullptr ? Lookup(key, now_ms) : Stored{};
  const bool plain = stored.cached == nullptr && stored.bytes != nullptr &&
                     Object::PeekSingleValue(*stored.bytes, now_ms).has_value();
  if (!plain) {
    auto obj = Load(key, now_ms);
    if (!obj.ok()) return obj.status();
    const KeyType type = obj.value().TypeAt(now_ms, actors_);
    if (type != KeyType::kString && type != KeyType::kNone) {
      Status st = PutContainer(key, obj.value(), type, /*clear=*/true, 0, now_ms);
      if (!st.ok()) return st;
      return true;
    }
  }
  Status st = Put(key, Version::Tombstone(now_ms), now_ms);
  if (!st.ok()) return st;
  return true;
}

Status Keyspace::PutContainer(std::string_view key, const Object& obj, KeyType type, bool clear,
                              int64_t expire_at_ms, int64_t now_ms) {
  Version v;
  if (type == KeyType::kHash) {
    auto view = obj.HashView(now_ms, actors_);
    if (!view.ok()) return view.status();
    if (clear) view.value().state.Clear();
    v = Version::OfHash(std::move(view.value().state), now_ms, expire_at_ms);
  } else if (type == KeyType::kSet) {
    auto view = obj.SetView(now_ms, actors_);
    if (!view.ok()) return view.status();
    if (clear) view.value().state.Clear();
    v = Version::OfSet(std::move(view.value().state), now_ms, expire_at_ms);
  } else {
    auto view = obj.ZsetView(now_ms, actors_);
    if (!view.ok()) return view.status();
    if (clear) view.value().state.Clear();
    v = Version::OfZset(std::move(view.value().state), now_ms, expire_at_ms);
  }
  if (v.IsEmptyContainer()) v.expire_at_ms = 0;  // dead: nothing to expire
  return Put(key, std::move(v), now_ms);
}

Status Keyspace::SetExpiry(std::string_view key, int64_t expire_at_ms, int64_t now_ms) {
  auto obj = Load(key, now_ms);
  if (!obj.ok()) return obj.status();
  const KeyType type = obj.value().TypeAt(now_ms, actors_);
  if (type == KeyType::kNone) return Status::NotFound();
  if (type != KeyType::kString) {
    const bool dead = expire_at_ms != 0 && expire_at_ms <= now_ms;
    return PutContainer(key, obj.value(), type, dead, dead ? 0 : expire_at_ms, now_ms);
  }
  size_t live = obj.value().LiveCount(now_ms);
  if (live > 1) return Status(Code::kConflict, ConflictMessage(live));
  if (expire_at_ms != 0 && expire_at_ms <= now_ms) {
    return Put(key, Version::Tombstone(now_ms), now_ms);
  }
  // The one live value is either a string or (possibly several) counters
  // that read as one joined value.
  for (const auto& sibling : obj.value().siblings()) {
    const Version& v = sibling.value;
    if (v.kind == VersionKind::kBytes && v.IsLive(now_ms)) {
      return Put(key, Version::Bytes(v.bytes, now_ms, expire_at_ms), now_ms);
    }
  }
  auto base = obj.value().CounterForUpdate(now_ms, actors_);
  if (!base.ok()) return base.status();
  return Put(key, Version::Counter(std::move(base.value().counter), now_ms, expire_at_ms), now_ms);
}

Status Keyspace::Merge(std::string_view key, const Object& remote, int64_t now_ms) {
  bool dirty = false;
  auto obj = LoadForWrite(key, now_ms, &dirty);
  if (!obj.ok()) return obj.status();
  obj.value().Merge(remote);
  for (const auto& e : remote.Context().entries()) {
    if (e.actor == self_) dots_.Observe(e.counter);
  }
  Save(key, obj.value(), now_ms);
  return Status::Ok();
}

Result<ActorId> Keyspace::StandInWriter() {
  if (!stand_in_epoch_) {
    stand_in_epoch_ = dots_.current();
    std::string self;
    actors_.AppendBinary(self_, &self);
    auto id = actors_.InternBinary(DerivedNodeId(self, *stand_in_epoch_));
    if (!id.ok()) {
      stand_in_epoch_.reset();
      return id.status();
    }
    stand_in_ = id.value();
  }
  return *stand_in_;
}

void Keyspace::FlushAll() {
  pending_ = nullptr;  // (cleared with the store)
  ++change_count_;
  stand_in_epoch_.reset();
  cache_.Clear();
  store_.Clear();
  stats_.tombstones_held = 0;
  stats_.tombstone_bytes = 0;
  changes_.PublishFlush();
}

bool Keyspace::Forget(std::string_view key, int64_t now_ms) {
  FlushPending();
  if (Pinned(key) != nullptr) pinned_ = nullptr;
  stand_in_epoch_.reset();
  CountDead(key, -1, now_ms);
  const bool live = store_.Delete(key, now_ms);
  cache_.Discard(key);  // (a dirty entry went with the store's value)
  ++change_count_;
  changes_.Publish(key, Object{});
  return live;
}

size_t Keyspace::ActiveExpireCycle(int64_t now_ms, size_t max_samples, uint64_t random) {
  if (!options_.keep_tombstones) return store_.ActiveExpireCycle(now_ms, max_samples, random);
  expired_scratch_.clear();
  const size_t expired = store_.ActiveExpireCycle(now_ms, max_samples, random, &expired_scratch_);
  for (const std::string& key : expired_scratch_) {
    // Saving again compacts the expired versions (Save) and tells the log
    // and the anti-entropy trees. A key that no longer decodes is left as
    // it is (reads report the damage).
    auto obj = Load(key, now_ms);
    if (obj.ok()) Save(key, obj.value(), now_ms);
  }
  return expired;
}

Result<bool> Keyspace::Purge(std::string_view key, const Object& expected, int64_t now_ms) {
  auto obj = Settled(key, now_ms);
  if (!obj.ok()) return obj.status();
  if (obj.value().Size() == 0 || !obj.value().IsAbsent(now_ms) || !(obj.value() == expected)) {
    return false;
  }
  FlushPending();
  if (Pinned(key) != nullptr) pinned_ = nullptr;
  ++change_count_;
  CountDead(key, -1, now_ms);
  store_.Delete(key, now_ms);
  cache_.Discard(key);
  ++stats_.tombstones_purged;
  changes_.Publish(key, Object());
  return true;
}

void Keyspace::CountDead(std::string_view key, int sign, int64_t now_ms) {
  // A stale value stands for a live container (only those are saved
  // lazily): not dead, and not worth encoding to find out.
  bool stale = false;
  const std::string* bytes = store_.GetStale(key, now_ms, /*touch=*/false, &stale);
  if (bytes == nullptr || stale || !Object::EncodedIsTombstonesOnly(*bytes, actors_)) return;
  const uint64_t size = key.size() + bytes->size();
  if (sign > 0) {
    ++stats_.tombstones_held;
    stats_.tombstone_bytes += size;
  } else {
    if (stats_.tombstones_held > 0) --stats_.tombstones_held;
    stats_.tombstone_bytes -= std::min(stats_.tombstone_bytes, size);
  }
}

void Keyspace::Save(std::string_view key, Object& obj, int64_t now_ms, std::string_view delta) {
  // A listener writing while a lazy save is published: the pending object
  // goes to the store first, so that nothing but it stands for that key.
  FlushPending();
  // From here on the store holds the newest object of a pinned key: a second
  // write in the same command must start from it, not from the pin.
  if (Pinned(key) != nullptr) pinned_ = nullptr;
  ++change_count_;
  Object resolved;
  Object* out = &obj;
  if (options_.lww && obj.Size() > 1) {
    resolved = obj;
    resolved.ResolveLww(actors_);
    out = &resolved;
  }
  if (out->Size() > options_.siblings_warn && !options_.lww) {
    ++stats_.sibling_warnings;
    if (sibling_warning_) sibling_warning_(key, out->Size());
  }
  std::string_view moved;  // a big value moved into the store, for the Change
  bool kept = true;        // the key is in the store
  bool lazy = false;       // its value left stale, *out pending (SaveLazily)
  // A delta gives `obj`: it describes the change only if `obj` is stored
  // as it is, and is worth shipping only if well below the object.
  if (out != &obj) delta = {};
  auto keep_delta = [&](size_t encoded_size) {
    if (delta.size() * 2 >= encoded_size) delta = {};
  };
  if (out->IsAbsent(now_ms) && !options_.keep_tombstones) {
    delta = {};
    kept = false;
    // Nothing live: forget the key (a single node has no replica that could
    // resurrect it; the dot counter keeps old contexts from covering what
    // comes next). The cached object, dirty or not, is superseded.
    if (store_.Delete(key, now_ms) || out->Size() > 0) ++stats_.tombstones_purged;
    cache_.Discard(key);
  } else if (options_.keep_tombstones) {
    // A replica keeps what it knows until the cluster purges it: expired
    // versions as their remains (deterministic, see Object::CompactExpired),
    // and a dead key with no TTL in the store, which only tracks live ones.
    if (out->Size() > 0 && !out->IsTombstonesOnly()) {
      bool expired = false;
      for (const auto& sibling : out->siblings()) {
        if (sibling.value.kind != VersionKind::kTombstone && !sibling.value.IsUnexpired(now_ms)) {
          expired = true;
        }
      }
      if (expired) {
        if (out != &resolved) {
          resolved = *out;
          out = &resolved;
        }
        resolved.CompactExpired(now_ms);
      }
    }
    // The dead-key gauges: the old copy (looked up only when some key is
    // dead, which a write-only workload never has) and the new one (from
    // its encoding, without a lookup).
    if (stats_.tombstones_held > 0) CountDead(key, -1, now_ms);
    const int64_t expire_at = out->IsAbsent(now_ms) ? 0 : out->ExpireAtMs();
    // A live container without TTL may leave its encoding for later, as on
    // a lone node: it is not dead (no gauge to update) and never compacted.
    lazy = expire_at == 0 && !out->IsTombstonesOnly() &&
           SaveLazily(key, *out, expire_at, now_ms, delta.size());
    if (!lazy) {
      std::string encoded = Encode(*out, &moved);
      keep_delta(encoded.size());
      const bool dead = Object::EncodedIsTombstonesOnly(encoded, actors_);
      const uint64_t size = key.size() + encoded.size();
      store_.Set(key, std::move(encoded), expire_at, now_ms);
      if (dead) {
        ++stats_.tombstones_held;
        stats_.tombstone_bytes += size;
      }
    }
  } else {
    const int64_t expire_at = out->ExpireAtMs();
    lazy = SaveLazily(key, *out, expire_at, now_ms, delta.size());
    if (!lazy) {
      std::string encoded = Encode(*out, &moved);
      keep_delta(encoded.size());
      store_.Set(key, std::move(encoded), expire_at, now_ms);
    }
  }
  const uint64_t change = change_count_;
  changes_.Publish(key, *out, moved, delta);
  if (lazy && pending_ == out) {
    // Still stale, nothing wrote meanwhile: the object becomes the dirty
    // entry the store's stale value stands for.
    pending_ = nullptr;
    bool stale = false;
    const std::string* stored = store_.GetStale(key, now_ms, /*touch=*/false, &stale);
    if (stored != nullptr && stale) {
      cache_.InsertDirty(key, std::move(*out), *stored, pending_base_, pending_estimate_);
      return;
    }
  }
  // (A listener that wrote to the keyspace would have made *out stale. A
  // lazy save written back during the publication is an eager one now.)
  if (kept && change == change_count_) {
    Remember(key, *out, now_ms);
  } else {
    cache_.Erase(key);
  }
}

std::string Keyspace::Encode(Object& obj, std::string_view* moved) {
  // A big value moves into the store instead of being copied (the parser
  // left room for the header in front of it): half the memory and no
  // page-faulting copy for a 512 MB SET. Small values are copied, which is
  // cheaper than the Change's later re-join of a moved value.
  const auto& sibs = obj.siblings();
  if (sibs.size() != 1 || sibs[0].value.bytes.size() < kMoveValueBytes) return obj.Encode();
  size_t value_size = 0;
  std::string encoded = obj.EncodeMovingValue(&value_size);
  if (value_size > 0) {
    // The view stays valid once the string moves into the store: a heap
    // buffer moves with it.
    *moved = std::string_view(encoded).substr(encoded.size() - value_size);
  }
  return encoded;
}

}  // namespace shoal::storage
