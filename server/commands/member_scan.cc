#include "server/commands/member_scan.h"

#include <xxhash.h>

#include <algorithm>
#include <utility>

namespace shoal::server {

uint64_t MemberScanHash(std::string_view name) {
  const uint64_t h = XXH3_64bits(name.data(), name.size());
  return h == 0 ? 1 : h;
}

MemberScanPage ScanMembers(std::span<const std::string_view> names, uint64_t cursor, size_t count) {
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const uint64_t h = MemberScanHash(names[i]);
    if (h >= cursor) order.emplace_back(h, i);
  }
  std::sort(order.begin(), order.end());
  MemberScanPage page;
  size_t i = 0;
  for (; i < order.size(); ++i) {
    // Past `count`, only members of the last hash taken still come along.
    if (i > 0 && page.positions.size() >= count && order[i].first != order[i - 1].first) break;
    page.positions.push_back(order[i].second);
  }
  page.next_cursor = i < order.size() ? order[i].first : 0;
  return page;
}

}  // namespace shoal::server
