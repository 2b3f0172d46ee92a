#include "storage/object.h"

#include <algorithm>
#include <charconv>
#include <tuple>

namespace shoal::storage {
namespace {

// Redis's string2ll (util.c): an optional '-', then digits with no leading
// zero (except "0" itself), nothing else, within int64. "-0", "+1", " 1",
// "01" and "" are not integers.
std::optional<int64_t> ParseStrictInt64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::string_view digits = s[0] == '-' ? s.substr(1) : s;
  if (digits.empty() || digits[0] < '0' || digits[0] > '9') return std::nullopt;
  if (digits[0] == '0' && (digits.size() > 1 || s[0] == '-')) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The order GET shows siblings in, and the LWW order: the same on every node.
bool OlderThan(const Object::Sibling& a, const Object::Sibling& b, const ActorTable& actors) {
  if (a.value.timestamp_ms != b.value.timestamp_ms) {
    return a.value.timestamp_ms < b.value.timestamp_ms;
  }
  if (a.dot.actor != b.dot.actor) return actors.NameLess(a.dot.actor, b.dot.actor);
  return a.dot.counter < b.dot.counter;
}

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

void Object::ResolveLww(const ActorTable& actors) {
  const auto& sibs = set_.siblings();
  if (sibs.size() <= 1) return;
  const Sibling* winner = &sibs[0];
  for (const Sibling& s : sibs) {
    if (OlderThan(*winner, s, actors)) winner = &s;
  }
  const Dot keep = winner->dot;
  const bool keep_counters = winner->value.kind == VersionKind::kCounter;
  set_.RemoveIf([&](const Sibling& s) {
    if (keep_counters && s.value.kind == VersionKind::kCounter) return false;
    return s.dot != keep;
  });
}

std::vector<std::string> Object::LiveValues(int64_t now_ms, const ActorTable& actors) const {
  std::vector<const Sibling*> live;
  PnCounter joined;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms)) continue;
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
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms)) continue;
    if (s.value.kind == VersionKind::kCounter) {
      counter = true;
    } else {
      ++n;
    }
  }
  return n + (counter ? 1 : 0);
}

int64_t Object::ExpireAtMs() const {
  int64_t latest = 0;
  for (const Sibling& s : set_.siblings()) {
    if (s.value.kind == VersionKind::kTombstone) continue;
    if (s.value.expire_at_ms == 0) return 0;
    latest = std::max(latest, s.value.expire_at_ms);
  }
  return latest;
}

Result<CounterBase> Object::CounterForUpdate(int64_t now_ms) const {
  size_t bytes = 0;
  size_t counters = 0;
  const Version* one_bytes = nullptr;
  CounterBase base;
  bool any_without_ttl = false;
  for (const Sibling& s : set_.siblings()) {
    if (!s.value.IsLive(now_ms)) continue;
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
    if (s.value.kind != VersionKind::kTombstone) return false;
  }
  return true;
}

bool Object::CompactExpired(int64_t now_ms) {
  bool changed = false;
  set_.ForEachValue([&](Version& v) {
    if (v.kind == VersionKind::kTombstone || v.IsLive(now_ms)) return;
    v.kind = VersionKind::kTombstone;
    std::string().swap(v.bytes);
    v.counter = PnCounter();
    changed = true;
  });
  return changed;
}

}  // namespace shoal::storage
