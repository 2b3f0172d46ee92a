// TicTacTree: two trees of random key sets that differ in exactly k keys
// lead, by descending through branches and segments, to exactly those keys;
// updates commute; adding then removing restores; serialization round trips
// and refuses damage.

#include "cluster/tictac_tree.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace shoal::cluster {
namespace {

using Keys = std::map<std::string, uint64_t>;  // key -> object digest

TicTacTree TreeOf(const Keys& keys) {
  TicTacTree t;
  for (const auto& [k, d] : keys) t.Toggle(KeyTreeHash(k), d);
  return t;
}

std::vector<KeyDigest> List(const Keys& keys, const std::set<uint32_t>& segments) {
  std::vector<KeyDigest> out;
  for (const auto& [k, d] : keys) {
    if (segments.contains(TicTacTree::SegmentOf(KeyTreeHash(k)))) out.push_back({k, d});
  }
  return out;
}

// The descent anti-entropy does: differing branches, then their segments.
std::set<uint32_t> DifferingSegments(const TicTacTree& a, const TicTacTree& b) {
  std::vector<uint64_t> ba(a.branches().begin(), a.branches().end());
  std::vector<uint64_t> bb(b.branches().begin(), b.branches().end());
  std::set<uint32_t> out;
  for (uint32_t br : DifferingIndexes(ba, bb)) {
    std::vector<uint64_t> sa, sb;
    for (uint32_t w = 0; w < TicTacTree::kBranchWidth; ++w) {
      sa.push_back(a.segment(br * TicTacTree::kBranchWidth + w));
      sb.push_back(b.segment(br * TicTacTree::kBranchWidth + w));
    }
    for (uint32_t w : DifferingIndexes(sa, sb)) out.insert(br * TicTacTree::kBranchWidth + w);
  }
  return out;
}

TEST_CASE("trees of stores differing in k keys find exactly those keys") {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937_64 rng(seed);
    Keys a;
    const size_t n = 2000 + rng() % 3000;
    for (size_t i = 0; i < n; ++i) a["key:" + std::to_string(rng())] = rng();
    Keys b = a;
    const size_t k = 1 + rng() % 60;
    std::set<std::string> changed;
    std::vector<std::string> names;
    for (const auto& [key, d] : a) names.push_back(key);
    while (changed.size() < k) {
      switch (rng() % 3) {
        case 0: {  // a different object on b
          const std::string& key = names[rng() % names.size()];
          if (changed.insert(key).second) b[key] = rng();
          break;
        }
        case 1: {  // missing on b
          const std::string& key = names[rng() % names.size()];
          if (changed.insert(key).second) b.erase(key);
          break;
        }
        default: {  // only on b
          std::string key = "new:" + std::to_string(rng());
          if (changed.insert(key).second) b[key] = rng();
        }
      }
    }
    CAPTURE(seed);
    CAPTURE(k);
    const TicTacTree ta = TreeOf(a), tb = TreeOf(b);
    CHECK(ta.root() != tb.root());

    std::set<uint32_t> expected;
    for (const std::string& key : changed) expected.insert(TicTacTree::SegmentOf(KeyTreeHash(key)));
    const std::set<uint32_t> segments = DifferingSegments(ta, tb);
    CHECK(segments == expected);

    std::vector<std::string> keys = DifferingKeys(List(a, segments), List(b, segments));
    CHECK(keys == std::vector<std::string>(changed.begin(), changed.end()));
  }
}

TEST_CASE("equal key sets give equal trees, whatever the update order") {
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::string, uint64_t>> keys;
  for (int i = 0; i < 500; ++i) keys.emplace_back("k" + std::to_string(i), rng());
  TicTacTree a, b;
  for (const auto& [k, d] : keys) a.Toggle(KeyTreeHash(k), d);
  std::shuffle(keys.begin(), keys.end(), rng);
  // b also sees an older version of each key first, then replaces it.
  for (const auto& [k, d] : keys) {
    b.Toggle(KeyTreeHash(k), d ^ 1);
    b.Toggle(KeyTreeHash(k), d ^ 1);
    b.Toggle(KeyTreeHash(k), d);
  }
  CHECK(a == b);
  CHECK(a.root() == b.root());
  CHECK(DifferingSegments(a, b).empty());
}

TEST_CASE("adding then removing a key restores the tree") {
  TicTacTree t;
  t.Toggle(KeyTreeHash("x"), 1);
  t.Toggle(KeyTreeHash("y"), 2);
  const TicTacTree before = t;
  t.Toggle(KeyTreeHash("z"), 3);
  CHECK_FALSE(t == before);
  t.Toggle(KeyTreeHash("z"), 3);
  CHECK(t == before);
  t.Toggle(KeyTreeHash("x"), 1);
  t.Toggle(KeyTreeHash("y"), 2);
  CHECK(t.empty());
  CHECK(t.root() == 0);
}

TEST_CASE("the same digest under two keys contributes differently") {
  TicTacTree a, b;
  a.Toggle(KeyTreeHash("a"), 42);
  b.Toggle(KeyTreeHash("b"), 42);
  CHECK(a.root() != b.root());
}

TEST_CASE("serialization round trips; damaged bytes are refused") {
  TicTacTree t;
  for (int i = 0; i < 300; ++i) t.Toggle(KeyTreeHash(std::to_string(i)), i * 7919u);
  const std::string bytes = t.Serialize();
  auto back = TicTacTree::Deserialize(bytes);
  REQUIRE(back.ok());
  CHECK(back.value() == t);
  CHECK(back.value().branches() == t.branches());
  CHECK(back.value().root() == t.root());

  CHECK_FALSE(TicTacTree::Deserialize("").ok());
  CHECK_FALSE(TicTacTree::Deserialize(bytes.substr(0, bytes.size() - 1)).ok());
  CHECK_FALSE(TicTacTree::Deserialize(bytes + "x").ok());
  std::string magic = bytes;
  magic[0] = 'X';
  CHECK_FALSE(TicTacTree::Deserialize(magic).ok());
  std::string shape = bytes;
  shape[3] ^= 1;  // segment count
  CHECK_FALSE(TicTacTree::Deserialize(shape).ok());
  std::string width = bytes;
  width[7] ^= 1;  // branch width
  CHECK_FALSE(TicTacTree::Deserialize(width).ok());
}

TEST_CASE("hash lists: round trip, wrong lengths refused") {
  const std::vector<uint64_t> h{0, 1, ~uint64_t{0}, 0x0123456789abcdefULL};
  auto back = DecodeHashes(EncodeHashes(h.data(), h.size()), h.size());
  REQUIRE(back.ok());
  CHECK(back.value() == h);
  CHECK_FALSE(DecodeHashes(EncodeHashes(h.data(), h.size()), 3).ok());
  CHECK_FALSE(DecodeHashes("1234567", 1).ok());
  CHECK(DecodeHashes("", 0).ok());
}

TEST_CASE("DifferingKeys: one-sided, changed, equal") {
  std::vector<KeyDigest> a{{"b", 2}, {"a", 1}, {"c", 3}};
  std::vector<KeyDigest> b{{"c", 3}, {"d", 4}, {"b", 9}};
  CHECK(DifferingKeys(a, b) == std::vector<std::string>{"a", "b", "d"});
  CHECK(DifferingKeys(a, a).empty());
  CHECK(DifferingKeys({}, {}).empty());
}

}  // namespace
}  // namespace shoal::cluster
