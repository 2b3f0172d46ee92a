#pragma once
// The command table: one row per command (Redis's redisCommandTable, generated
// there from src/commands/*.json). Families register their rows from their own
// files (cmd_strings.cc, cmd_keys.cc, ...). The dispatcher checks unknown
// command, arity and authentication once; handlers never repeat those checks.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/command_host.h"
#include "cluster/command_routing.h"
#include "facade/args.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "facade/reply_builder.h"

namespace shoal::storage {
class Store;
class Keyspace;
struct EntryView;
}  // namespace shoal::storage

namespace shoal::server {

class Server;

// Flags, named as Redis's COMMAND INFO prints them.
enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,     // may modify the keyspace
  kCmdReadonly = 1u << 1,  // reads the keyspace only
  kCmdFast = 1u << 2,      // O(1) or O(log N)
  kCmdAdmin = 1u << 3,     // administrative
  kCmdNoAuth = 1u << 4,    // allowed before AUTH
  kCmdDenyOom = 1u << 5,   // refused when maxmemory is exceeded
  kCmdLoading = 1u << 6,   // allowed while loading
  kCmdStale = 1u << 7,     // allowed on a stale replica
  kCmdNoScript = 1u << 8,  // not in scripts
  // shoal's own (not a Redis flag, not listed by COMMAND): the command
  // changes how the connection's later commands are handled (the protocol
  // of their replies, CLIENT REPLY, authentication), so it runs only once
  // every earlier command of the connection is answered.
  kCmdConnectionState = 1u << 9,
  kCmdInternal = 1u << 10,  // a cluster frame: never taken from clients, never listed
};

// The front end's words, used unqualified throughout the command layer.
using facade::ClientState;
using facade::ReplyBuilder;
namespace errors = facade::errors;
using facade::EqualsIgnoreCase;
using facade::ParseInt64;
using facade::ParseLongDouble;
using facade::ParseScanCursor;

// Everything a handler may touch while it runs.
struct CommandContext {
  std::vector<std::string>& args;  // args[0] is the command name as sent
  ReplyBuilder& reply;
  storage::Store& store;        // the raw keyspace: enumeration and TTLs
  storage::Keyspace& keyspace;  // the versioned view: every read and write of values
  int64_t now_ms;               // wall time cached for this command, as Redis's mstime()
  ClientState& client;
  Server* server;       // nullptr in unit tests of pure data commands
  uint64_t random = 0;  // a fresh random number for this command (RANDOMKEY, sampling)
  int64_t proto_max_bulk_len = 512ll * 1024 * 1024;  // string size limit (SETRANGE, APPEND)
  // In a cluster, the enumerating commands (KEYS, SCAN, DBSIZE, RANDOMKEY)
  // list only the entries this filter accepts: live keys whose partition
  // this node owns, so that across the nodes each key is listed once.
  // nullptr: every entry (a lone node).
  const cluster::KeyFilter* key_filter = nullptr;
};

using CommandHandler = void (*)(CommandContext&);

struct CommandSpec {
  std::string_view name;  // lower case; "config|get" style for subcommands
  int arity;              // N: exactly N args (name included); -N: at least N
  uint32_t flags;
  CommandHandler handler;
  int first_key = 0;         // position of the first key argument, 0 if none
  int last_key = 0;          // last key position; -1 = the last argument
  int key_step = 0;          // step between keys
  std::string_view group;    // COMMAND DOCS group: string, generic, connection, server
  std::string_view summary;  // COMMAND DOCS summary
  std::string_view since = "1.0.0";
  std::span<const CommandSpec> subcommands = {};  // for containers (CONFIG, CLIENT, COMMAND)
  // Where the command runs in a cluster, how it splits and combines
  // (cluster/command_routing.h). The default: keyed if it has key
  // positions, reading the key first unless it is a blind write.
  cluster::Routing route = {};
};

// The table. Rows are registered once at start-up; lookups are by name,
// case-insensitively.
class CommandTable {
 public:
  void Register(std::span<const CommandSpec> rows);
  // Names of Redis commands shoal knowingly does not implement; they get
  // errors::Unsupported(name, reason) instead of the unknown-command error.
  // `reason` must outlive the table (a literal).
  void RegisterUnsupported(std::span<const std::string_view> names, std::string_view reason);

  // The row for `name` (any case), or nullptr.
  // Internal rows (kCmdInternal: the cluster's frames) are found only with
  // `internal` set, as the cluster's lookups do; clients never see them.
  const CommandSpec* Find(std::string_view name, bool internal = false) const;
  bool IsUnsupported(std::string_view name) const;
  // The error reply for an unsupported command (IsUnsupported(name) true).
  std::string UnsupportedError(std::string_view name) const;
  // Subcommand of `parent` named `name` (any case), or nullptr.
  static const CommandSpec* FindSub(const CommandSpec& parent, std::string_view name);

  const std::vector<const CommandSpec*>& all() const { return all_; }

  // The cluster's view of a row.
  static cluster::CommandRef Ref(const CommandSpec& cmd);

 private:
  std::unordered_map<std::string, const CommandSpec*> by_name_;
  std::unordered_map<std::string, std::string_view> unsupported_;  // name -> reason
  std::vector<const CommandSpec*> all_;
};

// True if `args.size()` satisfies `arity`.
inline bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

// Registration functions of the families.
void RegisterStringCommands(CommandTable& table);
void RegisterKeyCommands(CommandTable& table);
// GETV, SETV, DELV: sibling versions and causal contexts.
void RegisterVersionedCommands(CommandTable& table);
void RegisterConnectionCommands(CommandTable& table);
void RegisterServerCommands(CommandTable& table);
// CLUSTER INFO / NODES / PREFLIST / MEET / MYID / GETLOCAL.
void RegisterClusterCommands(CommandTable& table);
// Redis commands shoal does not implement (lists, scripting, ...).
void RegisterUnsupportedCommands(CommandTable& table);
// SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
void RegisterBitCommands(CommandTable& table);
// HSET, HGET, HGETALL, HINCRBY, HSCAN and the rest of t_hash.c.
void RegisterHashCommands(CommandTable& table);
// SADD, SREM, SMEMBERS, SPOP, SINTER and the rest of t_set.c.
void RegisterSetCommands(CommandTable& table);
// LCS.
void RegisterLcsCommand(CommandTable& table);
// The sorted-set commands (cmd_zsets.cc).
void RegisterZsetCommands(CommandTable& table);
// OBJECT and MEMORY: introspection of one key.
void RegisterObjectCommands(CommandTable& table);
// MULTI, EXEC, DISCARD, WATCH, UNWATCH and the cluster's transaction frames
// (cmd_transactions.cc).
void RegisterTransactionCommands(CommandTable& table);

// The server's transaction hooks (cmd_transactions.cc), called from
// Server::OnRequest once a request passed lookup, arity, auth and maxmemory.
// QueueInTransaction queues it when the connection is in MULTI (+QUEUED, or
// a queue-time refusal such as CROSSSLOT) and returns true; RESET also ends
// the transaction here (false: it then runs). TakeTransaction, in an active
// cluster, runs MULTI/DISCARD/UNWATCH at once and takes WATCH and EXEC to
// the keys' replicas; true if it replied or will.
bool QueueInTransaction(Server& server, facade::Connection& conn, const CommandSpec& cmd,
                        std::vector<std::string>& argv, ReplyBuilder& reply);
bool TakeTransaction(Server& server, facade::Connection& conn, const CommandSpec& cmd,
                     std::vector<std::string>& argv, ReplyBuilder& reply);
// Replies `error` for a request refused before it could run (unknown
// command, arity, NOAUTH, OOM; `cmd` is nullptr when the lookup failed), as
// Redis's rejectCommand: inside MULTI the transaction is flagged (EXEC will
// reply EXECABORT), and a refused EXEC discards the transaction at once with
// "EXECABORT Transaction discarded because of: <error>".
void RejectCommand(Server& server, facade::Connection& conn, const CommandSpec* cmd,
                   std::string_view error, ReplyBuilder& reply);
// True if maxmemory refuses `cmd` because of the transaction: any command
// queued, and EXEC of a queue holding a deny-oom command.
bool TransactionDenyOom(Server& server, facade::Connection& conn, const CommandSpec& cmd);

}  // namespace shoal::server
