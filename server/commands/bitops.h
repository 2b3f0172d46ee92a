#pragma once
// The bit arithmetic behind SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP and
// BITFIELD (Redis's bitops.c), over a string's bytes. Bit 0 is the most
// significant bit of the first byte, as in Redis; bits past the end of the
// string read as 0. Pure functions: no keyspace, no replies. The command
// handlers (cmd_bits.cc) parse arguments, read and write the key, and map
// these results to Redis's replies.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shoal::server::bits {

// --- single bits ------------------------------------------------------------

// The bit at `offset` (0 past the end).
bool GetBit(std::string_view s, uint64_t offset);
// Sets the bit at `offset`, growing *s with zero bytes to reach it.
void SetBit(std::string* s, uint64_t offset, bool on);

// --- ranges (BITCOUNT, BITPOS) ------------------------------------------------

enum class Unit { kByte, kBit };

// An inclusive range of bit positions, lo <= hi.
struct BitRange {
  uint64_t lo = 0;
  uint64_t hi = 0;
};

// Redis's start/end rules for a string of `len` bytes: negative indexes
// count from the end (in `unit`s), both ends are clamped to the string, and
// a byte range covers its bytes' eight bits. nullopt if the range is empty
// (start > end after clamping, or an empty string).
std::optional<BitRange> ResolveRange(uint64_t len, int64_t start, int64_t end, Unit unit);

// Set bits of `s` within `range` (whole string: nullopt).
uint64_t BitCount(std::string_view s, std::optional<BitRange> range);

// BITPOS: the first position holding `bit` within `range`. `range` nullopt
// means the whole string. Not found: -1 when looking for 1; when looking
// for 0, -1 if the caller gave an explicit end (`end_given`), else the
// first position past the range, because the string reads as zero padded
// on the right (Redis's rule). An empty range is -1.
int64_t BitPos(std::string_view s, bool bit, std::optional<BitRange> range, bool end_given);

// --- BITOP --------------------------------------------------------------------

enum class BitOp { kAnd, kOr, kXor, kNot };

// The result of `op` over `sources` (NOT takes exactly one). Shorter
// sources read as zero padded to the longest; the result has the longest
// source's length (empty if every source is empty).
std::string Apply(BitOp op, std::span<const std::string_view> sources);

// --- BITFIELD -----------------------------------------------------------------

// A field type: iN (signed, 1..64 bits) or uN (unsigned, 1..63 bits).
struct FieldType {
  bool is_signed = false;
  int bits = 0;
};
// Parses "i8", "u16", "i64" (case-sensitive, as Redis); nullopt if invalid,
// including u64.
std::optional<FieldType> ParseFieldType(std::string_view s);

// The unsigned value of `bits` (1..64) bits at bit `offset` (zero padded).
uint64_t GetUnsigned(std::string_view s, uint64_t offset, int bits);
// The same bits as a two's complement signed value.
int64_t GetSigned(std::string_view s, uint64_t offset, int bits);
// Writes the low `bits` bits of `value` at bit `offset`; *s must already
// reach offset + bits - 1.
void SetField(std::string* s, uint64_t offset, int bits, uint64_t value);

enum class Overflow { kWrap, kSat, kFail };

// The outcome of adding `incr` to a field holding `value`: `overflow` is +1
// (past the maximum), -1 (below the minimum) or 0; `result` is what the
// field then holds: value + incr when 0; under kWrap the sum wrapped to the
// field's width; under kSat the limit crossed; under kFail unspecified
// (nothing is written). Redis's checkSignedBitfieldOverflow and
// checkUnsignedBitfieldOverflow, including their edge cases: a value
// outside the field's range (a SET of -1 into u8, of INT64_MIN into i8) is
// judged by the same 64-bit comparisons Redis makes, so SAT and WRAP agree
// with Redis for every input.
struct FieldSum {
  int overflow = 0;
  int64_t result = 0;  // for unsigned fields, the bits as int64 (they fit: at most 63)
};
FieldSum AddSigned(int64_t value, int64_t incr, int bits, Overflow ow);
FieldSum AddUnsigned(uint64_t value, int64_t incr, int bits, Overflow ow);

}  // namespace shoal::server::bits
