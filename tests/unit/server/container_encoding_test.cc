// OBJECT ENCODING's names for containers (server/commands/
// container_encoding.h): Redis 7.0's default thresholds, at their edges.

#include "server/commands/container_encoding.h"

#include <doctest/doctest.h>

#include <string>

namespace shoal::server {
namespace {

using storage::Dot;

TEST_CASE("hash: listpack up to 128 fields of up to 64 bytes, then hashtable") {
  storage::ActorTable actors;
  const storage::ActorId a = actors.Intern(std::string(40, 'a')).value();
  storage::OrHash hash;
  uint64_t c = 0;
  for (int i = 0; i < 128; ++i) hash.Set("f" + std::to_string(i), "v", Dot{a, ++c}, 1);
  CHECK(HashEncoding(hash, actors) == "listpack");
  hash.Set("f128", "v", Dot{a, ++c}, 1);
  CHECK(HashEncoding(hash, actors) == "hashtable");
  hash.Remove("f128");
  hash.Set("f0", std::string(64, 'x'), Dot{a, ++c}, 1);
  CHECK(HashEncoding(hash, actors) == "listpack");
  hash.Set("f0", std::string(65, 'x'), Dot{a, ++c}, 1);
  CHECK(HashEncoding(hash, actors) == "hashtable");
  hash.Set("f0", "v", Dot{a, ++c}, 1);
  hash.Set(std::string(65, 'k'), "v", Dot{a, ++c}, 1);
  hash.Remove("f1");
  CHECK(HashEncoding(hash, actors) == "hashtable");
}

TEST_CASE("set: intset for up to 512 integers, else hashtable") {
  storage::ActorTable actors;
  const storage::ActorId a = actors.Intern(std::string(40, 'a')).value();
  storage::OrSet set;
  uint64_t c = 0;
  for (int i = 0; i < 512; ++i) set.Add(std::to_string(i - 100), Dot{a, ++c});
  CHECK(SetEncoding(set) == "intset");
  CHECK(SetIsCompact(set));
  set.Add("512", Dot{a, ++c});
  CHECK(SetEncoding(set) == "hashtable");
  storage::OrSet small;
  small.Add("01", Dot{a, ++c});  // not string2ll's form of an integer
  CHECK(SetEncoding(small) == "hashtable");
  storage::OrSet big;
  big.Add("9223372036854775808", Dot{a, ++c});  // past int64
  CHECK(SetEncoding(big) == "hashtable");
}

TEST_CASE("zset: listpack up to 128 members of up to 64 bytes, then skiplist") {
  storage::ActorTable actors;
  const storage::ActorId a = actors.Intern(std::string(40, 'a')).value();
  storage::OrZset zset;
  uint64_t c = 0;
  for (int i = 0; i < 128; ++i) zset.Add("m" + std::to_string(i), i, Dot{a, ++c}, 1);
  CHECK(ZsetEncoding(zset) == "listpack");
  zset.Add(std::string(65, 'x'), 1, Dot{a, ++c}, 1);
  CHECK(ZsetEncoding(zset) == "skiplist");
}

}  // namespace
}  // namespace shoal::server
