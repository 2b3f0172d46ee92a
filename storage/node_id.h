#pragma once
// The node's stable identity: 40 lower-case hex characters (as Redis Cluster
// node ids), generated at first start and kept in `dir`, so that a node keeps
// its id (and its place in version vectors and on the ring) across restarts
// and address changes.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace shoal::storage {

// Name of the file in `dir` that holds the id.
inline constexpr const char* kNodeIdFile = "node-id";

// Reads the id from dir/node-id, or creates one from `random_bytes` (at least
// 20 bytes of randomness) and stores it durably (write a temporary file,
// fsync, rename, fsync the directory). Fails if the file exists but is not a
// valid id, or on any I/O error.
Result<std::string> LoadOrCreateNodeId(const std::string& dir, const std::string& random_bytes);

// True if `id` is 40 lower-case hex characters.
bool IsValidNodeId(const std::string& id);

// A 20-byte binary id derived from a node's binary id and an epoch: the
// actor a node writes as while standing in for unreachable primaries
// (Keyspace::StandInWriter). Deterministic; distinct epochs give distinct
// ids (up to hash collisions of 160 bits' worth of XXH3).
std::string DerivedNodeId(std::string_view binary_id, uint64_t epoch);

}  // namespace shoal::storage
