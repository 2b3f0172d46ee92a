#include "cluster/hash_tag.h"

#include <doctest/doctest.h>

#include "cluster/ring.h"

namespace shoal::cluster {

TEST_CASE("HashTag follows Redis Cluster's keyHashSlot") {
  struct Case {
    std::string_view key, tag;
  } cases[] = {
      {"plain", "plain"},     {"", ""},         {"{user1000}.following", "user1000"},
      {"foo{bar}zap", "bar"}, {"a{b}{c}", "b"}, {"{a}{b}", "a"},
      {"{}x", "{}x"},                           // empty braces: the whole key
      {"x{}{y}", "x{}{y}"},                     // the first '{' closes at once: the whole key
      {"a{b", "a{b"},                           // no '}'
      {"a}b{c", "a}b{c"},                       // '}' before '{' does not count
      {"a}b{c}", "c"},        {"{{a}}", "{a"},  // from the first '{' to the first '}'
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CHECK(HashTag(c.key) == c.tag);
  }
}

TEST_CASE("keys with one hash tag hash alike, so they share a partition") {
  CHECK(KeyHash("{user1}.a") == KeyHash("{user1}.b"));
  CHECK(KeyHash("{user1}.a") == KeyHash("user1"));
  CHECK(KeyHash("{}a") != KeyHash("{}b"));
  const Ring ring = Ring::Build({"n1", "n2", "n3"}, 256);
  for (int i = 0; i < 50; ++i) {
    const std::string tag = "{t" + std::to_string(i) + "}";
    CHECK(ring.PartitionOf(tag + "x") == ring.PartitionOf("y" + tag + "z{w}"));
  }
}

}  // namespace shoal::cluster
