#include "server/commands/random_pick.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

namespace shoal::server {

uint64_t PickRandom::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

size_t PickRandom::Below(size_t n) {
  // Rejection sampling: no modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = Next();
  } while (v >= limit);
  return static_cast<size_t>(v % n);
}

std::vector<size_t> PickDistinct(size_t n, size_t count, PickRandom& rng) {
  count = std::min(count, n);
  std::vector<size_t> out;
  out.reserve(count);
  // A partial Fisher-Yates shuffle over a virtual identity array: only the
  // swapped slots are stored, so a few picks from a big container cost
  // O(count), not O(n).
  std::unordered_map<size_t, size_t> swapped;
  auto at = [&](size_t i) {
    auto it = swapped.find(i);
    return it == swapped.end() ? i : it->second;
  };
  for (size_t i = 0; i < count; ++i) {
    const size_t j = i + rng.Below(n - i);
    const size_t vi = at(i);
    const size_t vj = at(j);
    out.push_back(vj);
    swapped[j] = vi;
  }
  return out;
}

std::vector<size_t> PickWithRepeats(size_t n, size_t count, PickRandom& rng) {
  std::vector<size_t> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(rng.Below(n));
  return out;
}

}  // namespace shoal::server
