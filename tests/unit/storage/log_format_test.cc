#include "storage/log_format.h"

#include <doctest/doctest.h>
#include <xxhash.h>

#include <string>

namespace shoal::storage {
namespace {

// Recomputes the checksum of a frame in place (to build frames whose
// checksum is right but whose content is not).
void Reseal(std::string* frame) {
  uint32_t body = DecodeFixed32(frame->data() + 4);
  EncodeFixed32(frame->data(), static_cast<uint32_t>(XXH3_64bits(frame->data() + 4, 4 + body)));
}

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

TEST_CASE("log header: round trip and every kind of damage") {
  std::string h;
  AppendLogHeader(&h);
  REQUIRE(h.size() == kLogHeaderSize);
  CHECK(h.substr(0, 8) == "SHOALAOF");
  CHECK(CheckLogHeader(h) == HeaderCheck::kOk);
  for (size_t n = 1; n < h.size(); ++n) {
    CAPTURE(n);
    CHECK(CheckLogHeader(h.substr(0, n)) == HeaderCheck::kShort);
  }
  std::string bad = h;
  bad[0] = 'X';
  CHECK(CheckLogHeader(bad) == HeaderCheck::kBadMagic);
  CHECK(CheckLogHeader("REDIS0011") == HeaderCheck::kBadMagic);
  CHECK(CheckLogHeader("*2\r\n$3\r\nSET\r\n") == HeaderCheck::kBadMagic);
  bad = h;
  EncodeFixed32(bad.data() + 8, 2);
  CHECK(CheckLogHeader(bad) == HeaderCheck::kBadVersion);
  bad = h;
  bad[12] = 1;  // flags
  CHECK(CheckLogHeader(bad) == HeaderCheck::kBadVersion);
}

TEST_CASE("the on-disk bytes are fixed (golden)") {
  // Changing any of these breaks every existing log: bump kLogVersion.
  std::string h;
  AppendLogHeader(&h);
  CHECK(Hex(h) == "53484f414c414f460100000000000000");
  std::string f;
  AppendPutRecord(&f, "k", "vv");
  CHECK(Hex(f.substr(4)) == "0c00000001010000006b020000007676");
  CHECK(DecodeFixed32(f.data()) == static_cast<uint32_t>(XXH3_64bits(f.data() + 4, f.size() - 4)));
  std::string g;
  AppendFlushAllRecord(&g);
  CHECK(Hex(g.substr(4)) == "0100000002");
}

TEST_CASE("records round trip") {
  struct Case {
    std::string key, object;
  };
  std::string binary("\0\xff\r\n", 4);
  Case cases[] = {{"k", "v"},
                  {"", ""},
                  {"key", ""},
                  {"", "object"},
                  {binary, binary + binary},
                  {std::string(1000, 'x'), std::string(70000, 'y')}};
  for (const Case& c : cases) {
    std::string buf = "prefix";
    AppendPutRecord(&buf, c.key, c.object);
    std::string_view frame = std::string_view(buf).substr(6);
    CHECK(frame.size() == PutFrameSize(c.key.size(), c.object.size()));
    LogRecord r;
    size_t size = 0;
    REQUIRE(ParseFrame(frame, &r, &size) == FrameCheck::kOk);
    CHECK(size == frame.size());
    CHECK(r.type == RecordType::kPut);
    CHECK(r.key == c.key);
    CHECK(r.object == c.object);
  }
  std::string buf;
  AppendFlushAllRecord(&buf);
  CHECK(buf.size() == FrameSize(0));
  LogRecord r;
  size_t size = 0;
  REQUIRE(ParseFrame(buf, &r, &size) == FrameCheck::kOk);
  CHECK(r.type == RecordType::kFlushAll);
  CHECK(size == buf.size());
}

TEST_CASE("drop records round-trip and reject a bad key length") {
  for (std::string key : {std::string(), std::string("k"), std::string(300, 'x')}) {
    std::string buf;
    AppendDropRecord(&buf, key);
    LogRecord r;
    size_t size = 0;
    REQUIRE(ParseFrame(buf, &r, &size) == FrameCheck::kOk);
    CHECK(r.type == RecordType::kDrop);
    CHECK(r.key == key);
    CHECK(size == buf.size());
    EncodeFixed32(buf.data() + 9, static_cast<uint32_t>(key.size() + 1));
    Reseal(&buf);
    CHECK(ParseFrame(buf, &r, &size) == FrameCheck::kBadPayload);
  }
}

TEST_CASE("delta records round-trip like puts and reject bad lengths") {
  std::string buf;
  AppendDeltaRecord(&buf, "set",
                    std::string("\x01\x04"
                                "delta",
                                7));
  LogRecord r;
  size_t size = 0;
  REQUIRE(ParseFrame(buf, &r, &size) == FrameCheck::kOk);
  CHECK(r.type == RecordType::kDelta);
  CHECK(r.key == "set");
  CHECK(r.object == std::string("\x01\x04"
                                "delta",
                                7));
  CHECK(size == buf.size());
  CHECK(buf.size() == PutFrameSize(3, 7));
  EncodeFixed32(buf.data() + 9, 100);
  Reseal(&buf);
  CHECK(ParseFrame(buf, &r, &size) == FrameCheck::kBadPayload);
  // The same bytes as a put, apart from the type.
  std::string put, delta;
  AppendPutRecord(&put, "k", "v");
  AppendDeltaRecord(&delta, "k", "v");
  delta[8] = static_cast<char>(RecordType::kPut);
  Reseal(&delta);
  CHECK(put == delta);
}

TEST_CASE("a frame followed by more bytes parses as itself") {
  std::string buf;
  AppendPutRecord(&buf, "a", "1");
  size_t first = buf.size();
  AppendFlushAllRecord(&buf);
  LogRecord r;
  size_t size = 0;
  REQUIRE(ParseFrame(buf, &r, &size) == FrameCheck::kOk);
  CHECK(size == first);
  CHECK(r.key == "a");
}

TEST_CASE("every prefix of a frame is short, never ok") {
  std::string frame;
  AppendPutRecord(&frame, "key", "value");
  for (size_t n = 0; n < frame.size(); ++n) {
    CAPTURE(n);
    LogRecord r;
    size_t size = 0;
    FrameCheck c = ParseFrame(std::string_view(frame).substr(0, n), &r, &size);
    CHECK(c == (n < kFrameHeaderSize ? FrameCheck::kShortHeader : FrameCheck::kShortBody));
    if (c == FrameCheck::kShortBody) CHECK(size == frame.size());
  }
}

TEST_CASE("every single-bit flip is caught") {
  std::string frame;
  AppendPutRecord(&frame, "key", "value");
  for (size_t i = 0; i < frame.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      CAPTURE(i);
      CAPTURE(bit);
      std::string bad = frame;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      LogRecord r;
      size_t size = 0;
      FrameCheck c = ParseFrame(bad, &r, &size);
      CHECK(c != FrameCheck::kOk);
      if (i < 4 || i >= kFrameHeaderSize) CHECK(c == FrameCheck::kBadChecksum);
    }
  }
}

TEST_CASE("bad length, type and payload") {
  LogRecord r;
  size_t size = 0;
  std::string zeros(64, '\0');
  CHECK(ParseFrame(zeros, &r, &size) == FrameCheck::kBadLength);
  std::string huge;
  AppendFlushAllRecord(&huge);
  EncodeFixed32(huge.data() + 4, kMaxBodySize + 1);
  CHECK(ParseFrame(huge, &r, &size) == FrameCheck::kBadLength);

  std::string typed;
  AppendFlushAllRecord(&typed);
  typed[8] = 9;
  CHECK(ParseFrame(typed, &r, &size) == FrameCheck::kBadChecksum);
  Reseal(&typed);
  CHECK(ParseFrame(typed, &r, &size) == FrameCheck::kBadType);
  typed[8] = 0;
  Reseal(&typed);
  CHECK(ParseFrame(typed, &r, &size) == FrameCheck::kBadType);

  // A kPut whose key length claims more than the payload holds.
  std::string put;
  AppendPutRecord(&put, "key", "value");
  EncodeFixed32(put.data() + 9, 100);
  Reseal(&put);
  CHECK(ParseFrame(put, &r, &size) == FrameCheck::kBadPayload);
  // ... or whose object length does not cover the rest exactly.
  put.clear();
  AppendPutRecord(&put, "key", "value");
  EncodeFixed32(put.data() + 9 + 4 + 3, 4);
  Reseal(&put);
  CHECK(ParseFrame(put, &r, &size) == FrameCheck::kBadPayload);
  // A kPut too short to hold its key length.
  put.assign(kFrameHeaderSize, '\0');
  put.push_back(static_cast<char>(RecordType::kPut));
  put.append("ab");
  EncodeFixed32(put.data() + 4, 3);
  Reseal(&put);
  CHECK(ParseFrame(put, &r, &size) == FrameCheck::kBadPayload);
  // A kFlushAll with a payload.
  std::string flush;
  AppendFlushAllRecord(&flush);
  flush.push_back('x');
  EncodeFixed32(flush.data() + 4, 2);
  Reseal(&flush);
  CHECK(ParseFrame(flush, &r, &size) == FrameCheck::kBadPayload);
}

TEST_CASE("every check has a name") {
  for (FrameCheck c :
       {FrameCheck::kOk, FrameCheck::kShortHeader, FrameCheck::kBadLength, FrameCheck::kShortBody,
        FrameCheck::kBadChecksum, FrameCheck::kBadType, FrameCheck::kBadPayload}) {
    CHECK(std::string(FrameCheckName(c)) != "?");
  }
}

}  // namespace
}  // namespace shoal::storage

namespace shoal::storage {
namespace {

TEST_CASE("a put record written as head then tail is the contiguous record") {
  const std::string head = "\x01object-head";
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{70000}}) {
    std::string tail(n, 'v');
    for (size_t i = 0; i < n; ++i) tail[i] = static_cast<char>('a' + i % 26);
    std::string whole, split;
    AppendPutRecord(&whole, "key", head + tail);
    split = "prefix";
    AppendPutRecordHead(&split, "key", head, tail);
    split.append(tail);
    CHECK(split == "prefix" + whole);
    LogRecord rec;
    size_t size = 0;
    REQUIRE(ParseFrame(std::string_view(split).substr(6), &rec, &size) == FrameCheck::kOk);
    CHECK(rec.object == head + tail);
  }
}

}  // namespace
}  // namespace shoal::storage
