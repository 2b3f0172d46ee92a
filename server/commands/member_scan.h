#pragma once
// MemberScan: the cursor of a SCAN over the members of one container
// (ZSCAN; HSCAN and SSCAN could share it). Redis walks its hash table in
// reverse-binary bucket order; shoal's containers are sorted vectors, so the
// cursor here is a position in the space of 64-bit member hashes instead:
// a call returns the members whose hash (XXH3-64, 0 read as 1) is at or
// past the cursor, in hash order, about `count` of them, and the next
// cursor is the hash of the first member it left out (0: done).
//
// The guarantee SCAN makes holds: a member present from the first call to
// the last is returned at least once, whatever is added or removed between
// calls, because a member's hash never changes. A member may be returned
// twice only if it was returned and the cursor then moved back (a client
// restarting). Members of equal hash are never split across calls, so each
// call makes progress whatever `count` is.
//
// Pure function, O(n log n) per call.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace shoal::server {

struct MemberScanPage {
  std::vector<size_t> positions;  // indexes into the names given, in hash order
  uint64_t next_cursor = 0;       // 0: the scan is complete
};

// `names` in any order; positions refer to it. `count` >= 1.
MemberScanPage ScanMembers(std::span<const std::string_view> names, uint64_t cursor, size_t count);

// The hash a member sorts by (never 0, the end-of-scan cursor).
uint64_t MemberScanHash(std::string_view name);

}  // namespace shoal::server
