// bitops.h: the bit arithmetic of the bit commands, case by case (Redis's
// documented examples and edge cases) and against a plain model that looks
// at one bit at a time.

#include "server/commands/bitops.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace shoal::server::bits {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The model: a string as a vector of bits, MSB of byte 0 first.
bool ModelBit(const std::string& s, uint64_t i) {
  if (i / 8 >= s.size()) return false;
  return (static_cast<uint8_t>(s[i / 8]) >> (7 - i % 8)) & 1;
}

std::string RandomString(std::mt19937_64& rng, size_t max_len) {
  std::string s(rng() % (max_len + 1), '\0');
  // Mostly runs of 0x00 / 0xff, so that searches cross whole bytes.
  for (char& c : s) {
    uint64_t r = rng() % 4;
    c = static_cast<char>(r == 0 ? 0x00 : r == 1 ? 0xff : rng() & 0xff);
  }
  return s;
}

TEST_CASE("GetBit and SetBit number bits from the first byte's MSB, growing with zeros") {
  std::string s;
  SetBit(&s, 7, true);
  CHECK(s == std::string("\x01", 1));
  SetBit(&s, 0, true);
  CHECK(s == "\x81");
  SetBit(&s, 17, true);
  CHECK(s == std::string("\x81\x00\x40", 3));
  CHECK(GetBit(s, 17));
  CHECK_FALSE(GetBit(s, 16));
  CHECK_FALSE(GetBit(s, 1000));
  SetBit(&s, 0, false);
  CHECK(s == std::string("\x01\x00\x40", 3));
}

TEST_CASE("ResolveRange follows Redis's start/end rules") {
  // 6 bytes, as "foobar".
  CHECK(ResolveRange(6, 0, -1, Unit::kByte)->lo == 0);
  CHECK(ResolveRange(6, 0, -1, Unit::kByte)->hi == 47);
  CHECK(ResolveRange(6, 1, 1, Unit::kByte)->lo == 8);
  CHECK(ResolveRange(6, 1, 1, Unit::kByte)->hi == 15);
  CHECK(ResolveRange(6, -100, 100, Unit::kByte)->hi == 47);
  CHECK_FALSE(ResolveRange(6, 5, 1, Unit::kByte));
  CHECK_FALSE(ResolveRange(6, 10, 20, Unit::kByte));
  CHECK_FALSE(ResolveRange(0, 0, -1, Unit::kByte));
  auto bits = ResolveRange(6, 5, 30, Unit::kBit);
  CHECK(bits->lo == 5);
  CHECK(bits->hi == 30);
  CHECK(ResolveRange(6, -9, -3, Unit::kBit)->lo == 39);
  CHECK(ResolveRange(6, -9, -3, Unit::kBit)->hi == 45);
  CHECK(ResolveRange(6, 0, kMax, Unit::kBit)->hi == 47);
  CHECK(ResolveRange(6, kMin, kMax, Unit::kByte)->lo == 0);
}

TEST_CASE("BitCount: Redis's examples") {
  CHECK(BitCount("foobar", std::nullopt) == 26);
  CHECK(BitCount("foobar", ResolveRange(6, 0, 0, Unit::kByte)) == 4);
  CHECK(BitCount("foobar", ResolveRange(6, 1, 1, Unit::kByte)) == 6);
  CHECK(BitCount("foobar", ResolveRange(6, 5, 30, Unit::kBit)) == 17);
  CHECK(BitCount("", std::nullopt) == 0);
}

TEST_CASE("BitPos: Redis's examples and the not-found rules") {
  const std::string s("\xff\xf0\x00", 3);
  CHECK(BitPos(s, false, std::nullopt, false) == 12);
  CHECK(BitPos(std::string("\x00\xff\xf0", 3), true, ResolveRange(3, 0, -1, Unit::kByte), false) ==
        8);
  CHECK(BitPos(std::string("\x00\xff\xf0", 3), true, ResolveRange(3, 2, -1, Unit::kByte), false) ==
        16);
  CHECK(BitPos(std::string("\x00\xff\xf0", 3), true, ResolveRange(3, 7, 15, Unit::kBit), true) ==
        8);
  // Looking for 1 in zeros: -1.
  CHECK(BitPos(std::string(2, '\0'), true, std::nullopt, false) == -1);
  // Looking for 0 in ones: past the end unless the caller gave an end.
  CHECK(BitPos("\xff\xff", false, std::nullopt, false) == 16);
  CHECK(BitPos("\xff\xff", false, ResolveRange(2, 0, -1, Unit::kByte), false) == 16);
  CHECK(BitPos("\xff\xff", false, ResolveRange(2, 0, -1, Unit::kByte), true) == -1);
  CHECK(BitPos("\xff\xff", false, ResolveRange(2, 0, 15, Unit::kBit), true) == -1);
  CHECK(BitPos("", false, std::nullopt, false) == -1);
}

TEST_CASE("BitCount and BitPos agree with a bit-by-bit model on random strings and ranges") {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string s = RandomString(rng, 40);
    const int64_t n = static_cast<int64_t>(s.size());
    const Unit unit = rng() % 2 ? Unit::kBit : Unit::kByte;
    const int64_t span = unit == Unit::kBit ? n * 8 + 10 : n + 3;
    const int64_t start = static_cast<int64_t>(rng() % (2 * span + 1)) - span;
    const int64_t end = static_cast<int64_t>(rng() % (2 * span + 1)) - span;
    auto range = ResolveRange(s.size(), start, end, unit);
    CAPTURE(iter);
    if (!range) continue;
    uint64_t count = 0;
    for (uint64_t i = range->lo; i <= range->hi; ++i) count += ModelBit(s, i);
    CHECK(BitCount(s, range) == count);
    for (bool bit : {false, true}) {
      for (bool end_given : {false, true}) {
        int64_t want = -1;
        for (uint64_t i = range->lo; i <= range->hi; ++i) {
          if (ModelBit(s, i) == bit) {
            want = static_cast<int64_t>(i);
            break;
          }
        }
        if (want == -1 && !bit && !end_given) want = static_cast<int64_t>(range->hi + 1);
        CHECK(BitPos(s, bit, range, end_given) == want);
      }
    }
    uint64_t whole = 0;
    for (uint64_t i = 0; i < s.size() * 8; ++i) whole += ModelBit(s, i);
    CHECK(BitCount(s, std::nullopt) == whole);
  }
}

TEST_CASE("Apply pads shorter sources with zeros; NOT inverts") {
  std::vector<std::string_view> ab = {std::string_view("\x0f\xf0", 2), "\xff"};
  CHECK(Apply(BitOp::kAnd, ab) == std::string("\x0f\x00", 2));
  CHECK(Apply(BitOp::kOr, ab) == "\xff\xf0");
  CHECK(Apply(BitOp::kXor, ab) == "\xf0\xf0");
  std::vector<std::string_view> one = {std::string_view("\x0f\x00", 2)};
  CHECK(Apply(BitOp::kNot, one) == "\xf0\xff");
  std::vector<std::string_view> empty = {"", ""};
  CHECK(Apply(BitOp::kOr, empty).empty());

  std::mt19937_64 rng(11);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<std::string> srcs;
    for (uint64_t k = 0, n = 1 + rng() % 4; k < n; ++k) srcs.push_back(RandomString(rng, 70));
    std::vector<std::string_view> views(srcs.begin(), srcs.end());
    size_t maxlen = 0;
    for (const auto& s : srcs) maxlen = std::max(maxlen, s.size());
    for (BitOp op : {BitOp::kAnd, BitOp::kOr, BitOp::kXor}) {
      std::string got = Apply(op, views);
      REQUIRE(got.size() == maxlen);
      for (uint64_t i = 0; i < maxlen * 8; ++i) {
        bool want = ModelBit(srcs[0], i);
        for (size_t k = 1; k < srcs.size(); ++k) {
          bool b = ModelBit(srcs[k], i);
          want = op == BitOp::kAnd ? (want && b) : op == BitOp::kOr ? (want || b) : (want != b);
        }
        CHECK(ModelBit(got, i) == want);
      }
    }
  }
}

TEST_CASE("ParseFieldType accepts i1..i64 and u1..u63 only") {
  CHECK(ParseFieldType("i8")->bits == 8);
  CHECK(ParseFieldType("i8")->is_signed);
  CHECK(ParseFieldType("u63")->bits == 63);
  CHECK_FALSE(ParseFieldType("u63")->is_signed);
  CHECK(ParseFieldType("i64")->bits == 64);
  for (const char* bad :
       {"u64", "i65", "i0", "u0", "i", "", "x8", "I8", "i08", "i-1", "i+8", "i8 ", "i100"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseFieldType(bad));
  }
}

TEST_CASE("fields read and write at any bit offset, signed ones sign-extended") {
  std::string s(3, '\0');
  // Redis's example: 5-bit unsigned 23 at offset 7 -> 00000001 01110000.
  SetField(&s, 7, 5, 23);
  CHECK(s.substr(0, 2) == std::string("\x01\x70", 2));
  CHECK(GetUnsigned(s, 7, 5) == 23);
  CHECK(GetSigned(s, 7, 5) == 23 - 32);
  CHECK(GetUnsigned(s, 100, 8) == 0);  // past the end
  std::string w(9, '\0');
  SetField(&w, 3, 64, static_cast<uint64_t>(kMin));
  CHECK(GetSigned(w, 3, 64) == kMin);
  CHECK(GetUnsigned(w, 3, 63) == (uint64_t{1} << 62));

  std::mt19937_64 rng(3);
  for (int iter = 0; iter < 2000; ++iter) {
    const int bits = 1 + static_cast<int>(rng() % 64);
    const uint64_t offset = rng() % 40;
    std::string buf = RandomString(rng, 16);
    buf.resize(16, '\x5a');
    const std::string before = buf;
    const uint64_t v = rng();
    SetField(&buf, offset, bits, v);
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    CHECK(GetUnsigned(buf, offset, bits) == (v & mask));
    // Bits outside the field are untouched.
    for (uint64_t i = 0; i < buf.size() * 8; ++i) {
      if (i < offset || i >= offset + static_cast<uint64_t>(bits)) {
        CHECK(ModelBit(buf, i) == ModelBit(before, i));
      }
    }
  }
}

TEST_CASE("AddSigned: wrap, saturate and fail at the field's limits, i64 included") {
  // i8: 100 + 100.
  CHECK(AddSigned(100, 100, 8, Overflow::kWrap).overflow == 1);
  CHECK(AddSigned(100, 100, 8, Overflow::kWrap).result == -56);
  CHECK(AddSigned(100, 100, 8, Overflow::kSat).result == 127);
  CHECK(AddSigned(-100, -100, 8, Overflow::kSat).result == -128);
  CHECK(AddSigned(-100, -100, 8, Overflow::kWrap).result == 56);
  CHECK(AddSigned(-100, -100, 8, Overflow::kFail).overflow == -1);
  CHECK(AddSigned(5, -3, 8, Overflow::kFail).overflow == 0);
  CHECK(AddSigned(5, -3, 8, Overflow::kFail).result == 2);
  // i64 at both ends.
  CHECK(AddSigned(kMax, 1, 64, Overflow::kWrap).result == kMin);
  CHECK(AddSigned(kMax, 1, 64, Overflow::kSat).result == kMax);
  CHECK(AddSigned(kMin, -1, 64, Overflow::kWrap).result == kMax);
  CHECK(AddSigned(kMin, -1, 64, Overflow::kSat).result == kMin);
  CHECK(AddSigned(kMin, kMax, 64, Overflow::kFail).overflow == 0);
  CHECK(AddSigned(kMin, kMax, 64, Overflow::kFail).result == -1);
  CHECK(AddSigned(kMax, kMin, 64, Overflow::kFail).result == -1);
  CHECK(AddSigned(-1, kMin, 64, Overflow::kFail).overflow == -1);
  CHECK(AddSigned(0, kMin, 64, Overflow::kFail).overflow == 0);
  // SET of an out-of-range value (incr 0).
  CHECK(AddSigned(200, 0, 8, Overflow::kWrap).result == -56);
  CHECK(AddSigned(-200, 0, 8, Overflow::kSat).result == -128);
  // Redis's verdict for INT64_MIN into a narrow field: its 64-bit margin
  // wraps and it sees an overflow upwards (SAT gives the maximum).
  CHECK(AddSigned(kMin, 0, 8, Overflow::kSat).overflow == 1);
  CHECK(AddSigned(kMin, 0, 8, Overflow::kSat).result == 127);
  CHECK(AddSigned(kMin, 0, 8, Overflow::kWrap).result == 0);
}

TEST_CASE("AddUnsigned: wrap, saturate and fail") {
  CHECK(AddUnsigned(3, 1, 2, Overflow::kWrap).result == 0);
  CHECK(AddUnsigned(3, 1, 2, Overflow::kSat).result == 3);
  CHECK(AddUnsigned(0, -1, 2, Overflow::kWrap).result == 3);
  CHECK(AddUnsigned(0, -1, 2, Overflow::kSat).overflow == -1);
  CHECK(AddUnsigned(0, -1, 2, Overflow::kSat).result == 0);
  const uint64_t u63max = (uint64_t{1} << 63) - 1;
  CHECK(AddUnsigned(u63max, 1, 63, Overflow::kWrap).result == 0);
  CHECK(AddUnsigned(u63max, 1, 63, Overflow::kSat).result == static_cast<int64_t>(u63max));
  CHECK(AddUnsigned(0, kMax, 63, Overflow::kFail).overflow == 0);
  CHECK(AddUnsigned(1, kMin, 63, Overflow::kFail).overflow == -1);
  // SET u8 -1: the value as unsigned is far above the maximum.
  CHECK(AddUnsigned(static_cast<uint64_t>(-1), 0, 8, Overflow::kSat).result == 255);
  CHECK(AddUnsigned(static_cast<uint64_t>(-1), 0, 8, Overflow::kWrap).result == 255);
  CHECK(AddUnsigned(static_cast<uint64_t>(-2), 0, 8, Overflow::kWrap).result == 254);
}

TEST_CASE("in-range sums agree with exact arithmetic: wrap is modulo 2^bits, sat clamps") {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 20000; ++iter) {
    const int bits = 1 + static_cast<int>(rng() % 64);
    const __int128 smax = (static_cast<__int128>(1) << (bits - 1)) - 1;
    const __int128 smin = -smax - 1;
    // A value inside the field, an increment anywhere.
    const int64_t value =
        bits == 64 ? static_cast<int64_t>(rng())
                   : static_cast<int64_t>(smin + static_cast<__int128>(rng() >> (64 - bits)));
    const int64_t incr =
        rng() % 3 == 0 ? static_cast<int64_t>(rng()) : static_cast<int64_t>(rng() % 1000) - 500;
    const __int128 sum = static_cast<__int128>(value) + incr;
    CAPTURE(bits);
    CAPTURE(value);
    CAPTURE(incr);
    FieldSum w = AddSigned(value, incr, bits, Overflow::kWrap);
    FieldSum s = AddSigned(value, incr, bits, Overflow::kSat);
    const int want_overflow = sum > smax ? 1 : sum < smin ? -1 : 0;
    CHECK(w.overflow == want_overflow);
    const __int128 mod = static_cast<__int128>(1) << bits;
    __int128 wrapped = ((sum - smin) % mod + mod) % mod + smin;
    CHECK(static_cast<__int128>(w.result) == wrapped);
    CHECK(static_cast<__int128>(s.result) == (sum > smax ? smax : sum < smin ? smin : sum));

    if (bits == 64) continue;
    const uint64_t umax = (uint64_t{1} << bits) - 1;
    const uint64_t uvalue = rng() % (umax + 1);
    const __int128 usum = static_cast<__int128>(uvalue) + incr;
    FieldSum uw = AddUnsigned(uvalue, incr, bits, Overflow::kWrap);
    FieldSum us = AddUnsigned(uvalue, incr, bits, Overflow::kSat);
    CHECK(uw.overflow == (usum > umax ? 1 : usum < 0 ? -1 : 0));
    CHECK(static_cast<__int128>(uw.result) == ((usum % mod) + mod) % mod);
    CHECK(static_cast<__int128>(us.result) == (usum > umax ? umax : usum < 0 ? 0 : usum));
  }
}

}  // namespace
}  // namespace shoal::server::bits
