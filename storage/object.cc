#include "storage/object.h"

#include <algorithm>
#include <tuple>

#include "storage/redis_number.h"

namespace shoal::storage {
namespace {

// The order GET shows siblings in, and the LWW order: the same on every node.
bool OlderThan(const Object::Sibling& a, const Object::Sibling& b, const ActorTable& actors) {
  if (a.value.timestamp_ms != b.value.timestamp_ms) {
    return a.value.timestamp_ms < b.value.timestamp_ms;
  }
  if (a.dot.actor != b.dot.actor) return actors.NameLess(a.dot.actor, b.dot.actor);
  return a.dot.counter < b.dot.counter;
}

bool IsStringKind(VersionKind k) {
  return k == VersionKind::kBytes || k == VersionKind::kCounter;
}

Status WrongType() {
  return Status(Code::kWrongType, std::string(kWrongTypeMessage));
}

KeyType TypeOfKind(VersionKind k) {
  switch (k) {
    case VersionKind::kHash:
      return KeyType::kHash;
    case VersionKind::kSet:
      return KeyType::kSet;
    case VersionKind::kZset:
      return KeyType::kZset;
    case VersionKind::kTombstone:
      return KeyType::kNone;
    default:
      return KeyType::kString;
  }
}

// The join of the unexpired versions of one container kind, and their TTL.
template <typename State>
ContainerView<State> JoinContainers(const std::vector<Object::Sibling>& sibs, VersionKind kind,
                                    int64_t now_ms) {
  ContainerView<State> view;
  bool first = true;
  bool any_without_ttl = false;
  for (const Object::Sibling& s : sibs) {
    if (s.value.kind != kind || !s.value.IsUnexpired(now_ms)) continue;
    const State& st = StateOf<State>(s.value);
    if (first) {
      view.state = st;
      first = false;
    } else {
      view.state.Join(st);
    }
    if (!s.value.IsDead()) {
      if (s.value.expire_at_ms == 0) any_without_ttl = true;
      view.expire_at_ms = std::max(view.expire_at_ms, s.value.expire_at_ms);
    }
  }
  if (any_without_ttl) view.expire_at_ms = 0;
  view.exists = !view.state.empty();
  if (!view.exists) view.expire_at_ms = 0;
  return view;
}

// True if the join of the unexpired versions of container `kind` is not
// empty. The common case (one version, or none live) needs no join.
bool ContainerLive(const std::vector<Object::Sibling>& sibs, VersionKind kind, int64_t now_ms) {
  size_t unexpired = 0;
  bool any_live = false;
  for (const Object::Sibling& s : sibs) {
    if (s.value.kind != kind || !s.value.IsUnexpired(now_ms)) continue;
    ++unexpired;
    any_live = any_live || !s.value.IsDead();
  }
  if (!any_live) return false;
  if (unexpired == 1) return true;
  switch (kind) {
    case VersionKind::kHash:
      return JoinContainers<OrHash>(sibs, kind, now_ms).exists;
    case VersionKind::kSet:
      return JoinContainers<OrSet>(sibs, kind, now_ms).exists;
    default:
      return JoinContainers<OrZset>(sibs, kind, now_ms).exists;
  }
}

constexpr VersionKind kContainerKinds[] = {VersionKind::kHash, VersionKind::kSet,
                                           VersionKind::kZset};

}  // namespace

std::string ConflictMessage(size_t siblings) {
  return "CONFLICT " + std::to_string(siblings) +
         " siblings: resolve them with GETV and a SETV carrying its context";
}

Version Version::Bytes(std::string value, int64_t timestamp_ms, int64_t expire_at_ms) {
  Version v;
  v.kind = VersionKind::kBytes;
  v.bytes = std::move(value);
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  return v;
}

Version Version::Counter(PnCounter counter, int64_t timestamp_ms, int64_t expire_at_ms) {
  Version v;
  v.kind = VersionKind::kCounter;
  v.counter = std::move(counter);
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  return v;
}

Version Version::Tombstone(int64_t timestamp_ms) {
  Version v;
  v.kind = VersionKind::kTombstone;
  v.timestamp_ms = timestamp_ms;
  return v;
}

Version Version::OfHash(OrHash state, int64_t timestamp_ms, int64_t expire_at_ms) {
  Version v;
  v.kind = VersionKind::kHash;
  v.hash = std::move(state);
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  return v;
}

Version Version::OfSet(OrSet state, int64_t timestamp_ms, int64_t expire_at_ms) {
  Version v;
  v.kind = VersionKind::kSet;
  v.set = std::move(state);
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  return v;
}

Version Version::OfZset(OrZset state, int64_t timestamp_ms, int64_t expire_at_ms) {
  Version v;
  v.kind = VersionKind::kZset;
  v.zset = std::move(state);
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  return v;
}

KeyType Object::TypeAt(int64_t now_ms, const ActorTable& actors) const {
  bool live_kind[6] = {};
  for (VersionKind k : kContainerKinds) {
    live_kind[static_cast<int>(k)] = ContainerLive(set_.siblings(), k, now_ms);
  }
  const Sibling* winner = nullptr;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms)) continue;
    if (s.value.IsContainer() && !live_kind[static_cast<int>(s.value.kind)]) continue;
    if (winner == nullptr || OlderThan(*winner, s, actors)) winner = &s;
  }
  return winner == nullptr ? KeyType::kNone : TypeOfKind(winner->value.kind);
}

namespace {

template <typename State>
Result<ContainerView<State>> ViewOf(const Object& obj, VersionKind kind, KeyType type,
                                    int64_t now_ms, const ActorTable& actors) {
  const KeyType t = obj.TypeAt(now_ms, actors);
  if (t != KeyType::kNone && t != type) return WrongType();
  return JoinContainers<State>(obj.siblings(), kind, now_ms);
}

}  // namespace

Result<ContainerView<OrHash>> Object::HashView(int64_t now_ms, const ActorTable& actors) const {
  return ViewOf<OrHash>(*this, VersionKind::kHash, KeyType::kHash, now_ms, actors);
}

Result<ContainerView<OrSet>> Object::SetView(int64_t now_ms, const ActorTable& actors) const {
  return ViewOf<OrSet>(*this, VersionKind::kSet, KeyType::kSet, now_ms, actors);
}

Result<ContainerView<OrZset>> Object::ZsetView(int64_t now_ms, const ActorTable& actors) const {
  return ViewOf<OrZset>(*this, VersionKind::kZset, KeyType::kZset, now_ms, actors);
}

void Object::ResolveLww(const ActorTable& actors) {
  const auto& sibs = set_.siblings();
  if (sibs.size() <= 1) return;
  const Sibling* winner = &sibs[0];
  for (const Sibling& s : sibs) {
    if (OlderThan(*winner, s, actors)) winner = &s;
  }
  const Dot keep = winner->dot;
  const VersionKind kind = winner->value.kind;
  // Counters and containers join on read: every version of the winner's
  // kind stays (empty containers too: they carry removes), so concurrent
  // increments and adds still count.
  const bool keep_kind = kind == VersionKind::kCounter || winner->value.IsContainer();
  set_.RemoveIf([&](const Sibling& s) {
    if (keep_kind && s.value.kind == kind) return false;
    return s.dot != keep;
  });
}

std::vector<std::string> Object::LiveValues(int64_t now_ms, const ActorTable& actors) const {
  std::vector<const Sibling*> live;
  PnCounter joined;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms) || !IsStringKind(s.value.kind)) continue;
    live.push_back(&s);
    if (s.value.kind == VersionKind::kCounter) joined.Merge(s.value.counter);
  }
  std::sort(live.begin(), live.end(),
            [&](const Sibling* a, const Sibling* b) { return OlderThan(*a, *b, actors); });
  std::vector<std::string> out;
  out.reserve(live.size());
  bool counter_shown = false;
  for (const Sibling* s : live) {
    if (s->value.kind == VersionKind::kBytes) {
      out.push_back(s->value.bytes);
    } else if (!counter_shown) {
      out.push_back(joined.ValueString());
      counter_shown = true;
    }
  }
  return out;
}

size_t Object::LiveCount(int64_t now_ms) const {
  size_t n = 0;
  bool counter = false;
  bool container = false;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms)) continue;
    if (s.value.kind == VersionKind::kCounter) {
      counter = true;
    } else if (s.value.IsContainer()) {
      container = true;
    } else {
      ++n;
    }
  }
  n += counter ? 1 : 0;
  if (container) {
    for (VersionKind k : kContainerKinds) n += ContainerLive(set_.siblings(), k, now_ms) ? 1 : 0;
  }
  return n;
}

int64_t Object::ExpireAtMs() const {
  int64_t latest = 0;
  for (const Sibling& s : set_.siblings()) {
    if (s.value.IsDead()) continue;
    if (s.value.expire_at_ms == 0) return 0;
    latest = std::max(latest, s.value.expire_at_ms);
  }
  return latest;
}

Result<CounterBase> Object::CounterForUpdate(int64_t now_ms, const ActorTable& actors) const {
  const KeyType type = TypeAt(now_ms, actors);
  if (type != KeyType::kNone && type != KeyType::kString) return WrongType();
  size_t bytes = 0;
  size_t counters = 0;
  const Version* one_bytes = nullptr;
  CounterBase base;
  bool any_without_ttl = false;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms) || s.value.IsContainer()) continue;
    if (s.value.kind == VersionKind::kBytes) {
      ++bytes;
      one_bytes = &s.value;
    } else {
      ++counters;
      base.counter.Merge(s.value.counter);
      if (s.value.expire_at_ms == 0) any_without_ttl = true;
      base.expire_at_ms = std::max(base.expire_at_ms, s.value.expire_at_ms);
    }
  }
  const size_t live = bytes + (counters > 0 ? 1 : 0);
  if (live > 1) {
    return Status(Code::kConflict, ConflictMessage(live));
  }
  if (bytes == 1) {
    std::optional<int64_t> v = ParseStrictInt64(one_bytes->bytes);
    if (!v) return Status(Code::kNotInteger, "ERR value is not an integer or out of range");
    return CounterBase{PnCounter::FromInt(*v), one_bytes->expire_at_ms};
  }
  if (any_without_ttl) base.expire_at_ms = 0;
  return base;
}

bool Object::IsPurgeable(int64_t now_ms, int64_t cutoff_ms) const {
  if (set_.empty()) return false;
  for (const Sibling& s : set_.siblings()) {
    if (s.value.IsLive(now_ms)) return false;
    // A delete has no expiry; the remains of an expired version keep theirs.
    const int64_t died = std::max(s.value.timestamp_ms, s.value.expire_at_ms);
    if (died >= cutoff_ms) return false;
  }
  return true;
}

bool Object::IsTombstonesOnly() const {
  if (set_.empty()) return false;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsDead()) return false;
  }
  return true;
}

bool Object::CompactExpired(int64_t now_ms) {
  bool changed = false;
  set_.ForEachValue([&](Version& v) {
    if (v.kind == VersionKind::kTombstone || v.IsUnexpired(now_ms)) return;
    v.kind = VersionKind::kTombstone;
    std::string().swap(v.bytes);
    v.counter = PnCounter();
    v.hash = OrHash();
    v.set = OrSet();
    v.zset = OrZset();
    changed = true;
  });
  return changed;
}

}  // namespace shoal::storage
