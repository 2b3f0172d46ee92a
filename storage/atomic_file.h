#pragma once
// Small files replaced whole and atomically (the dot lease, the cluster's
// membership): written to `<name>.tmp`, fsynced, renamed over `<name>`, and
// the directory fsynced, so after a crash the file holds either the old or
// the new contents, never a mix. Reading takes the whole file.
//
// Through an Env, so tests inject failures. Pure functions; not thread safe
// for one path.

#include <optional>
#include <string>
#include <string_view>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {

// Replaces dir/name with `contents`. Any failed step is returned (a caller
// that promised durability treats it as fatal).
Status WriteFileAtomically(Env* env, const std::string& dir, const std::string& name,
                           std::string_view contents);

// The whole of `path`, or nullopt if it does not exist. Files larger than
// `max_bytes` are Corruption (a small state file never grows that large).
Result<std::optional<std::string>> ReadSmallFile(Env* env, const std::string& path,
                                                 uint64_t max_bytes);

}  // namespace shoal::storage
