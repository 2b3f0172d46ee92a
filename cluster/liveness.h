#pragma once
// Liveness: what one node believes about another's health — alive, suspect or
// dead, at an incarnation — and the merge rule by which every node converges
// on one belief whatever order the rumours arrive in (SWIM, Das et al. 2002,
// section 4.2, with HashiCorp memberlist's reading that an alive of a higher
// incarnation revives a dead member).
//
// The rule is a total order, and Merge is its maximum:
//   (i1, s1) < (i2, s2)  iff  i1 < i2, or i1 == i2 and s1 < s2,
//   with alive < suspect < dead.
// So a higher incarnation wins; at equal incarnation suspect overrides alive
// and dead overrides both. Only the member itself raises its incarnation (to
// refute a suspect or dead claim about it, FailureDetector does it); every
// other node only ever merges. Being a maximum, Merge is commutative,
// associative, idempotent and monotone (the result is >= both inputs), so a
// stale or repeated rumour never changes a belief.
//
// Pure values; no clock, no I/O.

#include <compare>
#include <cstdint>
#include <string_view>

namespace shoal::cluster {

// The order of the enumerators is the merge order; do not reorder.
enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2 };

// Largest incarnation a rumour may carry: a hostile peer cannot push a member
// to where a refutation (incarnation + 1) overflows. Refutations saturate
// here.
inline constexpr uint64_t kMaxIncarnation = uint64_t{1} << 62;

struct Liveness {
  uint64_t incarnation = 0;  // compared first
  MemberState state = MemberState::kAlive;
  // The member order of the top of the file (declaration order matters).
  auto operator<=>(const Liveness&) const = default;
};

// The greater of the two beliefs (see the top of the file).
Liveness Merge(Liveness a, Liveness b);

// True if `update` would change `current`: Merge(current, update) != current.
bool Supersedes(Liveness update, Liveness current);

// "alive", "suspect", "dead".
std::string_view MemberStateName(MemberState state);

}  // namespace shoal::cluster
