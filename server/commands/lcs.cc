#include "server/commands/lcs.h"

#include <algorithm>
#include <memory>
#include <new>

#include "facade/errors.h"

namespace shoal::server {

storage::Result<LcsResult> ComputeLcs(std::string_view a, std::string_view b,
                                      const LcsOptions& options) {
  namespace errors = facade::errors;
  if (a.size() >= UINT32_MAX - 1 || b.size() >= UINT32_MAX - 1) {
    return storage::Status::Invalid(std::string(errors::kLcsTooLong));
  }
  const uint64_t alen = a.size();
  const uint64_t blen = b.size();
  const uint64_t cells = (alen + 1) * (blen + 1);
  if (cells * sizeof(uint32_t) > options.max_table_bytes) {
    return storage::Status::Invalid(std::string(errors::kLcsExceedsLimit));
  }
  std::unique_ptr<uint32_t[]> table(new (std::nothrow) uint32_t[cells]);
  if (!table) return storage::Status::Invalid(std::string(errors::kLcsNoMemory));
  // table[i * (blen + 1) + j]: LCS length of a[0..i) and b[0..j).
  auto at = [&](uint64_t i, uint64_t j) -> uint32_t& { return table[i * (blen + 1) + j]; };
  for (uint64_t i = 0; i <= alen; ++i) {
    for (uint64_t j = 0; j <= blen; ++j) {
      if (i == 0 || j == 0) {
        at(i, j) = 0;
      } else if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }

  LcsResult out;
  out.len = at(alen, blen);
  if (!options.want_string && !options.want_matches) return out;
  if (options.want_string) out.subsequence.assign(out.len, '\0');

  // Walk back from the end. Consecutive diagonal steps form one run; a run
  // ends at the first non-matching step or at the start of either string.
  // On a tie Redis steps back in b (j), and so do we: the runs reported
  // depend on it.
  bool in_run = false;
  LcsMatch run;
  auto end_run = [&] {
    if (!in_run) return;
    in_run = false;
    run.len = run.a_end - run.a_start + 1;
    if (options.want_matches &&
        (options.min_match_len == 0 || static_cast<int64_t>(run.len) >= options.min_match_len)) {
      out.matches.push_back(run);
    }
  };
  uint64_t i = alen;
  uint64_t j = blen;
  uint32_t idx = out.len;
  while (i > 0 && j > 0) {
    if (a[i - 1] == b[j - 1]) {
      if (options.want_string) out.subsequence[idx - 1] = a[i - 1];
      if (!in_run) {
        in_run = true;
        run.a_end = static_cast<uint32_t>(i - 1);
        run.b_end = static_cast<uint32_t>(j - 1);
      }
      run.a_start = static_cast<uint32_t>(i - 1);
      run.b_start = static_cast<uint32_t>(j - 1);
      --idx;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      end_run();
    }
  }
  end_run();
  return out;
}

}  // namespace shoal::server
