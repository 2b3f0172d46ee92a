#pragma once
// RandomPick: which elements of a container SRANDMEMBER, SPOP and
// HRANDFIELD return (t_set.c srandmemberWithCountCommand, t_hash.c
// hrandfieldWithCountCommand). Elements are addressed by their index in the
// container's order; the caller maps indices back to elements. The source
// of randomness is the command's seed (CommandContext::random), so a test
// that fixes the seed gets a fixed answer. Pure logic.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shoal::server {

// A small deterministic generator (splitmix64) seeded by one number.
class PickRandom {
 public:
  explicit PickRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n); n must be > 0.
  size_t Below(size_t n);

 private:
  uint64_t state_;
};

// `count` distinct indices of [0, n) (all of them if count >= n), in random
// order: the positive-count form of the commands.
std::vector<size_t> PickDistinct(size_t n, size_t count, PickRandom& rng);

// `count` indices of [0, n), each drawn independently (repeats allowed):
// the negative-count form. n must be > 0.
std::vector<size_t> PickWithRepeats(size_t n, size_t count, PickRandom& rng);

// The largest |count| shoal answers for the repeating form (Redis streams
// any count; shoal builds the reply in memory, so a count that cannot fit is
// refused with "ERR value is out of range" instead of exhausting memory).
inline constexpr uint64_t kMaxRepeatedPicks = uint64_t{1} << 24;

}  // namespace shoal::server
