#pragma once
// Node ids for the cluster unit tests: 40 hex characters derived from a salt
// and a number, so that each test file has its own distinct, stable ids.

#include <cstdio>
#include <string>
#include <string_view>

#include "cluster/ring.h"

namespace shoal::cluster {

inline NodeId TestNodeId(std::string_view salt, int i) {
  char buf[41];
  const unsigned long long h = KeyHash(std::string(salt) + std::to_string(i));
  std::snprintf(buf, sizeof(buf), "%016llx%016llx%08x", h, ~h, static_cast<unsigned>(i));
  return NodeId(buf);
}

}  // namespace shoal::cluster
