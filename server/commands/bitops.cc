#include "server/commands/bitops.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace shoal::server::bits {
namespace {

uint8_t ByteAt(std::string_view s, uint64_t i) {
  return i < s.size() ? static_cast<uint8_t>(s[i]) : 0;
}

// The bits of byte `i` that lie within [lo, hi] (bit 0 = the byte's MSB).
uint8_t MaskWithin(uint64_t i, uint64_t lo, uint64_t hi) {
  uint8_t mask = 0xff;
  if (lo > i * 8) mask &= static_cast<uint8_t>(0xff >> (lo - i * 8));
  if (hi < i * 8 + 7) mask &= static_cast<uint8_t>(0xff << (7 - (hi - i * 8)));
  return mask;
}

uint64_t PopCountBytes(const char* p, size_t n) {
  uint64_t count = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    count += std::popcount(w);
  }
  for (; i < n; ++i) count += std::popcount(static_cast<uint8_t>(p[i]));
  return count;
}

}  // namespace

bool GetBit(std::string_view s, uint64_t offset) {
  return (ByteAt(s, offset >> 3) >> (7 - (offset & 7))) & 1;
}

void SetBit(std::string* s, uint64_t offset, bool on) {
  const uint64_t byte = offset >> 3;
  if (byte >= s->size()) s->resize(byte + 1, '\0');
  const uint8_t bit = static_cast<uint8_t>(1u << (7 - (offset & 7)));
  uint8_t v = static_cast<uint8_t>((*s)[byte]);
  v = on ? (v | bit) : (v & ~bit);
  (*s)[byte] = static_cast<char>(v);
}

std::optional<BitRange> ResolveRange(uint64_t len, int64_t start, int64_t end, Unit unit) {
  // Lengths are bounded by proto-max-bulk-len, far below 2^60: no overflow.
  const int64_t total = static_cast<int64_t>(unit == Unit::kBit ? len * 8 : len);
  if (start < 0) start += total;
  if (end < 0) end += total;
  start = std::max<int64_t>(start, 0);
  end = std::max<int64_t>(end, 0);
  end = std::min(end, total - 1);
  if (start > end) return std::nullopt;
  if (unit == Unit::kBit) {
    return BitRange{static_cast<uint64_t>(start), static_cast<uint64_t>(end)};
  }
  return BitRange{static_cast<uint64_t>(start) * 8, static_cast<uint64_t>(end) * 8 + 7};
}

uint64_t BitCount(std::string_view s, std::optional<BitRange> range) {
  if (!range) return PopCountBytes(s.data(), s.size());
  const uint64_t first = range->lo >> 3;
  const uint64_t last = range->hi >> 3;
  if (first >= s.size()) return 0;
  if (first == last) {
    return std::popcount(
        static_cast<uint8_t>(ByteAt(s, first) & MaskWithin(first, range->lo, range->hi)));
  }
  uint64_t count = std::popcount(
      static_cast<uint8_t>(ByteAt(s, first) & MaskWithin(first, range->lo, range->hi)));
  count +=
      std::popcount(static_cast<uint8_t>(ByteAt(s, last) & MaskWithin(last, range->lo, range->hi)));
  const uint64_t mid_end = std::min<uint64_t>(last, s.size());
  if (mid_end > first + 1) count += PopCountBytes(s.data() + first + 1, mid_end - first - 1);
  return count;
}

int64_t BitPos(std::string_view s, bool bit, std::optional<BitRange> range, bool end_given) {
  if (!range) {
    if (s.empty()) return -1;
    range = BitRange{0, s.size() * 8 - 1};
  }
  const uint64_t first = range->lo >> 3;
  const uint64_t last = range->hi >> 3;
  for (uint64_t i = first; i <= last; ++i) {
    const uint8_t mask = MaskWithin(i, range->lo, range->hi);
    // The in-range bits that hold `bit`, as ones.
    uint8_t hits = bit ? ByteAt(s, i) : static_cast<uint8_t>(~ByteAt(s, i));
    hits &= mask;
    if (hits != 0) return static_cast<int64_t>(i * 8 + std::countl_zero(hits));
    // Whole bytes with nothing to find: skip runs quickly.
    if (i + 1 < last && mask == 0xff) {
      const uint8_t skip = bit ? 0x00 : 0xff;
      uint64_t j = i + 1;
      while (j < last && ByteAt(s, j) == skip) ++j;
      i = j - 1;
    }
  }
  if (bit || end_given) return -1;
  return static_cast<int64_t>(range->hi + 1);
}

std::string Apply(BitOp op, std::span<const std::string_view> sources) {
  size_t maxlen = 0;
  for (std::string_view src : sources) maxlen = std::max(maxlen, src.size());
  std::string out(maxlen, '\0');
  if (sources.empty() || maxlen == 0) return out;
  std::string_view first = sources[0];
  std::memcpy(out.data(), first.data(), first.size());
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  if (op == BitOp::kNot) {
    for (size_t i = 0; i < maxlen; ++i) o[i] = static_cast<uint8_t>(~o[i]);
    return out;
  }
  for (size_t k = 1; k < sources.size(); ++k) {
    std::string_view src = sources[k];
    const auto* p = reinterpret_cast<const uint8_t*>(src.data());
    switch (op) {
      case BitOp::kAnd:
        for (size_t i = 0; i < src.size(); ++i) o[i] &= p[i];
        // Past a shorter source everything ANDs with zero.
        std::memset(o + src.size(), 0, maxlen - src.size());
        break;
      case BitOp::kOr:
        for (size_t i = 0; i < src.size(); ++i) o[i] |= p[i];
        break;
      case BitOp::kXor:
        for (size_t i = 0; i < src.size(); ++i) o[i] ^= p[i];
        break;
      case BitOp::kNot:
        break;
    }
  }
  return out;
}

std::optional<FieldType> ParseFieldType(std::string_view s) {
  if (s.size() < 2 || (s[0] != 'i' && s[0] != 'u')) return std::nullopt;
  FieldType t;
  t.is_signed = s[0] == 'i';
  // Redis parses the width with string2ll: digits only, an optional '-'
  // (which then fails the range check), no leading '+', no leading zeros.
  std::string_view digits = s.substr(1);
  if (digits.size() > 2 || digits[0] == '0') return std::nullopt;
  int bits = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    bits = bits * 10 + (c - '0');
  }
  if (bits < 1 || bits > (t.is_signed ? 64 : 63)) return std::nullopt;
  t.bits = bits;
  return t;
}

uint64_t GetUnsigned(std::string_view s, uint64_t offset, int bits) {
  uint64_t v = 0;
  for (int j = 0; j < bits; ++j) v = (v << 1) | (GetBit(s, offset + j) ? 1 : 0);
  return v;
}

int64_t GetSigned(std::string_view s, uint64_t offset, int bits) {
  uint64_t u = GetUnsigned(s, offset, bits);
  // Sign-extend from the field's top bit.
  if (bits < 64 && (u >> (bits - 1)) & 1) u |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(u);
}

void SetField(std::string* s, uint64_t offset, int bits, uint64_t value) {
  for (int j = 0; j < bits; ++j) {
    SetBit(s, offset + j, (value >> (bits - 1 - j)) & 1);
  }
}

namespace {

// value + incr reduced to `bits` bits and sign-extended: two's complement
// wrap-around.
int64_t WrapSigned(int64_t value, int64_t incr, int bits) {
  uint64_t c = static_cast<uint64_t>(value) + static_cast<uint64_t>(incr);
  if (bits < 64) {
    const uint64_t high = ~uint64_t{0} << bits;
    c = (c >> (bits - 1)) & 1 ? (c | high) : (c & ~high);
  }
  return static_cast<int64_t>(c);
}

}  // namespace

FieldSum AddSigned(int64_t value, int64_t incr, int bits, Overflow ow) {
  const int64_t max = bits == 64 ? std::numeric_limits<int64_t>::max()
                                 : static_cast<int64_t>((uint64_t{1} << (bits - 1)) - 1);
  const int64_t min = -max - 1;
  // Redis computes both margins in 64 bits, wrapping; they are consulted
  // only where they are meaningful, except for values far outside a narrow
  // field (below min by more than 2^63 - max), where the wrapped margin
  // makes Redis see an overflow upwards. We keep that verdict.
  const int64_t up_margin =
      static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
  const int64_t down_margin =
      static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
  FieldSum r;
  if (value > max || (bits != 64 && incr > up_margin) ||
      (value >= 0 && incr > 0 && incr > up_margin)) {
    r.overflow = 1;
  } else if (value < min || (bits != 64 && incr < down_margin) ||
             (value < 0 && incr < 0 && incr < down_margin)) {
    r.overflow = -1;
  }
  if (r.overflow == 0) {
    r.result = static_cast<int64_t>(static_cast<uint64_t>(value) + static_cast<uint64_t>(incr));
  } else if (ow == Overflow::kSat) {
    r.result = r.overflow > 0 ? max : min;
  } else {
    r.result = WrapSigned(value, incr, bits);
  }
  return r;
}

FieldSum AddUnsigned(uint64_t value, int64_t incr, int bits, Overflow ow) {
  const uint64_t max = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const int64_t up_margin = static_cast<int64_t>(max - value);
  const int64_t down_margin = static_cast<int64_t>(uint64_t{0} - value);
  FieldSum r;
  if (value > max || (incr > 0 && incr > up_margin)) {
    r.overflow = 1;
  } else if (incr < 0 && incr < down_margin) {
    r.overflow = -1;
  }
  const uint64_t sum = value + static_cast<uint64_t>(incr);
  if (r.overflow == 0) {
    r.result = static_cast<int64_t>(sum);
  } else if (ow == Overflow::kSat) {
    r.result = r.overflow > 0 ? static_cast<int64_t>(max) : 0;
  } else {
    r.result = static_cast<int64_t>(sum & max);
  }
  return r;
}

}  // namespace shoal::server::bits
