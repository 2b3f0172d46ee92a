#include "storage/log_reader.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "storage/file.h"
#include "storage/log_format.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::storage {
namespace {

using testing::TempDir;

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a replay saw, as "put k=v" / "flushall" lines.
struct Replayed {
  std::vector<std::string> records;
  Result<ReplayReport> result = Status::Invalid("not run");
};

Replayed Replay(Env* env, const std::string& path, ReplayOptions options = {}) {
  Replayed out;
  out.result = ReplayLog(env, path, options, [&](const LogRecord& r) {
    if (r.type == RecordType::kPut) {
      out.records.push_back("put " + std::string(r.key) + "=" + std::string(r.object));
    } else {
      out.records.push_back("flushall");
    }
    return Status::Ok();
  });
  return out;
}

// A small log: header and five records; `ends` gets each record's end offset.
std::string SmallLog(std::vector<size_t>* ends, std::vector<std::string>* expected) {
  std::string log;
  AppendLogHeader(&log);
  auto put = [&](const std::string& k, const std::string& v) {
    AppendPutRecord(&log, k, v);
    ends->push_back(log.size());
    expected->push_back("put " + k + "=" + v);
  };
  put("a", "1");
  put("bb", "22");
  AppendFlushAllRecord(&log);
  ends->push_back(log.size());
  expected->push_back("flushall");
  put("c", std::string(40, 'c'));
  put("", "");
  return log;
}

std::vector<std::string> Prefix(const std::vector<std::string>& v, size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}

TEST_CASE("missing and empty files are empty logs") {
  TempDir dir;
  PosixEnv env;
  Replayed r = Replay(&env, dir.File("none.aof"));
  REQUIRE(r.result.ok());
  CHECK(r.result.value().records == 0);
  CHECK(r.result.value().warnings.empty());
  WriteAll(dir.File("empty.aof"), "");
  r = Replay(&env, dir.File("empty.aof"));
  REQUIRE(r.result.ok());
  CHECK(r.records.empty());
  std::string header;
  AppendLogHeader(&header);
  WriteAll(dir.File("header.aof"), header);
  r = Replay(&env, dir.File("header.aof"));
  REQUIRE(r.result.ok());
  CHECK(r.records.empty());
  CHECK(r.result.value().valid_end == kLogHeaderSize);
}

TEST_CASE("a clean log replays every record in order") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  WriteAll(dir.File("a.aof"), log);
  Replayed r = Replay(&env, dir.File("a.aof"));
  REQUIRE(r.result.ok());
  CHECK(r.records == expected);
  const ReplayReport& rep = r.result.value();
  CHECK(rep.records == expected.size());
  CHECK(rep.valid_end == log.size());
  CHECK(rep.file_size == log.size());
  CHECK_FALSE(rep.torn_tail);
  CHECK(rep.warnings.empty());
}

TEST_CASE("truncation at every byte offset recovers exactly the complete records") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  const std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("t.aof");
  for (size_t cut = 0; cut <= log.size(); ++cut) {
    CAPTURE(cut);
    WriteAll(path, log.substr(0, cut));
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    size_t boundary =
        complete == 0 ? (cut < kLogHeaderSize ? 0 : kLogHeaderSize) : ends[complete - 1];
    Replayed r = Replay(&env, path);
    REQUIRE(r.result.ok());
    CHECK(r.records == Prefix(expected, complete));
    const ReplayReport& rep = r.result.value();
    CHECK(rep.valid_end == boundary);
    CHECK(rep.torn_tail == (cut != boundary));
    if (cut != boundary) {
      CHECK(rep.torn_offset == boundary);
      CHECK(rep.torn_bytes == cut - boundary);
      REQUIRE(rep.warnings.size() == 1);
      CHECK(rep.warnings[0] == path + ": torn tail at offset " + std::to_string(boundary) + " (" +
                                   std::to_string(cut - boundary) + " bytes) cut");
    } else {
      CHECK(rep.warnings.empty());
    }
    // The cut happened: the file now ends at the boundary and replays clean.
    CHECK(ReadAll(path) == log.substr(0, boundary));
    Replayed again = Replay(&env, path);
    REQUIRE(again.result.ok());
    CHECK(again.records == r.records);
    CHECK_FALSE(again.result.value().torn_tail);
  }
}

TEST_CASE("torn tail can be left in place") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("t.aof");
  WriteAll(path, log.substr(0, log.size() - 3));
  ReplayOptions opts;
  opts.truncate_torn_tail = false;
  Replayed r = Replay(&env, path, opts);
  REQUIRE(r.result.ok());
  CHECK(r.result.value().torn_tail);
  CHECK(r.result.value().warnings.at(0).find("left in place") != std::string::npos);
  CHECK(ReadAll(path).size() == log.size() - 3);
}

TEST_CASE("a bad checksum on the last record is a torn tail") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  log[ends[ends.size() - 2] + 2] ^= 0x40;  // checksum byte of the last record
  const std::string path = dir.File("t.aof");
  WriteAll(path, log);
  Replayed r = Replay(&env, path);
  REQUIRE(r.result.ok());
  CHECK(r.records == Prefix(expected, expected.size() - 1));
  CHECK(r.result.value().torn_offset == ends[ends.size() - 2]);
}

TEST_CASE("a zero-filled tail is a torn tail") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("z.aof");
  WriteAll(path, log + std::string(4096, '\0'));
  Replayed r = Replay(&env, path);
  REQUIRE(r.result.ok());
  CHECK(r.records == expected);
  CHECK(r.result.value().torn_tail);
  CHECK(r.result.value().torn_bytes == 4096);
  CHECK(ReadAll(path) == log);
}

TEST_CASE("damage in the middle stops with file, offset and reason") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  const std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("m.aof");
  // Flip every byte of record 1 (the second), one at a time.
  for (size_t i = ends[0]; i < ends[1]; ++i) {
    CAPTURE(i);
    std::string bad = log;
    bad[i] ^= 0x01;
    WriteAll(path, bad);
    Replayed r = Replay(&env, path);
    REQUIRE_FALSE(r.result.ok());
    CHECK(r.result.status().code() == Code::kCorruption);
    CHECK(r.result.status().message().rfind(
              path + ": corrupt log at offset " + std::to_string(ends[0]) + ": ", 0) == 0);
    CHECK(r.records == Prefix(expected, 1));
    CHECK(ReadAll(path) == bad);  // nothing cut

    ReplayOptions skip;
    skip.skip_corrupt = true;
    Replayed s = Replay(&env, path, skip);
    REQUIRE(s.result.ok());
    std::vector<std::string> want = expected;
    want.erase(want.begin() + 1);
    CHECK(s.records == want);
    CHECK(s.result.value().skipped_regions == 1);
    CHECK(s.result.value().skipped_bytes == ends[1] - ends[0]);
    REQUIRE(s.result.value().warnings.size() == 1);
    CHECK(s.result.value().warnings[0].find("skipped " + std::to_string(ends[1] - ends[0]) +
                                            " bytes of damaged log at offset " +
                                            std::to_string(ends[0])) != std::string::npos);
    CHECK(ReadAll(path) == bad);  // skipped, not removed
  }
}

TEST_CASE("a length running past the end with valid records after it is not a torn tail") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  EncodeFixed32(log.data() + ends[0] + 4, 1000000);
  const std::string path = dir.File("l.aof");
  WriteAll(path, log);
  Replayed r = Replay(&env, path);
  REQUIRE_FALSE(r.result.ok());
  CHECK(r.result.status().message().find("offset " + std::to_string(ends[0]) +
                                         ": record runs past end of file with valid records") !=
        std::string::npos);
  CHECK(ReadAll(path) == log);
  ReplayOptions skip;
  skip.skip_corrupt = true;
  Replayed s = Replay(&env, path, skip);
  REQUIRE(s.result.ok());
  CHECK(s.records.size() == expected.size() - 1);
}

TEST_CASE("garbage at the end that no crash could write is damage") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("g.aof");
  WriteAll(path, log + std::string(32, '\xff'));
  Replayed r = Replay(&env, path);
  REQUIRE_FALSE(r.result.ok());
  CHECK(r.result.status().message().find("bad record length") != std::string::npos);
  ReplayOptions skip;
  skip.skip_corrupt = true;
  Replayed s = Replay(&env, path, skip);
  REQUIRE(s.result.ok());
  CHECK(s.records == expected);
  CHECK(s.result.value().skipped_bytes == 32);
  CHECK(s.result.value().valid_end == log.size());
  CHECK(ReadAll(path) == log);  // nothing valid followed: cut
}

TEST_CASE("skip resynchronises after long runs of random garbage") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  const std::string log = SmallLog(&ends, &expected);
  const std::string path = dir.File("r.aof");
  std::mt19937 rng(42);
  for (size_t garbage_size : {1, 7, 100, 5000, 300000}) {
    CAPTURE(garbage_size);
    std::string garbage;
    for (size_t i = 0; i < garbage_size; ++i) garbage.push_back(static_cast<char>(rng()));
    // Garbage between records 1 and 2, and again before the last record.
    std::string bad = log.substr(0, ends[1]) + garbage + log.substr(ends[1], ends[3] - ends[1]) +
                      garbage + log.substr(ends[3]);
    WriteAll(path, bad);
    CHECK_FALSE(Replay(&env, path).result.ok());
    ReplayOptions skip;
    skip.skip_corrupt = true;
    Replayed s = Replay(&env, path, skip);
    REQUIRE(s.result.ok());
    CHECK(s.records == expected);
    CHECK(s.result.value().skipped_regions == 2);
    CHECK(s.result.value().skipped_bytes == 2 * garbage_size);
    CHECK(s.result.value().warnings.size() == 2);
  }
}

TEST_CASE("bad magic, bad version and a foreign header prefix are clear errors") {
  TempDir dir;
  PosixEnv env;
  const std::string path = dir.File("h.aof");
  std::string log;
  AppendLogHeader(&log);
  AppendFlushAllRecord(&log);

  WriteAll(path, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");  // a Redis AOF
  Replayed r = Replay(&env, path);
  REQUIRE_FALSE(r.result.ok());
  CHECK(r.result.status().message() == path + ": not a shoal append-only log (bad magic)");

  std::string v2 = log;
  EncodeFixed32(v2.data() + 8, 2);
  WriteAll(path, v2);
  r = Replay(&env, path);
  REQUIRE_FALSE(r.result.ok());
  CHECK(r.result.status().message() ==
        path + ": unsupported log format version 2 flags 0 (this build reads version 1)");

  std::string torn_header = log.substr(0, 10);
  torn_header[9] = 7;
  WriteAll(path, torn_header);
  r = Replay(&env, path);
  REQUIRE_FALSE(r.result.ok());
  CHECK(r.result.status().message() == path + ": truncated log header");
  CHECK(ReadAll(path) == torn_header);
}

TEST_CASE("a callback error stops the replay and names the record") {
  TempDir dir;
  PosixEnv env;
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  WriteAll(dir.File("c.aof"), SmallLog(&ends, &expected));
  int calls = 0;
  auto result = ReplayLog(&env, dir.File("c.aof"), {}, [&](const LogRecord& r) {
    ++calls;
    if (r.key == "bb") return Status::Corruption("bad object encoding");
    return Status::Ok();
  });
  REQUIRE_FALSE(result.ok());
  CHECK(calls == 2);
  CHECK(result.status().code() == Code::kCorruption);
  CHECK(result.status().message() == dir.File("c.aof") + ": record at offset " +
                                         std::to_string(ends[0]) + ": bad object encoding");
}

TEST_CASE("records larger than the read chunk, torn or whole") {
  TempDir dir;
  PosixEnv env;
  const std::string path = dir.File("big.aof");
  std::string log;
  AppendLogHeader(&log);
  const std::string big(3u << 20, 'b');
  AppendPutRecord(&log, "big1", big);
  AppendPutRecord(&log, "small", "s");
  size_t before_last = log.size();
  AppendPutRecord(&log, "big2", big);
  WriteAll(path, log);
  std::vector<size_t> sizes;
  auto count = [&](const LogRecord& r) {
    sizes.push_back(r.object.size());
    return Status::Ok();
  };
  auto whole = ReplayLog(&env, path, {}, count);
  REQUIRE(whole.ok());
  CHECK(sizes == std::vector<size_t>{big.size(), 1, big.size()});

  sizes.clear();
  WriteAll(path, log.substr(0, log.size() - 100));
  auto torn = ReplayLog(&env, path, {}, count);
  REQUIRE(torn.ok());
  CHECK(sizes == std::vector<size_t>{big.size(), 1});
  CHECK(torn.value().torn_offset == before_last);

  // Damage inside the first big record, skipped to the records after it.
  sizes.clear();
  std::string bad = log;
  bad[kLogHeaderSize + 2000000] ^= 1;
  WriteAll(path, bad);
  ReplayOptions skip;
  skip.skip_corrupt = true;
  auto skipped = ReplayLog(&env, path, skip, count);
  REQUIRE(skipped.ok());
  CHECK(sizes == std::vector<size_t>{1, big.size()});
}

}  // namespace
}  // namespace shoal::storage
