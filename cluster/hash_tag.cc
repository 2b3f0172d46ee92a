#include "cluster/hash_tag.h"

namespace shoal::cluster {

std::string_view HashTag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  // No '}', or "{}": Redis hashes the whole key.
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

}  // namespace shoal::cluster
