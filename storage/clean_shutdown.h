#pragma once
// The clean-shutdown marker: `dir/clean-shutdown`, written once a node's
// log is complete on disk at a clean shutdown (SHUTDOWN, SIGTERM) and taken
// away at the next start, so that a start knows whether the run before it
// ended cleanly or crashed (kill -9, power loss, a failed fsync).
//
// Why it matters: a node's new write gets a dot of its own actor that covers
// every earlier dot of that actor (version vectors), so a node may only
// write as its actor while its store holds every write it made. After a
// crash under `appendfsync everysec` or `no` the log may lack its last
// writes, which replicas hold; the node then writes as a fresh actor for the
// whole run (Keyspace::WriterScope with Keyspace::StandInWriter), as a Riak
// vnode takes a new vnode id after an unclean shutdown.
//
// Through an Env, so tests inject failures. Not thread safe for one dir.

#include <string>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {

inline constexpr const char* kCleanShutdownFile = "clean-shutdown";

// At start: true if the marker was there (the last run ended cleanly). The
// marker is removed and the removal made durable before this returns, so a
// crash of the run that starts now is seen by the next start.
Result<bool> TakeCleanShutdownMarker(Env* env, const std::string& dir);

// At a clean shutdown, once the log is written and fsynced: writes the
// marker durably.
Status MarkCleanShutdown(Env* env, const std::string& dir);

}  // namespace shoal::storage
