// Which actor a run writes as: the node's own after a clean shutdown, else a
// fresh one; and the marker a clean shutdown leaves (storage/clean_shutdown.h).

#include "server/server.h"

#include "storage/clean_shutdown.h"

namespace shoal::server {

storage::Status Server::ChooseWriter(bool has_run) {
  auto clean = storage::TakeCleanShutdownMarker(&env_, config_.dir);
  if (!clean.ok()) return clean.status();
  // The log is complete only after a clean shutdown with appendonly on.
  if (!has_run || (clean.value() && config_.appendonly)) return storage::Status::Ok();
  auto fresh = keyspace_->StandInWriter();
  if (!fresh.ok()) return fresh.status();
  crash_writer_.emplace(*keyspace_, fresh.value());
  logger_.Log(LogLevel::kNotice,
              "%s: this run writes as actor %s (its store may lack its last writes before the "
              "restart, which replicas may hold)",
              config_.appendonly ? "The last run did not shut down cleanly" : "appendonly is off",
              actors_.NameOf(fresh.value()).c_str());
  return storage::Status::Ok();
}

void Server::MarkCleanShutdown() {
  if (!config_.appendonly) return;
  // The log is complete on disk: the next start may write as this node.
  storage::Status st = storage::MarkCleanShutdown(&env_, config_.dir);
  if (!st.ok()) {
    logger_.Log(LogLevel::kWarning,
                "can't write the clean-shutdown marker (%s): the next start will write as a "
                "fresh actor, as after a crash",
                st.message().c_str());
  }
}

}  // namespace shoal::server
