// lcs.h: Redis's examples, and random strings against a second, simpler
// computation of the LCS length.

#include "server/commands/lcs.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

namespace shoal::server {
namespace {

uint32_t ModelLength(const std::string& a, const std::string& b) {
  std::vector<uint32_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool IsSubsequence(const std::string& sub, const std::string& s) {
  size_t i = 0;
  for (char c : s) {
    if (i < sub.size() && sub[i] == c) ++i;
  }
  return i == sub.size();
}

TEST_CASE("LCS: Redis's documented example") {
  LcsOptions o;
  o.want_matches = true;
  auto r = ComputeLcs("ohmytext", "mynewtext", o);
  REQUIRE(r.ok());
  CHECK(r.value().len == 6);
  CHECK(r.value().subsequence == "mytext");
  REQUIRE(r.value().matches.size() == 2);
  const LcsMatch& m0 = r.value().matches[0];
  CHECK((m0.a_start == 4 && m0.a_end == 7 && m0.b_start == 5 && m0.b_end == 8 && m0.len == 4));
  const LcsMatch& m1 = r.value().matches[1];
  CHECK((m1.a_start == 2 && m1.a_end == 3 && m1.b_start == 0 && m1.b_end == 1 && m1.len == 2));
  o.min_match_len = 4;
  CHECK(ComputeLcs("ohmytext", "mynewtext", o).value().matches.size() == 1);
}

TEST_CASE("LCS: empty inputs, and the memory bound") {
  auto r = ComputeLcs("", "abc", {});
  REQUIRE(r.ok());
  CHECK(r.value().len == 0);
  CHECK(r.value().subsequence.empty());
  LcsOptions small;
  small.max_table_bytes = 4 * 11 * 11 - 1;
  auto refused = ComputeLcs(std::string(10, 'a'), std::string(10, 'a'), small);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  small.max_table_bytes = 4 * 11 * 11;
  CHECK(ComputeLcs(std::string(10, 'a'), std::string(10, 'a'), small).value().len == 10);
}

TEST_CASE("LCS agrees with a model; its subsequence and matches are consistent") {
  std::mt19937_64 rng(9);
  for (int iter = 0; iter < 400; ++iter) {
    auto gen = [&] {
      std::string s(rng() % 30, 'a');
      for (char& c : s) c = static_cast<char>('a' + rng() % 4);
      return s;
    };
    const std::string a = gen(), b = gen();
    LcsOptions o;
    o.want_matches = true;
    auto r = ComputeLcs(a, b, o);
    REQUIRE(r.ok());
    const LcsResult& res = r.value();
    CAPTURE(a);
    CAPTURE(b);
    CHECK(res.len == ModelLength(a, b));
    CHECK(res.subsequence.size() == res.len);
    CHECK(IsSubsequence(res.subsequence, a));
    CHECK(IsSubsequence(res.subsequence, b));
    uint32_t total = 0;
    for (const LcsMatch& m : res.matches) {
      CHECK(a.substr(m.a_start, m.len) == b.substr(m.b_start, m.len));
      CHECK(m.a_end - m.a_start + 1 == m.len);
      CHECK(m.b_end - m.b_start + 1 == m.len);
      total += m.len;
    }
    CHECK(total == res.len);  // with no MINMATCHLEN every matched byte is in a run
  }
}

}  // namespace
}  // namespace shoal::server
