#include "server/commands/zrange_spec.h"

#include <cmath>
#include <cstdlib>

#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::server {
namespace {

using storage::ScoredMember;
using storage::Status;

// One end of zslParseRange: strtod over the C string, which must end where
// strtod stopped (a NUL byte inside the argument ends it, as in Redis).
bool ParseScoreBound(const std::string& text, double* value, bool* exclusive) {
  const char* s = text.c_str();
  *exclusive = s[0] == '(';
  if (*exclusive) ++s;
  char* end = nullptr;
  *value = std::strtod(s, &end);
  return end[0] == '\0' && !std::isnan(*value);
}

// zslParseLexRangeItem.
bool ParseLexBound(std::string_view s, LexBound* out) {
  if (s.empty()) return false;
  // "+" and "-" must stand alone (Redis checks the next C character, so a
  // NUL byte after them ends the text too).
  const bool alone = s.size() == 1 || s[1] == '\0';
  switch (s[0]) {
    case '+':
      if (!alone) return false;
      *out = {LexBound::Kind::kPlusInf, {}, true};
      return true;
    case '-':
      if (!alone) return false;
      *out = {LexBound::Kind::kMinusInf, {}, true};
      return true;
    case '(':
      *out = {LexBound::Kind::kValue, std::string(s.substr(1)), true};
      return true;
    case '[':
      *out = {LexBound::Kind::kValue, std::string(s.substr(1)), false};
      return true;
    default:
      return false;
  }
}

// sdscmplex: -1/0/1 comparing a member (or bound) `a` with bound `b`, the
// infinite bounds below and above every string. Two equal infinite bounds
// compare equal.
int CompareLex(const LexBound& a, const LexBound& b) {
  if (a.kind == b.kind && a.kind != LexBound::Kind::kValue) return 0;
  if (a.kind == LexBound::Kind::kMinusInf || b.kind == LexBound::Kind::kPlusInf) return -1;
  if (a.kind == LexBound::Kind::kPlusInf || b.kind == LexBound::Kind::kMinusInf) return 1;
  const int c = std::string_view(a.value).compare(b.value);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int CompareMember(std::string_view member, const LexBound& b) {
  if (b.kind == LexBound::Kind::kPlusInf) return -1;
  if (b.kind == LexBound::Kind::kMinusInf) return 1;
  const int c = member.compare(b.value);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// The walk of genericZrangebyscoreCommand / genericZrangebylexCommand over
// the listpack encoding: find the first member in range from the chosen
// end, skip `offset` members unchecked, then take members while they stay
// on the range's far side, at most `limit` (negative: no limit).
template <typename GteMin, typename LteMax>
std::vector<size_t> WalkRange(std::span<const ScoredMember> ranked, bool always_empty, bool reverse,
                              int64_t offset, int64_t limit, GteMin gte_min, LteMax lte_max) {
  std::vector<size_t> out;
  const size_t n = ranked.size();
  if (n == 0 || always_empty) return out;
  // zzlIsInRange: the last member reaches min and the first reaches max.
  if (!gte_min(ranked[n - 1]) || !lte_max(ranked[0])) return out;
  // A negative offset walks off the end in Redis (`while (offset--)`).
  if (offset < 0 || static_cast<uint64_t>(offset) >= n) return out;
  size_t pos = 0;
  if (!reverse) {
    while (pos < n && !gte_min(ranked[pos])) ++pos;
    if (pos == n || !lte_max(ranked[pos])) return out;
    pos += static_cast<size_t>(offset);
    for (; pos < n && limit != 0; ++pos, --limit) {
      if (!lte_max(ranked[pos])) break;
      out.push_back(pos);
    }
  } else {
    size_t i = n;  // one past the candidate
    while (i > 0 && !lte_max(ranked[i - 1])) --i;
    if (i == 0 || !gte_min(ranked[i - 1])) return out;
    if (static_cast<size_t>(offset) >= i) return out;
    i -= static_cast<size_t>(offset);
    for (; i > 0 && limit != 0; --i, --limit) {
      if (!gte_min(ranked[i - 1])) break;
      out.push_back(i - 1);
    }
  }
  return out;
}

}  // namespace

bool LexRange::GteMin(std::string_view v) const {
  const int c = CompareMember(v, min);
  return min.exclusive ? c > 0 : c >= 0;
}

bool LexRange::LteMax(std::string_view v) const {
  const int c = CompareMember(v, max);
  return max.exclusive ? c < 0 : c <= 0;
}

bool LexRange::AlwaysEmpty() const {
  const int c = CompareLex(min, max);
  return c > 0 || (c == 0 && (min.exclusive || max.exclusive));
}

std::optional<ScoreRange> ParseScoreRange(const std::string& min, const std::string& max) {
  ScoreRange r;
  if (!ParseScoreBound(min, &r.min, &r.minex) || !ParseScoreBound(max, &r.max, &r.maxex)) {
    return std::nullopt;
  }
  return r;
}

std::optional<LexRange> ParseLexRange(std::string_view min, std::string_view max) {
  LexRange r;
  if (!ParseLexBound(min, &r.min) || !ParseLexBound(max, &r.max)) return std::nullopt;
  return r;
}

storage::Result<ZrangeSpec> ParseZrange(std::span<const std::string> args, size_t key_index,
                                        bool store, ZrangeBy by, ZrangeDirection direction) {
  ZrangeSpec spec;
  for (size_t j = key_index + 3; j < args.size(); ++j) {
    const size_t left = args.size() - j - 1;
    const std::string& a = args[j];
    if (!store && facade::EqualsIgnoreCase(a, "withscores")) {
      spec.withscores = true;
    } else if (facade::EqualsIgnoreCase(a, "limit") && left >= 2) {
      if (!facade::ParseInt64(args[j + 1], &spec.offset) ||
          !facade::ParseInt64(args[j + 2], &spec.limit)) {
        return Status::Invalid(std::string(facade::errors::kNotInteger));
      }
      j += 2;
    } else if (direction == ZrangeDirection::kAuto && facade::EqualsIgnoreCase(a, "rev")) {
      direction = ZrangeDirection::kReverse;
    } else if (by == ZrangeBy::kAuto && facade::EqualsIgnoreCase(a, "bylex")) {
      by = ZrangeBy::kLex;
    } else if (by == ZrangeBy::kAuto && facade::EqualsIgnoreCase(a, "byscore")) {
      by = ZrangeBy::kScore;
    } else {
      return Status::Invalid(std::string(facade::errors::kSyntax));
    }
  }
  if (by == ZrangeBy::kAuto) by = ZrangeBy::kRank;
  spec.by = by;
  spec.reverse = direction == ZrangeDirection::kReverse;
  // Redis tells LIMIT apart by opt_limit != -1: "LIMIT 0 -1" is no LIMIT.
  if (spec.limit != -1 && by == ZrangeBy::kRank) {
    return Status::Invalid(std::string(kZsetLimitNeedsBy));
  }
  if (spec.withscores && by == ZrangeBy::kLex) {
    return Status::Invalid(std::string(kZsetWithscoresBylex));
  }
  // Reversed score and lex ranges are given as max, min.
  const bool swap = spec.reverse && by != ZrangeBy::kRank;
  const std::string& lo = args[key_index + (swap ? 2 : 1)];
  const std::string& hi = args[key_index + (swap ? 1 : 2)];
  switch (by) {
    case ZrangeBy::kAuto:
    case ZrangeBy::kRank:
      if (!facade::ParseInt64(lo, &spec.start) || !facade::ParseInt64(hi, &spec.stop)) {
        return Status::Invalid(std::string(facade::errors::kNotInteger));
      }
      break;
    case ZrangeBy::kScore: {
      auto r = ParseScoreRange(lo, hi);
      if (!r) return Status::Invalid(std::string(kZsetMinMaxNotFloat));
      spec.score = *r;
      break;
    }
    case ZrangeBy::kLex: {
      auto r = ParseLexRange(lo, hi);
      if (!r) return Status::Invalid(std::string(kZsetLexRangeInvalid));
      spec.lex = std::move(*r);
      break;
    }
  }
  return spec;
}

std::optional<RankSpan> NormalizeRankRange(int64_t start, int64_t stop, size_t size) {
  const int64_t len = static_cast<int64_t>(size);
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return std::nullopt;
  if (stop >= len) stop = len - 1;
  return RankSpan{static_cast<size_t>(start), static_cast<size_t>(stop)};
}

std::vector<size_t> SelectZrange(const ZrangeSpec& spec, std::span<const ScoredMember> ranked) {
  std::vector<size_t> out;
  switch (spec.by) {
    case ZrangeBy::kAuto:
    case ZrangeBy::kRank: {
      auto span = NormalizeRankRange(spec.start, spec.stop, ranked.size());
      if (!span) return out;
      out.reserve(span->last - span->first + 1);
      for (size_t i = span->first; i <= span->last; ++i) {
        out.push_back(spec.reverse ? ranked.size() - 1 - i : i);
      }
      return out;
    }
    case ZrangeBy::kScore:
      return WalkRange(
          ranked, spec.score.AlwaysEmpty(), spec.reverse, spec.offset, spec.limit,
          [&](const ScoredMember& m) { return spec.score.GteMin(m.score); },
          [&](const ScoredMember& m) { return spec.score.LteMax(m.score); });
    case ZrangeBy::kLex:
      return WalkRange(
          ranked, spec.lex.AlwaysEmpty(), spec.reverse, spec.offset, spec.limit,
          [&](const ScoredMember& m) { return spec.lex.GteMin(m.member); },
          [&](const ScoredMember& m) { return spec.lex.LteMax(m.member); });
  }
  return out;
}

size_t CountInScoreRange(const ScoreRange& range, std::span<const ScoredMember> ranked) {
  ZrangeSpec spec;
  spec.by = ZrangeBy::kScore;
  spec.score = range;
  return SelectZrange(spec, ranked).size();
}

size_t CountInLexRange(const LexRange& range, std::span<const ScoredMember> ranked) {
  ZrangeSpec spec;
  spec.by = ZrangeBy::kLex;
  spec.lex = range;
  return SelectZrange(spec, ranked).size();
}

}  // namespace shoal::server
