// Server: the client port's command path. Each request is looked up (with
// rename-command applied), checked in Redis's order (arity, authentication,
// maxmemory), held while the connection must wait (CLIENT PAUSE, a command
// that waits for earlier replies), queued inside MULTI, then run here or
// handed to the cluster, and counted (commandstats, SLOWLOG, LATENCY). Also
// the cluster::CommandHost side: the cluster's lookups and runs.

#include <algorithm>
#include <string>
#include <vector>

#include "facade/errors.h"
#include "server/server.h"

namespace shoal::server {

void Server::OnRequest(facade::Connection& conn, std::vector<std::string>& argv) {
  ++stats_.total_commands_processed;
  facade::ReplyBuilder reply(conn.ReplyTarget(), conn.state().resp, &conn);
  conn.ScheduleFlush();
  facade::ClientState& client = conn.state();

  // Order of checks as Redis's processCommand: lookup, arity, then auth.
  // A refusal inside MULTI also flags the transaction, and a refused EXEC
  // discards it (RejectCommand, cmd_transactions.cc).
  const CommandSpec* cmd = FindClientCommand(argv[0]);
  auto refuse = [&](std::string_view error) { RejectCommand(*this, conn, cmd, error, reply); };
  if (cmd == nullptr) {
    if (commands_.IsUnsupported(argv[0])) {
      refuse(commands_.UnsupportedError(argv[0]));
    } else {
      refuse(errors::UnknownCommand(argv[0], argv.data() + 1, argv.size() - 1));
    }
    return;
  }
  if (!cmd->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = CommandTable::FindSub(*cmd, argv[1]);
    if (sub == nullptr) return refuse(errors::UnknownSubcommand(argv[1], cmd->name));
    cmd = sub;
  }
  // Refusals count as rejected_calls in INFO commandstats, as Redis's.
  auto reject = [&](std::string_view error) {
    command_stats_.Reject(cmd->name);
    refuse(error);
  };
  if (!ArityOk(cmd->arity, argv.size())) return reject(errors::WrongArity(cmd->name));
  if (!client.authenticated && !config_.requirepass.empty() && !(cmd->flags & kCmdNoAuth)) {
    return reject(errors::kNoAuth);
  }
  // maxmemory: make room first (as Redis's performEvictions); a command that
  // may grow memory is refused when nothing more can be evicted (inside
  // MULTI: any command but EXEC, DISCARD, QUIT and RESET; EXEC of a queue
  // holding such a command).
  if (config_.maxmemory > 0 && !PerformEvictions() &&
      ((cmd->flags & kCmdDenyOom) || TransactionDenyOom(*this, conn, *cmd))) {
    return reject(errors::kOom);
  }
  // A command that changes how the ones behind it are handled waits until
  // every earlier command of the connection is answered (in a cluster,
  // earlier commands may still be in flight).
  if ((cmd->flags & kCmdConnectionState) && conn.outstanding_replies() > 0) {
    --stats_.total_commands_processed;  // counted when it runs
    return conn.HoldUntilReplied();
  }
  // CLIENT PAUSE: the command waits, and the connection's input behind it
  // (Redis's BLOCKED_POSTPONE). Errors above were answered at once, as in
  // Redis.
  if (paused_ && (pause_all_ || (cmd->flags & kCmdWrite))) {
    --stats_.total_commands_processed;
    paused_clients_.push_back(conn.id());
    return conn.Hold();
  }
  // Inside MULTI the command is queued: not a call yet (Redis counts it when
  // EXEC runs it).
  if (QueueInTransaction(*this, conn, *cmd, argv, reply)) return;
  // MONITOR shows what runs, as Redis's call() feeds it: not the admin
  // commands.
  if (!monitors_.empty() && !(cmd->flags & kCmdAdmin)) FeedMonitors(conn, argv);
  // Timed from here: the handler, or the cluster's dispatch of it (a reply
  // deferred to other nodes counts the time spent here only).
  // Handlers may move their arguments away: SLOWLOG keeps what it needs first.
  if (config_.slowlog_log_slower_than >= 0) slowlog_.Capture(argv);
  const int64_t start_us = clock_.NowUs();
  command_start_us_ = start_us;
  std::string* out = reply.buffer();
  const size_t mark = out->size();
  // In a cluster WATCH and EXEC go to the key's replicas
  // (cmd_transactions.cc); every other command as its routing says.
  if (!TakeTransaction(*this, conn, *cmd, argv, reply) &&
      (cluster_ == nullptr || !cluster_->Handle(conn, commands_.Ref(*cmd), argv))) {
    RunHandler(conn, *cmd, argv, reply, /*filter=*/nullptr);
  }
  command_start_us_ = -1;
  const int64_t usec = clock_.NowUs() - start_us;
  const bool failed = out->size() > mark && (*out)[mark] == '-';
  AfterCommand(conn, *cmd, static_cast<uint64_t>(std::max<int64_t>(usec, 0)), failed);
}

void Server::AfterCommand(facade::Connection& conn, const CommandSpec& cmd, uint64_t usec,
                          bool failed) {
  command_stats_.Record(cmd.name, usec, failed);
  // As Redis, AUTH and HELLO (which may carry a password) are never logged.
  if (cmd.name != "auth" && cmd.name != "hello") {
    // The time of day is read only for a command that will be logged.
    const int64_t slower = config_.slowlog_log_slower_than;
    const bool logged = slower >= 0 && usec >= static_cast<uint64_t>(slower);
    slowlog_.Maybe(usec, logged ? clock_.NowMs() / 1000 : 0, conn.peer_addr(), conn.state().name,
                   slower, static_cast<size_t>(config_.slowlog_max_len));
  }
  LatencySample((cmd.flags & kCmdFast) ? "fast-command" : "command", usec / 1000);
}

void Server::LatencySample(std::string_view event, uint64_t ms) {
  const int64_t threshold = config_.latency_monitor_threshold;
  if (threshold > 0 && ms >= static_cast<uint64_t>(threshold)) {
    latency_.Add(event, clock_.NowMs() / 1000, ms);
  }
}

void Server::RunHandler(facade::Connection& conn, const CommandSpec& cmd,
                        std::vector<std::string>& argv, facade::ReplyBuilder& reply,
                        const cluster::KeyFilter* filter) {
  facade::ClientState& client = conn.state();
  client.last_command = cmd.name;
  const int64_t now_ms = command_start_us_ >= 0 ? command_start_us_ / 1000 : clock_.NowMs();
  CommandContext ctx{argv, reply, store_, *keyspace_, now_ms, client, this};
  ctx.random = rng_();
  ctx.proto_max_bulk_len = static_cast<int64_t>(config_.proto_max_bulk_len);
  ctx.key_filter = filter;
  cmd.handler(ctx);
  if (client.close_after_reply) conn.CloseAfterReply();
}

const CommandSpec* Server::FindClientCommand(std::string_view name) const {
  if (renamed_.empty()) return commands_.Find(name);
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = renamed_.find(lower);
  if (it != renamed_.end()) return it->second;
  return commands_.Find(name);
}

storage::Status Server::ApplyRenames() {
  // As Redis's rename-command: the old name disappears (for clients; peers
  // keep using the real names), the new one, if any, takes its place.
  for (const auto& [from, to] : config_.rename_command) {
    std::string lower_from(from);
    for (char& ch : lower_from) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    const CommandSpec* cmd = FindClientCommand(lower_from);
    if (cmd == nullptr) {
      return storage::Status::Invalid("rename-command " + from +
                                      ": No such command in rename-command");
    }
    std::string lower_to(to);
    for (char& ch : lower_to) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!lower_to.empty() && FindClientCommand(lower_to) != nullptr) {
      return storage::Status::Invalid("rename-command " + from + " " + to +
                                      ": Target command name already exists");
    }
    renamed_[lower_from] = nullptr;
    if (!lower_to.empty()) renamed_[lower_to] = cmd;
  }
  return storage::Status::Ok();
}

cluster::CommandRef Server::Find(std::string_view name) const {
  const CommandSpec* cmd = commands_.Find(name, /*internal=*/true);
  return cmd == nullptr ? cluster::CommandRef{} : commands_.Ref(*cmd);
}

cluster::CommandRef Server::FindCall(std::span<const std::string> argv) const {
  const CommandSpec* cmd = argv.empty() ? nullptr : commands_.Find(argv[0], /*internal=*/true);
  if (cmd != nullptr && !cmd->subcommands.empty() && argv.size() >= 2) {
    cmd = CommandTable::FindSub(*cmd, argv[1]);
  }
  return cmd == nullptr ? cluster::CommandRef{} : commands_.Ref(*cmd);
}

void Server::Run(facade::Connection& conn, const cluster::CommandRef& cmd,
                 std::vector<std::string>& argv, const cluster::KeyFilter* filter, int resp,
                 std::string* out) {
  facade::ReplyBuilder reply(out, resp);
  RunHandler(conn, *static_cast<const CommandSpec*>(cmd.impl), argv, reply, filter);
}

}  // namespace shoal::server
