#include "storage/container_delta.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "storage/container_codec.h"
#include "storage/varint.h"

namespace shoal::storage {
namespace {

constexpr uint8_t kDeltaFormat = 1;

// Calls fn(State{}) with a value of the state type of container `kind`.
template <typename Fn>
auto WithStateType(VersionKind kind, Fn fn) {
  switch (kind) {
    case VersionKind::kHash:
      return fn(OrHash{});
    case VersionKind::kSet:
      return fn(OrSet{});
    default:
      return fn(OrZset{});
  }
}

bool IsContainerKind(VersionKind k) {
  return k == VersionKind::kHash || k == VersionKind::kSet || k == VersionKind::kZset;
}

// Clock entries in node-id order (the digest must not depend on ActorIds).
// `order` is scratch space.
void AppendClock(const VersionVector& clock, const ActorTable& actors, std::string* out,
                 std::vector<const VersionVector::Entry*>& order) {
  order.clear();
  for (const auto& e : clock.entries()) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [&](const auto* a, const auto* b) { return actors.NameLess(a->actor, b->actor); });
  PutVarint64(out, order.size());
  for (const auto* e : order) {
    actors.AppendBinary(e->actor, out);
    PutVarint64(out, e->counter);
  }
}

const VersionVector& ClockOf(const Version& v) {
  switch (v.kind) {
    case VersionKind::kHash:
      return v.hash.map().clock();
    case VersionKind::kSet:
      return v.set.map().clock();
    default:
      return v.zset.map().clock();
  }
}

size_t SizeOf(const Version& v) {
  switch (v.kind) {
    case VersionKind::kHash:
      return v.hash.Size();
    case VersionKind::kSet:
      return v.set.Size();
    case VersionKind::kZset:
      return v.zset.Size();
    default:
      return 0;
  }
}

template <typename State>
void Diff(const State& before, const State& after, ContainerDelta* delta) {
  using Map = typename State::Map;
  const auto& old_entries = before.map().entries();
  const auto& new_entries = after.map().entries();
  std::vector<typename Map::Entry> changed;
  size_t i = 0, j = 0;
  while (i < old_entries.size() || j < new_entries.size()) {
    if (j == new_entries.size() ||
        (i < old_entries.size() && old_entries[i].name < new_entries[j].name)) {
      delta->removed.push_back(old_entries[i].name);
      ++i;
    } else if (i == old_entries.size() || new_entries[j].name < old_entries[i].name) {
      changed.push_back(new_entries[j]);
      ++j;
    } else {
      if (!(old_entries[i].atoms == new_entries[j].atoms)) changed.push_back(new_entries[j]);
      ++i;
      ++j;
    }
  }
  // The new state's clock covers every atom of its entries (O3).
  auto map = Map::FromParts(after.map().clock(), std::move(changed));
  StateOf<State>(delta->changed) = State(std::move(map).value());
}

// A delta this small against its base is applied in place (InPlace):
// O(names x log entries) instead of a walk over every entry.
constexpr size_t kInPlaceNames = 16;

// Apply's path for a small delta on a state given up whose clock the new
// clock descends: every kept atom is then covered (the old clock covered
// it, O3), so only the names the delta touches are looked at. Returns the
// new map, or nullopt (nothing taken) if a removed name is absent.
template <typename State>
std::optional<typename State::Map> InPlace(State& given, const ContainerDelta& delta) {
  using Map = typename State::Map;
  using Entry = typename Map::Entry;
  auto by_name = [](const Entry& e, const std::string& n) { return e.name < n; };
  const std::vector<Entry>& old_entries = given.map().entries();
  for (const std::string& name : delta.removed) {
    auto it = std::lower_bound(old_entries.begin(), old_entries.end(), name, by_name);
    if (it == old_entries.end() || it->name != name) return std::nullopt;
  }
  const Map& changed = StateOf<State>(delta.changed).map();
  std::vector<Entry> entries = given.TakeMap().TakeEntries();
  for (const std::string& name : delta.removed) {
    entries.erase(std::lower_bound(entries.begin(), entries.end(), name, by_name));
  }
  for (const Entry& e : changed.entries()) {
    auto it = std::lower_bound(entries.begin(), entries.end(), e.name, by_name);
    if (it != entries.end() && it->name == e.name) {
      it->atoms = e.atoms;
    } else {
      entries.insert(it, e);
    }
  }
  return Map::FromCheckedParts(changed.clock(), std::move(entries));
}

// Redoes the delta on `old`, the base's state at the delta's time, read in
// place. Every check is made before anything moves: the names removed are
// present, the new clock covers the atoms kept (OrMap's O3, which FromParts
// checks), the dot is not covered yet (PutWithDot). Only then are the
// entries taken: moved out of `*give` (the state `old` is, given up) or
// copied from `old` when `give` is nullptr. So a refusal leaves `old` as
// it was. `base` gives the context the new version supersedes.
template <typename State>
Result<Object> Apply(const State& old, State* give, const Object& base,
                     const ContainerDelta& delta) {
  auto stale = [](const char* why) { return Status(Code::kStale, why); };
  using Map = typename State::Map;
  using Entry = typename Map::Entry;
  const std::vector<Entry>& old_entries = old.map().entries();
  const Map& changed = StateOf<State>(delta.changed).map();
  // PutWithDot supersedes every sibling of `base`: only its context is
  // needed, not a copy of its (big) versions. The state goes in last.
  auto context_only = Object::Set::FromParts(base.Context(), {});
  if (!context_only.ok()) return context_only.status();
  Object obj(std::move(context_only).value());
  Version v;
  v.kind = delta.kind;
  v.timestamp_ms = delta.timestamp_ms;
  v.expire_at_ms = delta.expire_at_ms;
  if (!obj.PutWithDot(std::move(v), delta.dot).ok()) {
    return stale("the write's dot is already covered");
  }
  if (give != nullptr && delta.removed.size() + changed.size() <= kInPlaceNames &&
      changed.clock().Descends(old.map().clock())) {
    std::optional<Map> map = InPlace(*give, delta);
    if (!map) return stale("a removed name is absent");
    StateOf<State>(*obj.OnlyValue()) = State(std::move(map).value());
    return obj;
  }
  const std::vector<Entry>& new_entries = changed.entries();
  const std::vector<std::string>& removed = delta.removed;
  // Where each name of the result comes from: an old entry (>= 0) or a
  // changed one (-1 - index), in name order.
  std::vector<ptrdiff_t> from;
  from.reserve(old_entries.size() + new_entries.size());
  size_t i = 0, j = 0, k = 0;
  while (i < old_entries.size() || j < new_entries.size() || k < removed.size()) {
    // The smallest name still to place.
    const std::string* name = nullptr;
    if (i < old_entries.size()) name = &old_entries[i].name;
    if (j < new_entries.size() && (name == nullptr || new_entries[j].name < *name)) {
      name = &new_entries[j].name;
    }
    if (k < removed.size() && (name == nullptr || removed[k] < *name)) name = &removed[k];
    const bool in_old = i < old_entries.size() && old_entries[i].name == *name;
    const bool in_new = j < new_entries.size() && new_entries[j].name == *name;
    const bool in_removed = k < removed.size() && removed[k] == *name;
    if (in_removed) {
      if (!in_old) return stale("a removed name is absent");
      ++i;
      ++k;
      continue;  // (never also in_new: DecodeDelta checks)
    }
    if (in_new) {
      from.push_back(-1 - static_cast<ptrdiff_t>(j));
      ++j;
      if (in_old) ++i;
      continue;
    }
    for (const auto& atom : old_entries[i].atoms) {
      if (atom.dot.counter == 0 || !changed.clock().Covers(atom.dot)) {
        return stale("the new clock does not cover the base's atoms");
      }
    }
    from.push_back(static_cast<ptrdiff_t>(i));
    ++i;
  }
  // Nothing can be refused from here on.
  std::vector<Entry> taken;
  if (give != nullptr) taken = give->TakeMap().TakeEntries();
  std::vector<Entry> out;
  out.reserve(from.size());
  for (ptrdiff_t f : from) {
    if (f < 0) {
      out.push_back(new_entries[static_cast<size_t>(-1 - f)]);
    } else if (give != nullptr) {
      out.push_back(std::move(taken[static_cast<size_t>(f)]));
    } else {
      out.push_back(old_entries[static_cast<size_t>(f)]);
    }
  }
  // The checks above are FromParts's: O1 and O2 hold for merged sorted
  // lists of valid entries, O3 was checked for the entries kept.
  auto map = Map::FromParts(changed.clock(), std::move(out));
  if (!map.ok()) return stale("the new clock does not cover the base's atoms");
  StateOf<State>(*obj.OnlyValue()) = State(std::move(map).value());
  return obj;
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) {
    *v |= static_cast<uint64_t>(static_cast<unsigned char>((*in)[i])) << (8 * i);
  }
  in->remove_prefix(8);
  return true;
}

}  // namespace

uint64_t BaseDigest(const Object& object, const ActorTable& actors) {
  // Every write and every quorum read of a container computes one: the
  // scratch space is the loop thread's, reused (no allocation).
  thread_local std::string bytes;
  thread_local std::vector<const VersionVector::Entry*> clock_order;
  thread_local std::vector<const Object::Sibling*> order;
  bytes.clear();
  AppendClock(object.Context(), actors, &bytes, clock_order);
  order.clear();
  for (const auto& s : object.siblings()) order.push_back(&s);
  std::sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    if (a->dot.actor != b->dot.actor) return actors.NameLess(a->dot.actor, b->dot.actor);
    return a->dot.counter < b->dot.counter;
  });
  PutVarint64(&bytes, order.size());
  for (const auto* s : order) {
    actors.AppendBinary(s->dot.actor, &bytes);
    PutVarint64(&bytes, s->dot.counter);
    const Version& v = s->value;
    bytes.push_back(static_cast<char>(v.kind));
    PutVarint64(&bytes, static_cast<uint64_t>(v.timestamp_ms));
    PutVarint64(&bytes, static_cast<uint64_t>(v.expire_at_ms));
    if (v.IsContainer()) {
      AppendClock(ClockOf(v), actors, &bytes, clock_order);
      PutVarint64(&bytes, SizeOf(v));
    }
  }
  return XXH3_64bits(bytes.data(), bytes.size());
}

namespace {

// A delta with everything but the changed entries and removed names.
ContainerDelta DeltaHeader(uint64_t base_digest, const Version& after, const Dot& dot) {
  ContainerDelta delta;
  delta.kind = after.kind;
  delta.dot = dot;
  delta.timestamp_ms = after.timestamp_ms;
  delta.expire_at_ms = after.expire_at_ms;
  delta.base_digest = base_digest;
  delta.changed.kind = after.kind;
  return delta;
}

}  // namespace

ContainerDelta DeltaFrom(uint64_t base_digest, const Version& before, const Version& after,
                         const Dot& dot) {
  ContainerDelta delta = DeltaHeader(base_digest, after, dot);
  WithStateType(after.kind, [&](auto tag) {
    using State = decltype(tag);
    Diff<State>(StateOf<State>(before), StateOf<State>(after), &delta);
  });
  return delta;
}

Result<ContainerDelta> DeltaOf(const Object& base, const Object& after, const ActorTable& actors) {
  if (after.Size() != 1 || !after.siblings()[0].value.IsContainer()) {
    return Status::Invalid("not the object of one container write");
  }
  const Object::Sibling& s = after.siblings()[0];
  Version before;
  before.kind = s.value.kind;
  Status st = WithStateType(s.value.kind, [&](auto tag) -> Status {
    using State = decltype(tag);
    auto view = ViewOf<State>(base, s.value.timestamp_ms, actors);
    if (!view.ok()) return view.status();
    StateOf<State>(before) = std::move(view.value().state);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return DeltaFrom(BaseDigest(base, actors), before, s.value, s.dot);
}

namespace {

// The encoding up to the removed names (see the header's "Encoding").
void AppendDeltaHead(VersionKind kind, const Dot& dot, int64_t timestamp_ms, int64_t expire_at_ms,
                     uint64_t base_digest, size_t removed, const ActorTable& actors,
                     std::string* out) {
  out->push_back(static_cast<char>(kDeltaFormat));
  out->push_back(static_cast<char>(kind));
  actors.AppendBinary(dot.actor, out);
  PutVarint64(out, dot.counter);
  PutVarint64(out, static_cast<uint64_t>(timestamp_ms));
  PutVarint64(out, static_cast<uint64_t>(expire_at_ms));
  PutFixed64(out, base_digest);
  PutVarint64(out, removed);
}

void AppendName(std::string_view name, std::string* out) {
  PutVarint64(out, name.size());
  out->append(name);
}

}  // namespace

void EncodeDelta(const ContainerDelta& delta, const ActorTable& actors, std::string* out) {
  AppendDeltaHead(delta.kind, delta.dot, delta.timestamp_ms, delta.expire_at_ms, delta.base_digest,
                  delta.removed.size(), actors, out);
  for (const std::string& name : delta.removed) AppendName(name, out);
  EncodeContainer(delta.changed, &actors, out);
}

void EncodeDeltaFromJournal(uint64_t base_digest, const Version& after, const Dot& dot,
                            const OrMapJournal& journal, const ActorTable& actors,
                            std::string* out) {
  // Every write makes one: the scratch space is the loop thread's, reused.
  thread_local std::vector<const OrMapJournal::Touch*> order;
  thread_local std::vector<size_t> changed;  // indexes of kept names' entries
  thread_local std::vector<std::string_view> removed;
  order.clear();
  changed.clear();
  removed.clear();
  // By name; among one name's touches the first tells what the base held
  // (the touches are in one vector: their addresses are their order).
  for (const auto& t : journal.touched) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    if (a->name != b->name) return a->name < b->name;
    return a < b;
  });
  WithStateType(after.kind, [&](auto tag) {
    using State = decltype(tag);
    const auto& entries = StateOf<State>(after).map().entries();
    for (size_t i = 0; i < order.size();) {
      const OrMapJournal::Touch& first = *order[i];
      while (i < order.size() && order[i]->name == first.name) ++i;
      if (const auto* e = StateOf<State>(after).map().Find(first.name)) {
        changed.push_back(static_cast<size_t>(e - entries.data()));
      } else if (first.present_before) {
        removed.push_back(first.name);
      }
    }
  });
  // Room for the head and a small entry: one allocation for most deltas.
  out->reserve(out->size() + 256);
  AppendDeltaHead(after.kind, dot, after.timestamp_ms, after.expire_at_ms, base_digest,
                  removed.size(), actors, out);
  for (std::string_view name : removed) AppendName(name, out);
  EncodeContainerEntries(after, changed, &actors, out);
  // A write that touched a whole big container (DEL, SPOP of many) does not
  // leave its scratch space held by the thread.
  constexpr size_t kKeptScratch = 1024;
  if (order.capacity() > kKeptScratch) {
    order = {};
    changed = {};
    removed = {};
  }
}

Result<ContainerDelta> DecodeDelta(std::string_view in, ActorTable& actors) {
  auto bad = [](const char* why) { return Status::Corruption(std::string("bad delta: ") + why); };
  ContainerDelta delta;
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kDeltaFormat) return bad("format");
  delta.kind = static_cast<VersionKind>(static_cast<uint8_t>(in[1]));
  if (!IsContainerKind(delta.kind)) return bad("kind");
  in.remove_prefix(2);
  if (in.size() < kNodeIdBinaryLength) return bad("dot");
  auto actor = actors.InternBinary(in.substr(0, kNodeIdBinaryLength));
  if (!actor.ok()) return bad("dot's node id");
  if (actor.value() == kCounterBaseActor) return bad("dot's node id");
  in.remove_prefix(kNodeIdBinaryLength);
  delta.dot.actor = actor.value();
  uint64_t ts = 0, expire = 0;
  if (!GetVarint64(&in, &delta.dot.counter) || delta.dot.counter == 0 ||
      delta.dot.counter > kMaxCounter) {
    return bad("dot's counter");
  }
  if (!GetVarint64(&in, &ts) || !GetVarint64(&in, &expire)) return bad("timestamps");
  delta.timestamp_ms = static_cast<int64_t>(ts);
  delta.expire_at_ms = static_cast<int64_t>(expire);
  if (!GetFixed64(&in, &delta.base_digest)) return bad("digest");
  uint64_t n = 0;
  // Each removed name costs at least one byte: a count above the bytes left
  // is a lie, not an allocation to make.
  if (!GetVarint64(&in, &n) || n > in.size()) return bad("removed count");
  delta.removed.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (!GetVarint64(&in, &len) || len > in.size()) return bad("removed name");
    std::string name(in.substr(0, static_cast<size_t>(len)));
    in.remove_prefix(static_cast<size_t>(len));
    if (!delta.removed.empty() && !(delta.removed.back() < name)) return bad("removed order");
    delta.removed.push_back(std::move(name));
  }
  Status st = DecodeContainer(in, nullptr, &actors, &delta.changed);
  if (!st.ok()) return bad("changed entries");
  if (delta.changed.kind != delta.kind) return bad("changed entries' kind");
  // No name both changed and removed.
  bool overlap = false;
  WithStateType(delta.kind, [&](auto tag) {
    using State = decltype(tag);
    const auto& entries = StateOf<State>(delta.changed).map().entries();
    size_t i = 0, j = 0;
    while (i < entries.size() && j < delta.removed.size()) {
      if (entries[i].name < delta.removed[j]) {
        ++i;
      } else if (delta.removed[j] < entries[i].name) {
        ++j;
      } else {
        overlap = true;
        return;
      }
    }
  });
  if (overlap) return bad("a name both changed and removed");
  return delta;
}

namespace {

// ApplyDelta's checks, then Apply on `base`'s state at the delta's time:
// read in place and moved out after the checks when `given` (the base, given
// up) is one unexpired version of the delta's type, else a copy (ViewOf).
Result<Object> ApplyOn(const Object& base, Object* given, const ContainerDelta& delta,
                       const ActorTable& actors) {
  if (BaseDigest(base, actors) != delta.base_digest) {
    return Status(Code::kStale, "the base differs");
  }
  return WithStateType(delta.kind, [&](auto tag) -> Result<Object> {
    using State = decltype(tag);
    if (Version* only =
            given != nullptr ? MovableVersionOf<State>(*given, delta.timestamp_ms) : nullptr) {
      State& state = StateOf<State>(*only);
      return Apply<State>(state, &state, base, delta);
    }
    auto view = ViewOf<State>(base, delta.timestamp_ms, actors);
    if (!view.ok()) return Status(Code::kStale, "the key holds another type");
    return Apply<State>(view.value().state, &view.value().state, base, delta);
  });
}

}  // namespace

Result<Object> ApplyDelta(const Object& base, const ContainerDelta& delta,
                          const ActorTable& actors) {
  return ApplyOn(base, nullptr, delta, actors);
}

Result<Object> ApplyDelta(Object&& base, const ContainerDelta& delta, const ActorTable& actors) {
  return ApplyOn(base, &base, delta, actors);
}

}  // namespace shoal::storage
