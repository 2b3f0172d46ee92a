// MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's multi.c), on one node and in
// a cluster, and the queueing hook the server calls for every request
// (QueueInTransaction, TakeTransaction). The state is
// server/commands/transaction.h.
//
// One node: as Redis 7.0. Commands after MULTI are checked (lookup, arity,
// auth, maxmemory: the server does, and flags the transaction on a refusal)
// and queued (+QUEUED); EXEC runs them back to back, nothing interleaved,
// and replies the array of their replies (a runtime error is an element, no
// rollback); a queue-time error makes EXEC reply EXECABORT; a watched key
// modified since WATCH makes it reply a nil array.
//
// In a cluster every key of the transaction (queued commands and watched
// keys) must share one replica set, else the command that breaks it gets
// CROSSSLOT and the transaction is flagged, as Redis Cluster does. EXEC
// ships the queue as one frame, SHOAL.TXN <nkeys> <key>... <ncmds> (<argc>
// <arg>...)... (<watched key> <version>)..., routed like a read-modify-write
// on several keys of one replica set: to the first reachable primary, which
// reads every key from a read quorum, checks the watched versions, runs the
// commands back to back and replicates every key they changed (W quorums).
// WATCH reads each key's version (SHOAL.WATCHVER, a quorum read: live or not
// and the causal context's token); EXEC's coordinator compares it with its
// own merged read. README "Transactions" says what is atomic across replicas.

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/route.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/transaction.h"
#include "server/server.h"
#include "storage/context_token.h"
#include "storage/keyspace.h"

namespace shoal::server {
namespace {

constexpr std::string_view kTxnFrame = "shoal.txn";
constexpr std::string_view kWatchFrame = "shoal.watchver";

// The top-level name of a row ("client" for "client|list").
std::string_view TopName(const CommandSpec& cmd) {
  return cmd.name.substr(0, cmd.name.find('|'));
}

// Commands that run at once inside MULTI instead of queueing (server.c,
// processCommand).
bool RunsInsideMulti(std::string_view name) {
  return name == "exec" || name == "discard" || name == "multi" || name == "watch" ||
         name == "quit" || name == "reset";
}

void SyncClient(ClientState& client, const Transaction* t) {
  const bool in = t != nullptr && t->in_multi;
  client.multi_queued = in ? static_cast<int64_t>(t->queue.size()) : -1;
  client.multi_mem = in ? t->queued_bytes : 0;
}

// EXEC and DISCARD end the transaction and unwatch (discardTransaction).
void Finish(Transactions& txns, ClientState& client) {
  if (Transaction* t = txns.Find(client.id)) t->EndMulti();
  txns.Unwatch(client.id);
  SyncClient(client, nullptr);
}

// The version WATCH records and EXEC compares in a cluster: live or not,
// and the context token of the key's object (the pinned quorum merge when
// the dispatcher runs this on the key).
std::string VersionOf(CommandContext& ctx, std::string_view key) {
  auto obj = ctx.keyspace.Load(key, ctx.now_ms);
  if (!obj.ok()) return "?";
  auto token = storage::EncodeContextToken(obj.value().Context(), ctx.keyspace.actors());
  return (obj.value().IsAbsent(ctx.now_ms) ? "D" : "L") + token;
}

// Runs the queued commands back to back; the reply is their array.
void RunQueue(CommandContext& ctx, std::vector<Transaction::Queued>& queue) {
  ctx.reply.ArrayHeader(queue.size());
  const std::string_view exec_name = ctx.client.last_command;  // CLIENT LIST shows exec
  uint64_t random = ctx.random;
  for (Transaction::Queued& q : queue) {
    CommandContext sub{q.argv,     ctx.reply,  ctx.store, ctx.keyspace,
                       ctx.now_ms, ctx.client, ctx.server};
    sub.random = random = random * 6364136223846793005ull + 1442695040888963407ull;
    sub.proto_max_bulk_len = ctx.proto_max_bulk_len;
    ctx.client.last_command = q.spec->name;
    q.spec->handler(sub);
  }
  ctx.client.last_command = exec_name;
}

void MultiCommand(CommandContext& ctx) {
  Transactions& txns = ctx.server->transactions();
  Transaction& t = txns.Of(ctx.client.id);
  if (t.in_multi) return ctx.reply.Error(errors::kMultiNested);
  t.Begin();
  SyncClient(ctx.client, &t);
  ctx.reply.Ok();
}

void DiscardCommand(CommandContext& ctx) {
  Transactions& txns = ctx.server->transactions();
  Transaction* t = txns.Find(ctx.client.id);
  if (t == nullptr || !t->in_multi) return ctx.reply.Error(errors::kDiscardWithoutMulti);
  Finish(txns, ctx.client);
  ctx.reply.Ok();
}

void ExecCommand(CommandContext& ctx) {
  Transactions& txns = ctx.server->transactions();
  Transaction* t = txns.Find(ctx.client.id);
  if (t == nullptr || !t->in_multi) return ctx.reply.Error(errors::kExecWithoutMulti);
  // isWatchedKeyExpired: a key live when watched and gone now (expired or
  // evicted, which a lone node does not publish) was modified.
  if (!t->dirty_cas &&
      txns.Stale(*t, [&](std::string_view key) { return ctx.keyspace.Exists(key, ctx.now_ms); })) {
    t->dirty_cas = true;
  }
  if (t->dirty_exec || t->dirty_cas) {
    const bool abort = t->dirty_exec;
    Finish(txns, ctx.client);
    return abort ? ctx.reply.Error(errors::kExecAbort) : ctx.reply.NullArray();
  }
  std::vector<Transaction::Queued> queue = std::move(t->queue);
  Finish(txns, ctx.client);
  RunQueue(ctx, queue);
}

void WatchCommand(CommandContext& ctx) {
  Transactions& txns = ctx.server->transactions();
  Transaction* t = txns.Find(ctx.client.id);
  if (t != nullptr && t->in_multi) return ctx.reply.Error(errors::kWatchInsideMulti);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    txns.Watch(ctx.client.id, ctx.args[i], ctx.keyspace.Exists(ctx.args[i], ctx.now_ms));
  }
  ctx.reply.Ok();
}

void UnwatchCommand(CommandContext& ctx) {
  ctx.server->transactions().Unwatch(ctx.client.id);
  ctx.reply.Ok();
}

// --- the cluster frames ---------------------------------------------------

// Reads a count at args[*i] (0 <= n <= args.size()), advancing *i.
bool ReadCount(const std::vector<std::string>& args, size_t* i, size_t* n) {
  if (*i >= args.size()) return false;
  const std::string& s = args[*i];
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *n);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || *n > args.size()) return false;
  ++*i;
  return true;
}

// SHOAL.TXN's key positions: the counted list after the name.
std::vector<size_t> TxnKeys(std::span<const std::string> argv) {
  std::vector<size_t> out;
  if (argv.size() < 2) return out;
  size_t n = 0;
  const std::string& s = argv[1];
  const auto r = std::from_chars(s.data(), s.data() + s.size(), n);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || n > argv.size() - 2) return out;
  for (size_t i = 0; i < n; ++i) out.push_back(2 + i);
  return out;
}

// SHOAL.TXN, run by the coordinator with every key read (see the top).
void TxnFrameCommand(CommandContext& ctx) {
  const std::vector<std::string>& a = ctx.args;
  size_t i = 1, nkeys = 0, ncmds = 0;
  const std::string bad = errors::BadPeerFrame("SHOAL.TXN");
  if (ctx.server == nullptr || !ReadCount(a, &i, &nkeys) || nkeys > a.size() - i) {
    return ctx.reply.Error(bad);
  }
  i += nkeys;
  if (!ReadCount(a, &i, &ncmds)) return ctx.reply.Error(bad);
  std::vector<Transaction::Queued> queue;
  queue.reserve(ncmds);
  for (size_t c = 0; c < ncmds; ++c) {
    size_t argc = 0;
    if (!ReadCount(a, &i, &argc) || argc == 0 || argc > a.size() - i) return ctx.reply.Error(bad);
    Transaction::Queued q;
    q.argv.assign(a.begin() + static_cast<ptrdiff_t>(i),
                  a.begin() + static_cast<ptrdiff_t>(i + argc));
    i += argc;
    const CommandSpec* spec = ctx.server->commands().Find(q.argv[0]);
    if (spec != nullptr && !spec->subcommands.empty() && q.argv.size() >= 2) {
      spec = CommandTable::FindSub(*spec, q.argv[1]);
    }
    // The queueing node checked these; a frame that fails them is bad.
    if (spec == nullptr || TopName(*spec) == "multi" || TopName(*spec) == "exec" ||
        !ArityOk(spec->arity, q.argv.size())) {
      return ctx.reply.Error(bad);
    }
    q.spec = spec;
    queue.push_back(std::move(q));
  }
  if ((a.size() - i) % 2 != 0) return ctx.reply.Error(bad);
  // WATCH: any watched key whose version moved fails the transaction.
  for (; i < a.size(); i += 2) {
    if (a[i + 1] == "?" || VersionOf(ctx, a[i]) != a[i + 1]) return ctx.reply.NullArray();
  }
  RunQueue(ctx, queue);
}

// SHOAL.WATCHVER <key>...: each key's version (see VersionOf), an array.
// The keys share a replica set (WATCH checked): one part reads them all.
void WatchVersionCommand(CommandContext& ctx) {
  ctx.reply.ArrayHeader(ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) ctx.reply.Bulk(VersionOf(ctx, ctx.args[i]));
}

// Parses SHOAL.WATCHVER's reply (an array of bulk strings, or an error such
// as NOQUORUM) into `versions`; returns the error reply, or "".
std::string ParseVersions(std::string_view bytes, size_t n, std::vector<std::string>* versions) {
  auto line = [&](std::string_view& s) -> std::string_view {
    const size_t e = s.find("\r\n");
    if (e == std::string_view::npos) return {};
    std::string_view l = s.substr(0, e);
    s.remove_prefix(e + 2);
    return l;
  };
  std::string_view s = bytes;
  std::string_view head = line(s);
  if (head.empty() || head[0] != '*')
    return head.empty() ? std::string(errors::kBadNodeReply) : std::string(bytes);
  std::string error;
  for (size_t k = 0; k < n; ++k) {
    std::string_view l = line(s);
    if (!l.empty() && l[0] == '$') {
      size_t len = 0;
      std::from_chars(l.data() + 1, l.data() + l.size(), len);
      if (len + 2 > s.size()) break;
      (*versions)[k] = std::string(s.substr(0, len));
      s.remove_prefix(len + 2);
    } else if (!l.empty() && l[0] == '-' && error.empty()) {
      error = std::string(l) + "\r\n";
    }
  }
  return error;
}

// WATCH in a cluster: the keys' versions come from a quorum read.
void ClusterWatch(Server& server, facade::Connection& conn, std::vector<std::string>& argv,
                  ReplyBuilder& reply) {
  Transactions& txns = server.transactions();
  const uint64_t id = conn.state().id;
  std::vector<std::string_view> all(argv.begin() + 1, argv.end());
  if (Transaction* t = txns.Find(id)) {
    for (const WatchedKey& w : *t->watched) all.push_back(w.key);
  }
  if (!server.cluster()->ShareReplicas(all)) return reply.Error(errors::kCrossSlot);
  std::vector<std::string> keys(argv.begin() + 1, argv.end());
  for (const std::string& k : keys) txns.Watch(id, k, /*live=*/false);
  std::shared_ptr<WatchList> watched = txns.Of(id).watched;
  cluster::RequestHooks hooks;
  hooks.on_reply = [watched, keys](std::string bytes) {
    std::vector<std::string> versions(keys.size());
    std::string error = ParseVersions(bytes, keys.size(), &versions);
    for (size_t k = 0; k < keys.size(); ++k) {
      for (WatchedKey& w : *watched) {
        // Watching a key again keeps its first version, as Redis keeps the
        // first watch.
        if (w.key == keys[k] && w.version.empty()) {
          w.version = versions[k].empty() ? "?" : versions[k];
        }
      }
    }
    return error.empty() ? std::string("+OK\r\n") : error;
  };
  std::vector<std::string> frame;
  frame.reserve(argv.size());
  frame.emplace_back(kWatchFrame);
  for (std::string& k : keys) frame.push_back(k);
  const CommandSpec* spec = server.commands().Find(kWatchFrame, /*internal=*/true);
  server.cluster()->Handle(conn, CommandTable::Ref(*spec), frame, std::move(hooks));
}

// EXEC in a cluster. False: the transaction names no key, and EXEC runs here
// as on a lone node.
bool ClusterExec(Server& server, facade::Connection& conn, Transaction& t, ReplyBuilder& reply) {
  Transactions& txns = server.transactions();
  ClientState& client = conn.state();
  if (t.dirty_exec) {
    Finish(txns, client);
    reply.Error(errors::kExecAbort);
    return true;
  }
  std::vector<std::string> keys = t.keys;
  for (const WatchedKey& w : *t.watched) {
    if (std::find(keys.begin(), keys.end(), w.key) == keys.end()) keys.push_back(w.key);
  }
  if (keys.empty()) return false;
  std::vector<std::string> frame;
  frame.emplace_back(kTxnFrame);
  frame.push_back(std::to_string(keys.size()));
  for (std::string& k : keys) frame.push_back(std::move(k));
  frame.push_back(std::to_string(t.queue.size()));
  for (Transaction::Queued& q : t.queue) {
    frame.push_back(std::to_string(q.argv.size()));
    for (std::string& arg : q.argv) frame.push_back(std::move(arg));
  }
  std::shared_ptr<WatchList> watched = t.watched;
  Finish(txns, client);
  cluster::RequestHooks hooks;
  // EXEC runs alone: every WATCH before it has its versions by the time
  // the frame leaves.
  hooks.serial = true;
  hooks.on_launch = [watched](cluster::Request& req) {
    if (req.parts.size() != 1) return;  // planning refused it (CROSSSLOT)
    for (const WatchedKey& w : *watched) {
      req.parts[0].argv.push_back(w.key);
      req.parts[0].argv.push_back(w.version.empty() ? "?" : w.version);
    }
  };
  const CommandSpec* spec = server.commands().Find(kTxnFrame, /*internal=*/true);
  server.cluster()->Handle(conn, CommandTable::Ref(*spec), frame, std::move(hooks));
  return true;
}

// Queue-time checks of a cluster transaction: keys of one replica set, and
// no command that runs on every member. Empty: it may queue.
std::string ClusterQueueError(Server& server, const CommandSpec& cmd,
                              const std::vector<std::string>& argv, Transaction& t) {
  const cluster::CommandRef ref = CommandTable::Ref(cmd);
  if (ref.scope() == cluster::Scope::kClusterWide) {
    return errors::NotInClusterTransaction(TopName(cmd));
  }
  if (ref.scope() == cluster::Scope::kLocal) return {};
  std::vector<std::string_view> all(t.keys.begin(), t.keys.end());
  for (const WatchedKey& w : *t.watched) all.push_back(w.key);
  const size_t before = all.size();
  for (size_t k : cluster::KeyPositions(ref, argv)) all.push_back(argv[k]);
  if (!server.cluster()->ShareReplicas(all)) return std::string(errors::kCrossSlot);
  for (size_t k = before; k < all.size(); ++k) {
    if (std::find(t.keys.begin(), t.keys.end(), all[k]) == t.keys.end()) {
      t.keys.emplace_back(all[k]);
    }
  }
  return {};
}

// Runs `cmd` here and now, as the server would on a lone node.
void RunInline(Server& server, facade::Connection& conn, const CommandSpec& cmd,
               std::vector<std::string>& argv, ReplyBuilder& reply) {
  ClientState& client = conn.state();
  CommandContext ctx{argv,   reply,  server.store(), server.keyspace(), server.clock().NowMs(),
                     client, &server};
  ctx.random = server.NextRandom();
  ctx.proto_max_bulk_len = static_cast<int64_t>(server.config().proto_max_bulk_len);
  client.last_command = cmd.name;
  cmd.handler(ctx);
}

constexpr uint32_t kTxnFlags = kCmdNoScript | kCmdLoading | kCmdStale;
constexpr cluster::Routing kLocalRoute = {.scope = cluster::Scope::kLocal};

// Flags, key positions and docs as Redis 7.0.15's COMMAND INFO / DOCS.
constexpr CommandSpec kTransactionCommands[] = {
    {"multi",
     1,
     kTxnFlags | kCmdFast,
     MultiCommand,
     0,
     0,
     0,
     "transactions",
     "Mark the start of a transaction block",
     "1.2.0",
     {},
     kLocalRoute},
    {"exec",
     1,
     kTxnFlags,
     ExecCommand,
     0,
     0,
     0,
     "transactions",
     "Execute all commands issued after MULTI",
     "1.2.0",
     {},
     kLocalRoute},
    {"discard",
     1,
     kTxnFlags | kCmdFast,
     DiscardCommand,
     0,
     0,
     0,
     "transactions",
     "Discard all commands issued after MULTI",
     "2.0.0",
     {},
     kLocalRoute},
    {"watch",
     -2,
     kTxnFlags | kCmdFast,
     WatchCommand,
     1,
     -1,
     1,
     "transactions",
     "Watch the given keys to determine execution of the MULTI/EXEC block",
     "2.2.0",
     {},
     kLocalRoute},
    {"unwatch",
     1,
     kTxnFlags | kCmdFast,
     UnwatchCommand,
     0,
     0,
     0,
     "transactions",
     "Forget about all watched keys",
     "2.2.0",
     {},
     kLocalRoute},
    // Internal frames (never listed, never taken from clients).
    {kTxnFrame,
     -3,
     kCmdWrite | kCmdInternal,
     TxnFrameCommand,
     2,
     2,
     1,
     "internal",
     "A cluster transaction: the queued commands and watched versions",
     "shoal 0.1",
     {},
     {.split = cluster::Split::kSameReplicas, .keys_of = TxnKeys}},
    {kWatchFrame,
     -2,
     kCmdReadonly | kCmdInternal,
     WatchVersionCommand,
     1,
     -1,
     1,
     "internal",
     "The versions WATCH records in a cluster",
     "shoal 0.1",
     {},
     {.split = cluster::Split::kSameReplicas}},
};

}  // namespace

void RegisterTransactionCommands(CommandTable& table) {
  table.Register(kTransactionCommands);
}

bool QueueInTransaction(Server& server, facade::Connection& conn, const CommandSpec& cmd,
                        std::vector<std::string>& argv, ReplyBuilder& reply) {
  ClientState& client = conn.state();
  const std::string_view name = TopName(cmd);
  // The common case costs no lookup: not in MULTI (SyncClient keeps
  // multi_queued exact).
  if (client.multi_queued < 0 && name != "reset") return false;
  Transactions& txns = server.transactions();
  Transaction* t = txns.Find(client.id);
  if (name == "reset") {  // RESET discards the transaction and unwatches
    if (t != nullptr) Finish(txns, client);
    return false;
  }
  if (t == nullptr || !t->in_multi || RunsInsideMulti(name)) return false;
  cluster::Cluster* cl = server.cluster();
  if (cl != nullptr && cl->active()) {
    std::string error = ClusterQueueError(server, cmd, argv, *t);
    if (!error.empty()) {
      t->dirty_exec = true;
      reply.Error(error);
      return true;
    }
  }
  t->Queue(&cmd, std::move(argv), (cmd.flags & kCmdDenyOom) != 0);
  SyncClient(client, t);
  reply.Simple("QUEUED");
  return true;
}

bool TakeTransaction(Server& server, facade::Connection& conn, const CommandSpec& cmd,
                     std::vector<std::string>& argv, ReplyBuilder& reply) {
  cluster::Cluster* cl = server.cluster();
  if (cl == nullptr || !cl->active()) return false;
  const std::string_view name = TopName(cmd);
  if (name != "multi" && name != "discard" && name != "unwatch" && name != "watch" &&
      name != "exec") {
    return false;
  }
  Transactions& txns = server.transactions();
  Transaction* t = txns.Find(conn.state().id);
  const bool in_multi = t != nullptr && t->in_multi;
  // The commands that only change the connection's transaction state run at
  // once, even while earlier commands of the connection still wait for the
  // cluster: the next command's queueing depends on them. Their replies still
  // leave in order (the connection's reply queue).
  if (name == "multi" || name == "discard" || (name == "unwatch" && !in_multi) ||
      (name == "watch" && in_multi) || (name == "exec" && !in_multi) ||
      (name == "exec" && !t->dirty_exec && t->keys.empty() && t->watched->empty())) {
    RunInline(server, conn, cmd, argv, reply);
    return true;
  }
  if (name == "watch") {
    ClusterWatch(server, conn, argv, reply);
    return true;
  }
  if (name == "exec") return ClusterExec(server, conn, *t, reply);
  return false;
}

void RejectCommand(Server& server, facade::Connection& conn, const CommandSpec* cmd,
                   std::string_view error, ReplyBuilder& reply) {
  Transactions& txns = server.transactions();
  if (cmd != nullptr && TopName(*cmd) == "exec") {
    // execCommandAbort, in or outside MULTI. Redis's arity text carries no
    // "ERR " there (rejectCommandFormat); OOM and NOAUTH keep their codes.
    if (error.starts_with("ERR ")) error.remove_prefix(4);
    Finish(txns, conn.state());
    return reply.Error(std::string(errors::kExecAbortBecause) + std::string(error));
  }
  Transaction* t = txns.Find(conn.state().id);
  if (t != nullptr && t->in_multi) t->dirty_exec = true;
  reply.Error(error);
}

bool TransactionDenyOom(Server& server, facade::Connection& conn, const CommandSpec& cmd) {
  Transaction* t = server.transactions().Find(conn.state().id);
  if (t == nullptr || !t->in_multi) return false;
  const std::string_view name = TopName(cmd);
  // Queueing may use unlimited memory: refused when over (server.c); EXEC
  // only if a queued command is deny-oom; DISCARD, QUIT, RESET never.
  if (name == "exec") return t->deny_oom;
  return name != "discard" && name != "quit" && name != "reset";
}

}  // namespace shoal::server
