// Keyspace's container API (storage/keyspace.h "containers"): the type of a
// key, the joined reads, one-element lookups, and Modify, the read-modify-
// write every container command goes through, with the delta it ships and
// logs (storage/container_delta.h) and its replay on replicas.

#include <cassert>

#include "storage/keyspace.h"

#include "storage/container_codec.h"
#include "storage/container_delta.h"

namespace shoal::storage {

Result<KeyType> Keyspace::Type(std::string_view key, int64_t now_ms) {
  if (Pinned(key) == nullptr) {
    const Stored stored = Lookup(key, now_ms);
    if (stored.cached != nullptr) return stored.cached->TypeAt(now_ms, actors_);
    if (stored.bytes == nullptr) return KeyType::kNone;
    if (Object::PeekSingleValue(*stored.bytes, now_ms)) return KeyType::kString;
  }
  auto obj = Load(key, now_ms);
  if (!obj.ok()) return obj.status();
  return obj.value().TypeAt(now_ms, actors_);
}

template <typename State>
Result<ContainerView<State>> Keyspace::Read(std::string_view key, int64_t now_ms) {
  if (Pinned(key) == nullptr) {
    // A cached object is joined (copied) from, not copied and then joined.
    const Stored stored = Lookup(key, now_ms);
    if (stored.cached != nullptr) return ViewOf<State>(*stored.cached, now_ms, actors_);
    if (stored.bytes == nullptr) return ContainerView<State>();
  }
  auto obj = Load(key, now_ms);
  if (!obj.ok()) return obj.status();
  return ViewOf<State>(obj.value(), now_ms, actors_);
}

Result<ContainerView<OrHash>> Keyspace::ReadHash(std::string_view key, int64_t now_ms) {
  return Read<OrHash>(key, now_ms);
}

Result<ContainerView<OrSet>> Keyspace::ReadSet(std::string_view key, int64_t now_ms) {
  return Read<OrSet>(key, now_ms);
}

Result<ContainerView<OrZset>> Keyspace::ReadZset(std::string_view key, int64_t now_ms) {
  return Read<OrZset>(key, now_ms);
}

namespace {

// The one container version of a key stored alone, nullptr when the fast
// path does not apply: the cached object's (nothing decoded), or decoded
// from the bytes into *scratch down to the element `name`.
Result<const Version*> PeekElement(const Object* cached, const std::string* bytes,
                                   std::string_view name, int64_t now_ms, const ActorTable& actors,
                                   Version* scratch) {
  if (cached != nullptr) {
    // What Object::PeekContainer accepts: one unexpired container version.
    if (cached->Size() != 1) return nullptr;
    const Version& v = cached->siblings()[0].value;
    if (!v.IsContainer() || !v.IsUnexpired(now_ms)) return nullptr;
    return &v;
  }
  if (bytes == nullptr) return nullptr;
  auto payload = Object::PeekContainer(*bytes, now_ms);
  if (!payload) return nullptr;
  Status st = DecodeContainerEntry(*payload, name, actors, scratch);
  if (!st.ok()) return st;
  return scratch;
}

Status WrongTypeStatus() {
  return Status(Code::kWrongType, std::string(kWrongTypeMessage));
}

// One element looked up without decoding the container (PeekElement): the
// answer, or nullopt when the fast path does not apply and the caller must
// join the container. A lone version of another type is WRONGTYPE, unless it
// is an empty container and the key is absent (`absent` is the answer then).
template <typename Out, typename Get, typename Exists>
Result<std::optional<Out>> LookupElement(const Object* cached, const std::string* bytes,
                                         std::string_view name, VersionKind kind, int64_t now_ms,
                                         const ActorTable& actors, Out absent, const Exists& exists,
                                         const Get& get) {
  Version scratch;
  auto peek = PeekElement(cached, bytes, name, now_ms, actors, &scratch);
  if (!peek.ok()) return peek.status();
  const Version* v = peek.value();
  if (v == nullptr) return std::optional<Out>();
  if (v->kind == kind) return std::optional<Out>(get(*v));
  if (v->IsEmptyContainer() && !exists()) return std::optional<Out>(std::move(absent));
  return WrongTypeStatus();
}

}  // namespace

Result<std::optional<std::string>> Keyspace::HashGet(std::string_view key, std::string_view field,
                                                     int64_t now_ms) {
  using Out = std::optional<std::string>;
  if (Pinned(key) == nullptr) {
    const Stored stored = Lookup(key, now_ms);
    auto fast = LookupElement<Out>(
        stored.cached, stored.bytes, field, VersionKind::kHash, now_ms, actors_, Out(),
        [&] { return Exists(key, now_ms); },
        [&](const Version& v) { return v.hash.Get(field, actors_); });
    if (!fast.ok()) return fast.status();
    if (fast.value()) return std::move(*fast.value());
  }
  auto view = ReadHash(key, now_ms);
  if (!view.ok()) return view.status();
  return view.value().state.Get(field, actors_);
}

Result<bool> Keyspace::SetContains(std::string_view key, std::string_view member, int64_t now_ms) {
  if (Pinned(key) == nullptr) {
    const Stored stored = Lookup(key, now_ms);
    auto fast = LookupElement<bool>(
        stored.cached, stored.bytes, member, VersionKind::kSet, now_ms, actors_, false,
        [&] { return Exists(key, now_ms); },
        [&](const Version& v) { return v.set.Contains(member); });
    if (!fast.ok()) return fast.status();
    if (fast.value()) return *fast.value();
  }
  auto view = ReadSet(key, now_ms);
  if (!view.ok()) return view.status();
  return view.value().state.Contains(member);
}

Result<std::optional<double>> Keyspace::ZsetScore(std::string_view key, std::string_view member,
                                                  int64_t now_ms) {
  using Out = std::optional<double>;
  if (Pinned(key) == nullptr) {
    const Stored stored = Lookup(key, now_ms);
    auto fast = LookupElement<Out>(
        stored.cached, stored.bytes, member, VersionKind::kZset, now_ms, actors_, Out(),
        [&] { return Exists(key, now_ms); },
        [&](const Version& v) { return v.zset.Score(member, actors_); });
    if (!fast.ok()) return fast.status();
    if (fast.value()) return *fast.value();
  }
  auto view = ReadZset(key, now_ms);
  if (!view.ok()) return view.status();
  return view.value().state.Score(member, actors_);
}

namespace {

Version VersionOf(OrHash state, int64_t now_ms, int64_t expire_at_ms) {
  return Version::OfHash(std::move(state), now_ms, expire_at_ms);
}
Version VersionOf(OrSet state, int64_t now_ms, int64_t expire_at_ms) {
  return Version::OfSet(std::move(state), now_ms, expire_at_ms);
}
Version VersionOf(OrZset state, int64_t now_ms, int64_t expire_at_ms) {
  return Version::OfZset(std::move(state), now_ms, expire_at_ms);
}

}  // namespace

template <typename State>
Status Keyspace::Modify(std::string_view key, int64_t now_ms, const ContainerFn<State>& fn) {
  // The cached object is taken (the write replaces it), and its state is
  // moved, not copied. A write that makes a delta records what fn touches
  // (OrMapJournal) instead of keeping the state it started from.
  bool dirty = false;
  auto obj = LoadForWrite(key, now_ms, &dirty);
  if (!obj.ok()) return obj.status();
  // The base's digest, before the state moves out of it. The base's view
  // is then its one version (no TTL, alone): what the journal starts from.
  const bool wants_delta = DeltaBase(key, obj.value(), KindOfState<State>(), now_ms) != nullptr;
  const uint64_t base_digest = wants_delta ? BaseDigest(obj.value(), actors_) : 0;
  const bool moves = MovableVersionOf<State>(obj.value(), now_ms) != nullptr;
  auto view = TakeViewOf<State>(obj.value(), now_ms, actors_);
  // A write that stores nothing gives a dirty object back as it was (see
  // ContainerFn): it is the key's only current copy. A clean one is
  // dropped, as the stored bytes are.
  auto give_back = [&] {
    if (!dirty) return;
    if (moves && view.ok()) {
      view.value().state.Track(nullptr);
      StateOf<State>(*obj.value().OnlyValue()) = std::move(view.value().state);
    }
    // (The taken entry waits for it: nothing drops a taken dirty entry.)
    [[maybe_unused]] const bool restored = cache_.Restore(key, std::move(obj.value()));
    assert(restored);
  };
  if (!view.ok()) {
    give_back();
    return view.status();
  }
  auto floor = dots_.Next();
  if (!floor.ok()) {
    give_back();
    return floor.status();
  }
  ContainerWrite write;
  write.dot = obj.value().NextPutDot(writer_, floor.value());
  write.now_ms = now_ms;
  write.expire_at_ms = view.value().expire_at_ms;
  write.existed = view.value().exists;
  State& state = view.value().state;
  OrMapJournal journal;
  if (wants_delta) state.Track(&journal);
  Result<bool> changed = fn(state, write);
  state.Track(nullptr);
  if (!changed.ok() || !changed.value()) {
    give_back();
    return changed.ok() ? Status::Ok() : changed.status();
  }
  // An empty result is dead: it keeps no TTL.
  const int64_t expire = state.empty() ? 0 : write.expire_at_ms;
  Version v = VersionOf(std::move(state), now_ms, expire);
  std::string delta;
  if (wants_delta && expire == 0 && journal.complete) {
    EncodeDeltaFromJournal(base_digest, v, write.dot, journal, actors_, &delta);
  }
  if (obj.value().Put(std::move(v), writer_, floor.value()) != write.dot) delta.clear();
  Save(key, obj.value(), now_ms, delta);
  return Status::Ok();
}

const Version* Keyspace::DeltaBase(std::string_view key, const Object& obj, VersionKind kind,
                                   int64_t now_ms) {
  if (!changes_.AnyWantsDeltas()) return nullptr;
  if (obj.Size() != 1) return nullptr;
  const Version& v = obj.siblings()[0].value;
  if (v.kind != kind || v.expire_at_ms != 0) return nullptr;
  if (Pinned(key) != nullptr) {
    // A coordinator's quorum merge is usually the store's copy; when it is
    // not, a delta from it would not apply to what the log replays.
    const std::string* stored = store_.Peek(key, now_ms);
    if (stored == nullptr || obj.Encode() != *stored) return nullptr;
  }
  return &v;
}

Status Keyspace::ApplyDelta(std::string_view key, std::string_view delta, int64_t now_ms) {
  auto decoded = storage::DecodeDelta(delta, actors_);
  if (!decoded.ok()) return decoded.status();
  bool dirty = false;
  auto obj = LoadForWrite(key, now_ms, &dirty);
  if (!obj.ok()) return obj.status();
  // The copy is given up: its state moves into the result. A refusal
  // leaves it whole, and a dirty one (the key's only current copy) goes
  // back into the cache; a clean one is also in the store's bytes.
  auto applied = storage::ApplyDelta(std::move(obj.value()), decoded.value(), actors_);
  if (!applied.ok()) {
    if (dirty) {
      [[maybe_unused]] const bool restored = cache_.Restore(key, std::move(obj.value()));
      assert(restored);
    }
    return applied.status();
  }
  if (decoded.value().dot.actor == self_) dots_.Observe(decoded.value().dot.counter);
  Save(key, applied.value(), now_ms, delta);
  return Status::Ok();
}

Status Keyspace::ModifyHash(std::string_view key, int64_t now_ms, const ContainerFn<OrHash>& fn) {
  return Modify<OrHash>(key, now_ms, fn);
}

Status Keyspace::ModifySet(std::string_view key, int64_t now_ms, const ContainerFn<OrSet>& fn) {
  return Modify<OrSet>(key, now_ms, fn);
}

Status Keyspace::ModifyZset(std::string_view key, int64_t now_ms, const ContainerFn<OrZset>& fn) {
  return Modify<OrZset>(key, now_ms, fn);
}

}  // namespace shoal::storage
