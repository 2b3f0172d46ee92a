#include "cluster/liveness.h"

#include <algorithm>

namespace shoal::cluster {

Liveness Merge(Liveness a, Liveness b) {
  return std::max(a, b);
}

bool Supersedes(Liveness update, Liveness current) {
  return current < update;
}

std::string_view MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
  }
  return "unknown";
}

}  // namespace shoal::cluster
