#include "server/commands/element_scan.h"

#include <xxhash.h>

#include <algorithm>
#include <utility>

#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::server {

namespace errors = facade::errors;

storage::Result<ElementScanOptions> ParseElementScanOptions(std::span<const std::string> args,
                                                            size_t first) {
  ElementScanOptions o;
  for (size_t i = first; i < args.size(); i += 2) {
    const bool has_value = i + 1 < args.size();
    if (facade::EqualsIgnoreCase(args[i], "count") && has_value) {
      if (!facade::ParseInt64(args[i + 1], &o.count)) {
        return storage::Status::Invalid(std::string(errors::kNotInteger));
      }
      if (o.count < 1) return storage::Status::Invalid(std::string(errors::kSyntax));
    } else if (facade::EqualsIgnoreCase(args[i], "match") && has_value) {
      o.pattern = args[i + 1] == "*" ? nullptr : &args[i + 1];
    } else {
      return storage::Status::Invalid(std::string(errors::kSyntax));
    }
  }
  return o;
}

uint64_t ElementScanHash(std::string_view name) {
  return XXH3_64bits(name.data(), name.size());
}

ElementScanStep ScanElements(std::span<const std::string_view> names, uint64_t cursor,
                             size_t count) {
  // (hash, index) of every element still ahead of the cursor.
  std::vector<std::pair<uint64_t, size_t>> ahead;
  for (size_t i = 0; i < names.size(); ++i) {
    const uint64_t h = ElementScanHash(names[i]);
    if (h >= cursor) ahead.emplace_back(h, i);
  }
  ElementScanStep step;
  if (ahead.size() > count) {
    // Only the `count` smallest need order.
    const auto mid = ahead.begin() + static_cast<std::ptrdiff_t>(count);
    std::nth_element(ahead.begin(), mid, ahead.end());
    std::sort(ahead.begin(), mid);
    // Elements sharing the last hash taken come along, so that the next
    // cursor (a hash) cannot skip or repeat them; the smallest hash after
    // it is the next cursor (> 0: it exceeds a hash already taken).
    const uint64_t last = ahead[count - 1].first;
    std::vector<std::pair<uint64_t, size_t>> taken(ahead.begin(), mid);
    for (auto it = mid; it != ahead.end(); ++it) {
      if (it->first == last) {
        taken.push_back(*it);
      } else if (step.next == 0 || it->first < step.next) {
        step.next = it->first;
      }
    }
    ahead = std::move(taken);
  } else {
    std::sort(ahead.begin(), ahead.end());
  }
  step.picked.reserve(ahead.size());
  for (const auto& [h, i] : ahead) step.picked.push_back(i);
  return step;
}

}  // namespace shoal::server
