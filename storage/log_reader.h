#pragma once
// Recovery: ReplayLog() reads the append-only log from the start and hands
// every valid record to a callback, in file order. Format:
// storage/log_format.h.
//
// What it does with damage:
//
//   torn tail   A crash during a write leaves the last record incomplete.
//               Recognised when the first bad frame is
//                 - a header shorter than 8 bytes at the end of the file,
//                 - a length that runs past the end of the file,
//                 - a bad checksum on a frame that ends exactly at the end
//                   of the file, or
//                 - the start of a run of zero bytes up to the end of the
//                   file (a file extended whose data never reached disk),
//               AND no valid frame starts anywhere after it (so a flipped
//               length bit in the middle cannot pass for a torn tail and
//               silently drop the records after it). ReplayLog cuts the file
//               there itself (Env::Truncate, which fsyncs) unless
//               options.truncate_torn_tail is false, and adds the warning
//                 "<path>: torn tail at offset N (M bytes) cut"
//               A file of 1..15 bytes that is a prefix of the header is a
//               torn tail at offset 0.
//
//   damage in the middle   Any other bad frame: bad checksum or bad length
//               with more data after it, an unknown type or a malformed
//               payload. ReplayLog stops with Corruption:
//                 "<path>: corrupt log at offset N: checksum mismatch"
//               With options.skip_corrupt (conf `aof-load-corrupt skip`) it
//               instead scans forward byte by byte for the next frame whose
//               length, checksum, type and payload are all valid, continues
//               there, and adds the warning
//                 "<path>: skipped M bytes of damaged log at offset N (reason)"
//               If nothing valid follows, the damaged rest is cut like a torn
//               tail (and counted as skipped). Records lost in the skipped
//               range are for anti-entropy to repair.
//
//   bad header  Corruption "<path>: not a shoal append-only log (bad magic)"
//               or "<path>: unsupported log format version N (this build
//               reads 1)". Never skipped.
//
//   no file / empty file   An empty log: ok, zero records.
//
// After ReplayLog returns ok the file ends after its last valid record, so a
// LogWriter can be opened on it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/file.h"
#include "storage/log_format.h"
#include "storage/status.h"

namespace shoal::storage {

struct ReplayOptions {
  bool skip_corrupt = false;       // `aof-load-corrupt skip`
  bool truncate_torn_tail = true;  // cut the file at a torn tail
};

struct ReplayReport {
  uint64_t records = 0;          // records handed to the callback
  uint64_t file_size = 0;        // size before any cut
  uint64_t valid_end = 0;        // where the valid log ends (= size after a cut)
  bool torn_tail = false;        // a torn tail was found (and cut, if enabled)
  uint64_t torn_offset = 0;      // where it started
  uint64_t torn_bytes = 0;       // how long it was
  uint64_t skipped_bytes = 0;    // damaged bytes passed over (skip_corrupt)
  uint64_t skipped_regions = 0;  // damaged ranges passed over (skip_corrupt)
  // Human-readable lines for the server log, one per event above.
  std::vector<std::string> warnings;
};

// Called once per valid record, in file order. The record's views are valid
// only during the call. A non-ok return stops the replay, and ReplayLog
// returns that Status (e.g. the object bytes do not decode).
using ReplayCallback = std::function<Status(const LogRecord&)>;

// Replays the log at `path` as described above. Reads in chunks, so memory
// stays around the size of the largest record, not of the file. `env` is
// used for reading and for the cut.
Result<ReplayReport> ReplayLog(Env* env, const std::string& path, const ReplayOptions& options,
                               const ReplayCallback& callback);

}  // namespace shoal::storage
