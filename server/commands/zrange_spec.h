#pragma once
// ZrangeSpec: what a sorted-set range command asks for, and which members it
// selects — Redis's t_zset.c rules (7.0) as pure functions, shared by ZRANGE,
// ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZCOUNT,
// ZLEXCOUNT and ZREMRANGEBY*.
//
//   ranges   by rank (start/stop, negative from the end), by score
//            (min/max with '(' for exclusive, "-inf"/"+inf"), by member
//            ('[' inclusive, '(' exclusive, '-' and '+' the ends);
//   options  BYSCORE, BYLEX, REV, LIMIT offset count, WITHSCORES, checked in
//            zrangeGenericCommand's order so that every error is the one
//            Redis gives first.
//
// Selection runs over the members in the order Redis's sorted set keeps
// them, (score, member bytes) ascending (storage::OrZset::Ranked). Lex
// ranges over members of different scores select exactly what Redis's
// listpack encoding (sets up to 128 members) selects: the first member in
// that order at or past `min`, then on while members are at or before `max`
// (Redis's skiplist walk gives the same answer when all scores are equal,
// the only case Redis defines).
//
// Pure logic, no allocation beyond the results.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/or_zset.h"
#include "storage/status.h"

namespace shoal::server {

// Redis's error words for ranges (t_zset.c).
inline constexpr std::string_view kZsetMinMaxNotFloat = "ERR min or max is not a float";
inline constexpr std::string_view kZsetLexRangeInvalid =
    "ERR min or max not valid string range item";
inline constexpr std::string_view kZsetLimitNeedsBy =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
inline constexpr std::string_view kZsetWithscoresBylex =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";

// A score interval (zrangespec).
struct ScoreRange {
  double min = 0;
  double max = 0;
  bool minex = false;  // '(' : min excluded
  bool maxex = false;

  bool GteMin(double v) const { return minex ? v > min : v >= min; }
  bool LteMax(double v) const { return maxex ? v < max : v <= max; }
  // True if no score can be inside (min > max, or min == max with an end
  // excluded).
  bool AlwaysEmpty() const { return min > max || (min == max && (minex || maxex)); }
};

// zslParseRange: "(1.5", "2", "-inf", "+inf"... as strtod reads them, the
// whole text (up to a NUL byte, as C strings end) and not NaN. Redis accepts
// leading spaces and an empty number here ("" and "(" are 0). nullopt:
// kZsetMinMaxNotFloat.
std::optional<ScoreRange> ParseScoreRange(const std::string& min, const std::string& max);

// One end of a lex range: '-' (below every member), '+' (above every
// member), or a member with '[' (inclusive) or '(' (exclusive).
struct LexBound {
  enum class Kind : uint8_t { kMinusInf, kPlusInf, kValue };
  Kind kind = Kind::kValue;
  std::string value;  // kValue only
  bool exclusive = false;
};

// A lex interval (zlexrangespec).
struct LexRange {
  LexBound min;
  LexBound max;

  bool GteMin(std::string_view v) const;
  bool LteMax(std::string_view v) const;
  bool AlwaysEmpty() const;
};

// zslParseLexRange. nullopt: kZsetLexRangeInvalid.
std::optional<LexRange> ParseLexRange(std::string_view min, std::string_view max);

enum class ZrangeBy : uint8_t { kAuto, kRank, kScore, kLex };
enum class ZrangeDirection : uint8_t { kAuto, kForward, kReverse };

// A parsed range command.
struct ZrangeSpec {
  ZrangeBy by = ZrangeBy::kRank;
  bool reverse = false;
  bool withscores = false;
  int64_t start = 0;  // kRank
  int64_t stop = 0;   // kRank
  int64_t offset = 0;
  int64_t limit = -1;  // -1 (or any negative): no limit
  ScoreRange score;    // kScore
  LexRange lex;        // kLex
};

// zrangeGenericCommand's parsing. args[key_index] is the source key, the two
// range ends follow, then the options. `store` (ZRANGESTORE) refuses
// WITHSCORES. `by` and `direction` are what the command fixes (ZRANGEBYSCORE:
// kScore and kForward; ZRANGE: kAuto for both, set by BYSCORE/BYLEX/REV).
// Errors are Redis's words (kInvalid status carrying them).
storage::Result<ZrangeSpec> ParseZrange(std::span<const std::string> args, size_t key_index,
                                        bool store, ZrangeBy by, ZrangeDirection direction);

// The positions in `ranked` (members in (score, member) order) that `spec`
// selects, in the order the reply lists them.
std::vector<size_t> SelectZrange(const ZrangeSpec& spec,
                                 std::span<const storage::ScoredMember> ranked);

// ZCOUNT and ZLEXCOUNT: how many members fall in the range.
size_t CountInScoreRange(const ScoreRange& range, std::span<const storage::ScoredMember> ranked);
size_t CountInLexRange(const LexRange& range, std::span<const storage::ScoredMember> ranked);

// Z[REV]RANGE's and ZREMRANGEBYRANK's index arithmetic: [first, last] within
// a set of `size` members, or nullopt when the range is empty.
struct RankSpan {
  size_t first = 0;
  size_t last = 0;
};
std::optional<RankSpan> NormalizeRankRange(int64_t start, int64_t stop, size_t size);

}  // namespace shoal::server
