#pragma once
// ElementScan: the cursor of HSCAN, SSCAN and ZSCAN over a convergent
// container. Redis walks its hash table with a reverse-binary cursor
// (dict.c, dictScan); shoal's containers are sorted vectors that every
// write rebuilds, so the cursor is a position in a fixed order instead:
// elements are ordered by a 64-bit hash of their name (XXH3), and a cursor c
// means "the elements whose hash is >= c". A step returns the `count`
// elements of smallest hash from there (elements of one hash never split
// across steps) and the hash of the next element as the new cursor, 0 when
// none is left. The order depends only on the names, never on what else is
// in the container, so Redis's guarantee holds: an element present for the
// whole scan is returned at least once (here exactly once), whatever is
// added or removed meanwhile. A cursor the client invents is just a
// starting hash.
//
// As Redis does for its compact encodings (listpack, intset), a container
// small enough for one is returned whole in one step with cursor 0 (the
// caller decides: see container_encoding.h).
//
// Options (db.c, scanGenericCommand): COUNT n (an integer >= 1, else "ERR
// syntax error"; not an integer: "ERR value is not an integer or out of
// range"), MATCH pattern; anything else is a syntax error. MATCH filters
// after the COUNT budget is spent, so a step may return fewer elements, or
// none, before the end. Pure logic.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace shoal::server {

struct ElementScanOptions {
  int64_t count = 10;
  const std::string* pattern = nullptr;  // nullptr: every element ("*" too)
};

// Parses the options of HSCAN/SSCAN/ZSCAN from args[first] on. The error's
// message is Redis's reply.
storage::Result<ElementScanOptions> ParseElementScanOptions(std::span<const std::string> args,
                                                            size_t first);

// The hash that orders element `name` in a scan.
uint64_t ElementScanHash(std::string_view name);

struct ElementScanStep {
  std::vector<size_t> picked;  // indices into `names`, in scan order
  uint64_t next = 0;           // the cursor to send back; 0 = done
};

// One step over `names` (the container's elements in any order) from
// `cursor`, at most `count` elements (count >= 1; more only when several
// share one hash). MATCH is not applied here.
ElementScanStep ScanElements(std::span<const std::string_view> names, uint64_t cursor,
                             size_t count);

}  // namespace shoal::server
