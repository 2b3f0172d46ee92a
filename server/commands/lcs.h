#pragma once
// The longest common subsequence of two strings, as Redis's LCS command
// computes it (t_string.c, lcsCommand): the classic dynamic-programming
// table of LCS lengths, walked back from the end to build the subsequence
// and the matching ranges. Pure; the command handler (cmd_lcs.cc) reads the
// keys and shapes the reply.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace shoal::server {

// One run of consecutive matching bytes: a[a_start..a_end] equals
// b[b_start..b_end] (inclusive), len bytes long.
struct LcsMatch {
  uint32_t a_start = 0;
  uint32_t a_end = 0;
  uint32_t b_start = 0;
  uint32_t b_end = 0;
  uint32_t len = 0;
};

struct LcsOptions {
  bool want_string = true;    // build the subsequence (not needed for LEN)
  bool want_matches = false;  // collect the runs (IDX)
  int64_t min_match_len = 0;  // runs shorter than this are left out (0: none)
  // The table is (|a|+1)*(|b|+1) 32-bit cells; inputs needing more bytes
  // than this are refused (Redis bounds it by proto-max-bulk-len).
  uint64_t max_table_bytes = 512ull * 1024 * 1024;
};

struct LcsResult {
  uint32_t len = 0;               // length of the longest common subsequence
  std::string subsequence;        // if want_string
  std::vector<LcsMatch> matches;  // if want_matches: from the end of the strings backwards
};

// Errors, in Redis's words: Code::kInvalid with
// "ERR String too long for LCS",
// "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len" or
// "ERR Insufficient memory, failed allocating transient memory for LCS".
storage::Result<LcsResult> ComputeLcs(std::string_view a, std::string_view b,
                                      const LcsOptions& options);

}  // namespace shoal::server
