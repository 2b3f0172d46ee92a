// The bit commands, LCS, OBJECT and MEMORY through the command table: what
// the keyspace makes of them (TTL kept, counters read as strings, siblings
// refused, BITOP's empty result deleting) and their rows. Reply bytes for
// every argument combination are compared with redis-server in
// tests/integration/test_bits.py.

#include <doctest/doctest.h>

#include "storage/eviction.h"
#include "tests/unit/server/command_harness.h"

namespace shoal::server {
namespace {

using namespace testing;

constexpr std::string_view kConflict2 =
    "CONFLICT 2 siblings: resolve them with GETV and a SETV carrying its context";

// Two concurrent versions of `key`.
void MakeSiblings(CommandHarness& h, std::string_view key) {
  storage::VersionVector none;
  REQUIRE(h.keyspace().Update(key, none, storage::Version::Bytes("a", h.now_ms), h.now_ms).ok());
  REQUIRE(h.keyspace().Update(key, none, storage::Version::Bytes("b", h.now_ms), h.now_ms).ok());
}

// Runs a subcommand of a container (OBJECT, MEMORY) as the dispatcher does.
std::string RunSub(CommandHarness& h, std::vector<std::string> args) {
  const CommandSpec* parent = h.table().Find(args[0]);
  REQUIRE(parent != nullptr);
  const CommandSpec* sub = CommandTable::FindSub(*parent, args[1]);
  REQUIRE(sub != nullptr);
  REQUIRE(ArityOk(sub->arity, args.size()));
  std::string out;
  ReplyBuilder reply(&out);
  storage::Store& store = h.store();
  ClientState client;
  CommandContext ctx{args, reply, store, h.keyspace(), h.now_ms, client, nullptr};
  sub->handler(ctx);
  return out;
}

TEST_CASE("bit commands: replies of the basic forms") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SETBIT", "b", "7", "1"}, Int(0)},
                     {{"SETBIT", "b", "7", "0"}, Int(1)},
                     {{"SETBIT", "b", "9", "1"}, Int(0)},
                     {{"GET", "b"}, Bulk(std::string("\x00\x40", 2))},
                     {{"GETBIT", "b", "9"}, Int(1)},
                     {{"GETBIT", "missing", "9"}, Int(0)},
                     {{"SET", "s", "foobar"}, Ok()},
                     {{"BITCOUNT", "s"}, Int(26)},
                     {{"BITCOUNT", "s", "1", "1"}, Int(6)},
                     {{"BITCOUNT", "s", "5", "30", "BIT"}, Int(17)},
                     {{"BITCOUNT", "s", "-1", "-2", "junk"}, Int(0)},
                     {{"BITCOUNT", "s", "0"}, Err(errors::kSyntax)},
                     {{"BITPOS", "s", "2"}, Err(errors::kBitArgument)},
                     {{"BITPOS", "missing", "0"}, Int(0)},
                     {{"BITPOS", "missing", "1"}, Int(-1)},
                     {{"SETBIT", "b", "1", "2"}, Err(errors::kBitValue)},
                     {{"SETBIT", "b", "-1", "1"}, Err(errors::kBitOffset)},
                 });
}

TEST_CASE("SETBIT and BITFIELD keep the TTL; BITOP's destination loses it") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "k", "a", "EX", "100"}, Ok()},
                     {{"SETBIT", "k", "20", "1"}, Int(0)},
                     {{"TTL", "k"}, Int(100)},
                     {{"BITFIELD", "k", "SET", "u8", "0", "66"}, Arr({Int('a')})},
                     {{"TTL", "k"}, Int(100)},
                     {{"SET", "d", "x", "EX", "100"}, Ok()},
                     {{"BITOP", "OR", "d", "k"}, Int(3)},
                     {{"TTL", "d"}, Int(-1)},
                 });
}

TEST_CASE("SETBIT's offset is bounded by proto-max-bulk-len") {
  CommandHarness h;
  h.proto_max_bulk_len = 4;
  CHECK(h.Run({"SETBIT", "k", "31", "1"}) == Int(0));
  CHECK(h.Run({"SETBIT", "k", "32", "1"}) == Err(errors::kBitOffset));
  CHECK(h.Run({"BITFIELD", "k", "GET", "u8", "#4"}) == Err(errors::kBitOffset));
}

TEST_CASE("a counter reads as its decimal string; a bit write makes it a string") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"INCRBY", "c", "255"}, Int(255)},
                     {{"BITCOUNT", "c"}, Int(11)},  // "255" = 0x32 0x35 0x35
                     {{"SETBIT", "c", "7", "1"}, Int(0)},
                     {{"GET", "c"}, Bulk("355")},
                     {{"INCR", "c"}, Int(356)},
                     {{"LCS", "c", "c"}, Bulk("356")},
                 });
}

TEST_CASE("siblings: read-modify-write and reads of one value reply CONFLICT") {
  CommandHarness h;
  MakeSiblings(h, "k");
  CHECK(h.Run({"SETBIT", "k", "1", "1"}) == Err(kConflict2));
  CHECK(h.Run({"GETBIT", "k", "1"}) == Err(kConflict2));
  CHECK(h.Run({"BITCOUNT", "k"}) == Err(kConflict2));
  CHECK(h.Run({"BITPOS", "k", "1"}) == Err(kConflict2));
  CHECK(h.Run({"BITFIELD", "k", "GET", "u8", "0"}) == Err(kConflict2));
  CHECK(h.Run({"BITOP", "AND", "d", "k"}) == Err(kConflict2));
  CHECK(h.Run({"LCS", "k", "other"}) == Err(kConflict2));
  CHECK(h.Run({"APPEND", "k", "x"}) == Err(kConflict2));
  CHECK(h.Run({"INCR", "k"}) == Err(kConflict2));  // one wording for every command
  CHECK(h.Run({"EXISTS", "d"}) == Int(0));
  // OBJECT ENCODING answers for a key with siblings: raw.
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "k"}) == Bulk("raw"));
}

TEST_CASE("BITOP with only empty sources deletes the destination") {
  CommandHarness h;
  ExpectSteps(h, {
                     {{"SET", "d", "x"}, Ok()},
                     {{"BITOP", "AND", "d", "none1", "none2"}, Int(0)},
                     {{"EXISTS", "d"}, Int(0)},
                     {{"BITOP", "NOT", "d", "a", "b"}, Err(errors::kBitopNotOneKey)},
                     {{"BITOP", "NAND", "d", "a"}, Err(errors::kSyntax)},
                 });
}

TEST_CASE("BITFIELD: a write whose every operation fails still creates the key") {
  CommandHarness h;
  ExpectSteps(h,
              {
                  {{"BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"}, Arr({Nil()})},
                  {{"GET", "k"}, Bulk(std::string(1, '\0'))},
                  {{"BITFIELD", "r", "GET", "u8", "0"}, Arr({Int(0)})},
                  {{"EXISTS", "r"}, Int(0)},
                  {{"BITFIELD_RO", "k", "SET", "u8", "0", "1"}, Err(errors::kBitfieldRoGetOnly)},
                  {{"BITFIELD", "k", "GET", "u64", "0"}, Err(errors::kBitfieldType)},
                  {{"BITFIELD", "k", "OVERFLOW", "X"}, Err(errors::kBitfieldOverflowType)},
              });
}

TEST_CASE("LCS replies: string, LEN, IDX (RESP2: an array of four)") {
  CommandHarness h;
  CHECK(h.Run({"MSET", "a", "ohmytext", "b", "mynewtext"}) == Ok());
  CHECK(h.Run({"LCS", "a", "b"}) == Bulk("mytext"));
  CHECK(h.Run({"LCS", "a", "b", "LEN"}) == Int(6));
  CHECK(h.Run({"LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}) ==
        Arr({Bulk("matches"), Arr({Arr({Arr({Int(4), Int(7)}), Arr({Int(5), Int(8)}), Int(4)})}),
             Bulk("len"), Int(6)}));
  CHECK(h.Run({"LCS", "a", "b", "LEN", "IDX"}) == Err(errors::kLcsLenAndIdx));
  h.proto_max_bulk_len = 100;
  CHECK(h.Run({"LCS", "a", "b"}) == Err(errors::kLcsExceedsLimit));
}

TEST_CASE("OBJECT ENCODING, REFCOUNT, FREQ, IDLETIME") {
  CommandHarness h;
  REQUIRE(h.Run({"SET", "i", "42"}) == Ok());
  REQUIRE(h.Run({"SET", "big", "70000"}) == Ok());
  REQUIRE(h.Run({"SET", "e", std::string(44, 'x')}) == Ok());
  REQUIRE(h.Run({"SET", "r", std::string(45, 'x')}) == Ok());
  REQUIRE(h.Run({"INCR", "c"}) == Int(1));
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "i"}) == Bulk("int"));
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "c"}) == Bulk("int"));
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "e"}) == Bulk("embstr"));
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "r"}) == Bulk("raw"));
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "none"}) == Nil());
  CHECK(RunSub(h, {"OBJECT", "REFCOUNT", "i"}) == Int(2147483647));
  CHECK(RunSub(h, {"OBJECT", "REFCOUNT", "big"}) == Int(1));
  CHECK(RunSub(h, {"OBJECT", "FREQ", "i"}) == Err(errors::kObjectFreqNeedsLfu));
  CHECK(RunSub(h, {"OBJECT", "FREQ", "none"}) == Nil());
  h.AdvanceMs(5000);
  CHECK(RunSub(h, {"OBJECT", "IDLETIME", "i"}) == Int(5));
  // OBJECT and MEMORY USAGE do not count as accesses.
  CHECK(RunSub(h, {"OBJECT", "ENCODING", "i"}) == Bulk("int"));
  CHECK(RunSub(h, {"MEMORY", "USAGE", "i"}).rfind(":", 0) == 0);
  CHECK(RunSub(h, {"OBJECT", "IDLETIME", "i"}) == Int(5));
  CHECK(h.Run({"GET", "i"}) == Bulk("42"));
  CHECK(RunSub(h, {"OBJECT", "IDLETIME", "i"}) == Int(0));
  h.store().SetEvictionPolicy(storage::EvictionPolicy::kAllKeysLfu);
  CHECK(RunSub(h, {"OBJECT", "IDLETIME", "i"}) == Err(errors::kObjectIdleWithLfu));
  CHECK(RunSub(h, {"OBJECT", "FREQ", "i"}).rfind(":", 0) == 0);
}

TEST_CASE("MEMORY USAGE grows with the value, the key, a TTL and siblings") {
  CommandHarness h;
  REQUIRE(h.Run({"SET", "k", "v"}) == Ok());
  REQUIRE(h.Run({"SET", "long-key-name-of-some-length", "v"}) == Ok());
  REQUIRE(h.Run({"SET", "big", std::string(1000, 'x')}) == Ok());
  REQUIRE(h.Run({"SET", "ttl", std::string(1000, 'x'), "EX", "100"}) == Ok());
  auto usage = [&](std::string key) {
    std::string r = RunSub(h, {"MEMORY", "USAGE", key});
    REQUIRE(r.rfind(":", 0) == 0);
    return std::stoll(r.substr(1));
  };
  const int64_t small = usage("k");
  CHECK(small >= 64);
  CHECK(small <= 128);
  CHECK(usage("long-key-name-of-some-length") > small);
  CHECK(usage("big") >= 1000 + 64);
  CHECK(usage("big") <= 1000 + 200);
  CHECK(usage("ttl") > usage("big"));
  MakeSiblings(h, "sib");
  REQUIRE(h.Run({"SET", "one", "a"}) == Ok());
  CHECK(usage("sib") > usage("one"));
  CHECK(RunSub(h, {"MEMORY", "USAGE", "none"}) == Nil());
  CHECK(RunSub(h, {"MEMORY", "USAGE", "k", "SAMPLES", "-1"}) == Err(errors::kSyntax));
  CHECK(RunSub(h, {"MEMORY", "USAGE", "k", "SAMPLES"}) == Err(errors::kSyntax));
  CHECK(RunSub(h, {"MEMORY", "USAGE", "k", "SAMPLES", "0"}).rfind(":", 0) == 0);
}

TEST_CASE("rows match redis-server 7.0.15's COMMAND INFO") {
  CommandHarness h;
  CheckRows(h, {
                   {"setbit", 4, kCmdWrite | kCmdDenyOom, 1, 1, 1, "bitmap"},
                   {"getbit", 3, kCmdReadonly | kCmdFast, 1, 1, 1, "bitmap"},
                   {"bitcount", -2, kCmdReadonly, 1, 1, 1, "bitmap"},
                   {"bitpos", -3, kCmdReadonly, 1, 1, 1, "bitmap"},
                   {"bitop", -4, kCmdWrite | kCmdDenyOom, 2, -1, 1, "bitmap"},
                   {"bitfield", -2, kCmdWrite | kCmdDenyOom, 1, 1, 1, "bitmap"},
                   {"bitfield_ro", -2, kCmdReadonly | kCmdFast, 1, 1, 1, "bitmap"},
                   {"lcs", -3, kCmdReadonly, 1, 2, 1, "string"},
                   {"object", -2, 0, 0, 0, 0, "generic"},
                   {"memory", -2, 0, 0, 0, 0, "server"},
               });
  CHECK(h.table().Find("bitop")->route.split == cluster::Split::kSameReplicas);
  CHECK(h.table().Find("lcs")->route.split == cluster::Split::kSameReplicas);
}

TEST_CASE("unsupported commands name the reason of their family") {
  CommandTable t;
  RegisterUnsupportedCommands(t);
  CHECK(t.IsUnsupported("LPUSH"));
  CHECK(t.UnsupportedError("LPUSH") ==
        "ERR unsupported command 'LPUSH': lists are not implemented yet (see README, Commands)");
  CHECK(t.UnsupportedError("publish").find("pub/sub is not implemented") != std::string::npos);
  CHECK(t.UnsupportedError("replicaof").find("replicates by quorum") != std::string::npos);
  CHECK(t.UnsupportedError("swapdb").find("single database") != std::string::npos);
  // Implemented now: not in the table.
  for (const char* name : {"setbit", "bitfield", "lcs", "object", "memory"}) {
    CAPTURE(name);
    CHECK_FALSE(t.IsUnsupported(name));
  }
}

}  // namespace
}  // namespace shoal::server
