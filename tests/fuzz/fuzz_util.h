#pragma once
// Helpers shared by the libFuzzer targets of tests/fuzz/: a loud invariant
// check and the checksum fix-up that lets mutations reach the code behind a
// format's checksum.

#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace shoal::fuzz {

// Aborts (libFuzzer then saves the input as crash-*) when `ok` is false.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// `body` followed by the low `bytes` bytes, little-endian, of XXH3_64bits of
// `body`: the trailer of the membership state (8 bytes), context tokens and
// log frames (4 bytes).
inline std::string WithChecksum(std::string_view body, size_t bytes) {
  const uint64_t sum = XXH3_64bits(body.data(), body.size());
  std::string out(body);
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>(sum >> (8 * i)));
  return out;
}

}  // namespace shoal::fuzz
