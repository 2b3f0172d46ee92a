#include "storage/or_hash.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "storage/redis_number.h"

namespace shoal::storage {
namespace {

bool IsCounter(const HashAtom& a) {
  return a.kind != HashAtomKind::kValue;
}

// The winning register of a field (nullptr if it has none).
const HashAtom* Winner(const std::vector<HashAtom>& atoms, const ActorTable& actors) {
  const HashAtom* w = nullptr;
  for (const HashAtom& a : atoms) {
    if (a.kind == HashAtomKind::kValue && (w == nullptr || RegisterOlder(*w, a, actors))) w = &a;
  }
  return w;
}

long double AsLongDouble(const HashAtom& a) {
  if (a.kind == HashAtomKind::kInt) return static_cast<long double>(a.integer);
  // Decoders and writers only store totals that parse.
  return ParseRedisLongDouble(a.text).value_or(0);
}

std::string Int128ToString(__int128 v) {
  const bool negative = v < 0;
  unsigned __int128 mag =
      negative ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(mag % 10)));
    mag /= 10;
  } while (mag != 0);
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

Status NotInteger() {
  return Status(Code::kNotInteger, "ERR hash value is not an integer");
}
Status NotFloat() {
  return Status(Code::kNotFloat, "ERR hash value is not a float");
}
Status Overflow() {
  return Status(Code::kOverflow, "ERR increment or decrement would overflow");
}
Status NanOrInf() {
  return Status(Code::kInvalid, "ERR increment would produce NaN or Infinity");
}

}  // namespace

bool OrHash::Set(std::string_view field, std::string value, const Dot& dot, int64_t timestamp_ms) {
  HashAtom atom;
  atom.dot = dot;
  atom.kind = HashAtomKind::kValue;
  atom.timestamp_ms = timestamp_ms;
  atom.text = std::move(value);
  return map_.Put(field, std::move(atom), [](const HashAtom&) { return true; });
}

std::string OrHash::Value(const Map::Entry& entry, const ActorTable& actors) {
  const HashAtom* w = Winner(entry.atoms, actors);
  size_t counters = 0;
  bool all_int = true;
  const HashAtom* only = nullptr;
  for (const HashAtom& a : entry.atoms) {
    if (!IsCounter(a)) continue;
    ++counters;
    only = &a;
    if (a.kind != HashAtomKind::kInt) all_int = false;
  }
  if (counters == 0) return w->text;  // an entry has atoms: here all registers
  const std::optional<int64_t> base_int = w ? ParseStrictInt64(w->text) : 0;
  if (all_int && base_int) {
    __int128 sum = *base_int;
    for (const HashAtom& a : entry.atoms) {
      if (IsCounter(a)) sum += a.integer;
    }
    return Int128ToString(sum);
  }
  const std::optional<long double> base = w ? ParseRedisLongDouble(w->text) : 0.0L;
  if (!base) return w->text;  // not a number: the register hides the counters
  if (counters == 1 && only->kind == HashAtomKind::kFloat && only->base == (w ? w->dot : Dot{})) {
    return only->after;  // one writer on top of the register: Redis's own result
  }
  std::vector<long double> terms;
  terms.reserve(counters + 1);
  if (w) terms.push_back(*base);
  for (const HashAtom& a : entry.atoms) {
    if (IsCounter(a)) terms.push_back(AsLongDouble(a));
  }
  std::sort(terms.begin(), terms.end());
  long double sum = 0;
  for (long double t : terms) sum += t;
  return FormatLongDoubleHuman(sum);
}

std::optional<std::string> OrHash::Get(std::string_view field, const ActorTable& actors) const {
  const Map::Entry* e = map_.Find(field);
  if (e == nullptr) return std::nullopt;
  return Value(*e, actors);
}

void OrHash::PutCounter(std::string_view field, HashAtom atom, const ActorTable& actors) {
  Dot keep;
  if (const Map::Entry* e = map_.Find(field)) {
    if (const HashAtom* w = Winner(e->atoms, actors)) keep = w->dot;
  }
  const ActorId self = atom.dot.actor;
  map_.Put(field, std::move(atom), [&](const HashAtom& a) {
    return a.kind == HashAtomKind::kValue ? a.dot != keep : a.dot.actor == self;
  });
}

Result<int64_t> OrHash::IncrBy(std::string_view field, int64_t delta, const Dot& dot,
                               const ActorTable& actors) {
  const Map::Entry* e = map_.Find(field);
  int64_t current = 0;
  Dot base;
  __int128 own_int = 0;
  long double own = 0;
  bool own_float = false;
  if (e != nullptr) {
    std::optional<int64_t> v = ParseStrictInt64(Value(*e, actors));
    if (!v) return NotInteger();
    current = *v;
    if (const HashAtom* w = Winner(e->atoms, actors)) base = w->dot;
    for (const HashAtom& a : e->atoms) {
      if (!IsCounter(a) || a.dot.actor != dot.actor) continue;
      own += AsLongDouble(a);
      if (a.kind == HashAtomKind::kInt) {
        own_int += a.integer;
      } else {
        own_float = true;
      }
    }
  }
  int64_t next = 0;
  if (__builtin_add_overflow(current, delta, &next)) return Overflow();
  HashAtom atom;
  atom.dot = dot;
  if (!own_float) {
    const __int128 total = own_int + delta;
    if (total < std::numeric_limits<int64_t>::min() ||
        total > std::numeric_limits<int64_t>::max()) {
      return Overflow();
    }
    atom.kind = HashAtomKind::kInt;
    atom.integer = static_cast<int64_t>(total);
  } else {
    atom.kind = HashAtomKind::kFloat;
    atom.text = FormatLongDoubleHuman(own + static_cast<long double>(delta));
    atom.after = std::to_string(next);
    atom.base = base;
  }
  PutCounter(field, std::move(atom), actors);
  return next;
}

Result<std::string> OrHash::IncrByFloat(std::string_view field, long double delta, const Dot& dot,
                                        const ActorTable& actors) {
  const Map::Entry* e = map_.Find(field);
  long double current = 0;
  long double own = 0;
  Dot base;
  if (e != nullptr) {
    std::optional<long double> v = ParseRedisLongDouble(Value(*e, actors));
    if (!v) return NotFloat();
    current = *v;
    if (const HashAtom* w = Winner(e->atoms, actors)) base = w->dot;
    for (const HashAtom& a : e->atoms) {
      if (IsCounter(a) && a.dot.actor == dot.actor) own += AsLongDouble(a);
    }
  }
  const long double next = current + delta;
  const long double total = own + delta;
  if (!std::isfinite(next) || !std::isfinite(total)) return NanOrInf();
  HashAtom atom;
  atom.dot = dot;
  atom.kind = HashAtomKind::kFloat;
  atom.text = FormatLongDoubleHuman(total);
  atom.after = FormatLongDoubleHuman(next);
  atom.base = base;
  PutCounter(field, std::move(atom), actors);
  return Value(*map_.Find(field), actors);
}

}  // namespace shoal::storage
