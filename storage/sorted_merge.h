#pragma once
// MergeByActor: the join of two vectors of per-actor entries sorted by actor
// (version vectors, PN-counters). Entries present on one side are kept;
// entries on both sides are combined by `join`. The result stays sorted.

#include <utility>
#include <vector>

namespace shoal::storage {

template <typename Entry, typename Join>
std::vector<Entry> MergeByActor(const std::vector<Entry>& a, const std::vector<Entry>& b,
                                Join join) {
  std::vector<Entry> out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].actor < b[j].actor)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].actor < a[i].actor) {
      out.push_back(b[j++]);
    } else {
      out.push_back(join(a[i++], b[j++]));
    }
  }
  return out;
}

}  // namespace shoal::storage
