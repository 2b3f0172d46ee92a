// Server commands: CONFIG, COMMAND, TIME, SHUTDOWN (and INFO, SLOWLOG and
// LATENCY, registered from cmd_info.cc and cmd_slowlog.cc).

#include <algorithm>
#include <span>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/glob.h"
#include "server/config.h"
#include "server/server.h"
#include "storage/store.h"

namespace shoal::server {

void RegisterInfoCommand(CommandTable& table);
void RegisterSlowlogCommands(CommandTable& table);

namespace {

// --- CONFIG ---

void CmdConfigGet(CommandContext& ctx) {
  std::vector<std::string_view> patterns(ctx.args.begin() + 2, ctx.args.end());
  auto pairs = ConfigGet(ctx.server->config(), patterns);
  ctx.reply.MapHeader(pairs.size());
  for (const auto& [name, value] : pairs) {
    ctx.reply.Bulk(name);
    ctx.reply.Bulk(value);
  }
}

void CmdConfigSet(CommandContext& ctx) {
  // Redis 7: an odd number of name/value words is a syntax error.
  if (ctx.args.size() % 2 != 0) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2)
    pairs.emplace_back(ctx.args[i], ctx.args[i + 1]);
  Config& cfg = ctx.server->config();
  Server* server = ctx.server;
  storage::Status st = ConfigSetMany(&cfg, pairs, [server](std::string_view name, const Config& c) {
    return server->ApplyDirective(name, c);
  });
  if (!st.ok()) {
    ctx.reply.Error(st.message());
    return;
  }
  // Directives that act through other objects take effect here.
  ctx.server->ApplyRuntimeConfig();
  ctx.reply.Ok();
}

void CmdConfigResetstat(CommandContext& ctx) {
  ServerStats& st = ctx.server->stats();
  const ServerStats kept = st;
  st = ServerStats{};
  st.start_ms = kept.start_ms;
  st.ops_sample_ms = ctx.now_ms;
  st.last_save_time = kept.last_save_time;
  st.changes_at_last_save = kept.changes_at_last_save;
  st.net_sample_input = kept.net_sample_input;
  st.net_sample_output = kept.net_sample_output;
  ctx.server->command_stats().Reset();
  ctx.store.ResetStats();
  ctx.server->errors().Reset();
  ctx.reply.Ok();
}

void CmdConfigRewrite(CommandContext& ctx) {
  ctx.reply.Error("ERR CONFIG REWRITE is not supported by shoal: edit the conf file");
}

void CmdConfigHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "HELP",
      "    Print this help.",
  };
  ctx.reply.HelpLines(kLines);
}

// --- COMMAND ---

// A command or subcommand by its full name ("get", "config|get"), as Redis
// 7's lookupCommandBySds; nullptr if there is none.
const CommandSpec* FindFullName(const CommandTable& table, std::string_view name) {
  size_t bar = name.find('|');
  const CommandSpec* c = table.Find(name.substr(0, bar));
  if (c == nullptr || bar == std::string_view::npos) return c;
  return CommandTable::FindSub(*c, name.substr(bar + 1));
}

// The command `argv` names: a container's subcommand when argv[1] names one
// (Redis's lookupCommand over argv).
const CommandSpec* FindForArgs(const CommandTable& table, std::span<const std::string> argv) {
  const CommandSpec* c = table.Find(argv[0]);
  if (c == nullptr || c->subcommands.empty() || argv.size() < 2) return c;
  return CommandTable::FindSub(*c, argv[1]);
}

std::vector<std::string_view> FlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  if (flags & kCmdWrite) out.push_back("write");
  if (flags & kCmdReadonly) out.push_back("readonly");
  if (flags & kCmdDenyOom) out.push_back("denyoom");
  if (flags & kCmdAdmin) out.push_back("admin");
  if (flags & kCmdNoScript) out.push_back("noscript");
  if (flags & kCmdLoading) out.push_back("loading");
  if (flags & kCmdStale) out.push_back("stale");
  if (flags & kCmdFast) out.push_back("fast");
  if (flags & kCmdNoAuth) out.push_back("no_auth");
  return out;
}

std::vector<std::string_view> AclCategories(const CommandSpec& c) {
  std::vector<std::string_view> out;
  if (c.flags & kCmdWrite) out.push_back("@write");
  if (c.flags & kCmdReadonly) out.push_back("@read");
  if (c.group == "string") out.push_back("@string");
  if (c.group == "hash") out.push_back("@hash");
  if (c.group == "set") out.push_back("@set");
  if (c.group == "sorted-set") out.push_back("@sortedset");
  if (c.group == "bitmap") out.push_back("@bitmap");
  if (c.group == "generic") out.push_back("@keyspace");
  if (c.group == "connection") out.push_back("@connection");
  if (c.flags & kCmdAdmin) out.push_back("@admin");
  out.push_back((c.flags & kCmdFast) ? "@fast" : "@slow");
  if (c.flags & kCmdAdmin) out.push_back("@dangerous");
  return out;
}

// One COMMAND INFO entry, Redis 7's ten fields.
void CommandInfoEntry(ReplyBuilder& r, const CommandSpec& c) {
  r.ArrayHeader(10);
  r.Bulk(c.name);
  r.Integer(c.arity);
  auto flags = FlagNames(c.flags);
  r.SetHeader(flags.size());
  for (auto f : flags) r.Simple(f);
  r.Integer(c.first_key);
  r.Integer(c.last_key);
  r.Integer(c.key_step);
  auto cats = AclCategories(c);
  r.SetHeader(cats.size());
  for (auto a : cats) r.Simple(a);
  r.SetHeader(0);  // tips
  // Key specs: one range spec when the command has keys.
  if (c.first_key > 0) {
    r.SetHeader(1);
    r.MapHeader(3);
    r.Bulk("flags");
    r.SetHeader(1);
    r.Simple((c.flags & kCmdWrite) ? "RW" : "RO");
    r.Bulk("begin_search");
    r.MapHeader(2);
    r.Bulk("type");
    r.Bulk("index");
    r.Bulk("spec");
    r.MapHeader(1);
    r.Bulk("index");
    r.Integer(c.first_key);
    r.Bulk("find_keys");
    r.MapHeader(2);
    r.Bulk("type");
    r.Bulk("range");
    r.Bulk("spec");
    r.MapHeader(3);
    r.Bulk("lastkey");
    r.Integer(c.last_key < 0 ? c.last_key : c.last_key - c.first_key);
    r.Bulk("keystep");
    r.Integer(c.key_step);
    r.Bulk("limit");
    r.Integer(0);
  } else {
    r.SetHeader(0);
  }
  r.SetHeader(c.subcommands.size());
  for (const CommandSpec& sub : c.subcommands) CommandInfoEntry(r, sub);
}

// COMMAND DOCS entry value (RESP2 flat map).
void CommandDocsEntry(ReplyBuilder& r, const CommandSpec& c) {
  size_t fields = c.subcommands.empty() ? 3 : 4;
  r.MapHeader(fields);
  r.Bulk("summary");
  r.Bulk(c.summary);
  r.Bulk("since");
  r.Bulk(c.since);
  r.Bulk("group");
  r.Bulk(c.group);
  if (!c.subcommands.empty()) {
    r.Bulk("subcommands");
    r.MapHeader(c.subcommands.size());
    for (const CommandSpec& sub : c.subcommands) {
      r.Bulk(sub.name);
      CommandDocsEntry(r, sub);
    }
  }
}

void CmdCommand(CommandContext& ctx) {
  const auto& all = ctx.server->commands().all();
  ctx.reply.ArrayHeader(all.size());
  for (const CommandSpec* c : all) CommandInfoEntry(ctx.reply, *c);
}

void CmdCommandCount(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server->commands().all().size()));
}

void CmdCommandInfo(CommandContext& ctx) {
  const CommandTable& table = ctx.server->commands();
  if (ctx.args.size() == 2) {
    CmdCommand(ctx);
    return;
  }
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* c = FindFullName(table, ctx.args[i]);
    if (c == nullptr) {
      ctx.reply.NullArray();
    } else {
      CommandInfoEntry(ctx.reply, *c);
    }
  }
}

void CmdCommandDocs(CommandContext& ctx) {
  const CommandTable& table = ctx.server->commands();
  std::vector<const CommandSpec*> rows;
  if (ctx.args.size() == 2) {
    rows = table.all();
  } else {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* c = FindFullName(table, ctx.args[i])) rows.push_back(c);
    }
  }
  ctx.reply.MapHeader(rows.size());
  for (const CommandSpec* c : rows) {
    ctx.reply.Bulk(c->name);
    CommandDocsEntry(ctx.reply, *c);
  }
}

void CmdCommandList(CommandContext& ctx) {
  // COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]: every command
  // and subcommand ("config|get"), as Redis 7.0's commandListWithFilter.
  std::string_view pattern;
  std::string_view aclcat;
  bool module = false;
  if (ctx.args.size() == 5 && EqualsIgnoreCase(ctx.args[2], "FILTERBY")) {
    if (EqualsIgnoreCase(ctx.args[3], "PATTERN")) {
      pattern = ctx.args[4];
    } else if (EqualsIgnoreCase(ctx.args[3], "ACLCAT")) {
      aclcat = ctx.args[4];
    } else if (EqualsIgnoreCase(ctx.args[3], "MODULE")) {
      module = true;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  } else if (ctx.args.size() != 2) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  std::vector<std::string_view> names;
  auto consider = [&](const CommandSpec& c) {
    if (module) return;  // shoal has no modules
    if (!pattern.empty() && !GlobMatch(pattern, c.name, true)) return;
    if (!aclcat.empty()) {
      auto cats = AclCategories(c);
      bool found = std::any_of(cats.begin(), cats.end(), [&](std::string_view a) {
        return EqualsIgnoreCase(a.substr(1), aclcat);
      });
      if (!found) return;
    }
    names.push_back(c.name);
  };
  for (const CommandSpec* c : ctx.server->commands().all()) {
    consider(*c);
    for (const CommandSpec& sub : c->subcommands) consider(sub);
  }
  ctx.reply.ArrayHeader(names.size());
  for (auto n : names) ctx.reply.Bulk(n);
}

// The key positions of `argv` for `c` (first/last/step as the table row
// gives them), or false when the arguments do not hold them.
bool KeyPositions(const CommandSpec& c, std::span<const std::string> argv,
                  std::vector<size_t>* out) {
  const int argc = static_cast<int>(argv.size());
  const int last = c.last_key < 0 ? argc + c.last_key : c.last_key;
  if (c.first_key >= argc || last >= argc || last < c.first_key) return false;
  for (int i = c.first_key; i <= last; i += std::max(1, c.key_step)) {
    out->push_back(static_cast<size_t>(i));
  }
  return true;
}

// Redis 7.0's flags of a key in COMMAND GETKEYSANDFLAGS (from its key
// specs): the commands whose flags differ from their kind's, then reads
// "RO access" and writes "RW update".
std::vector<std::string_view> KeyFlags(const CommandSpec& c) {
  struct Row {
    std::string_view name;
    std::vector<std::string_view> flags;
  };
  static const Row kRows[] = {
      {"exists", {"RO"}},
      {"strlen", {"RO"}},
      {"type", {"RO"}},
      {"touch", {"RO"}},
      {"set", {"OW", "update"}},
      {"mset", {"OW", "update"}},
      {"setex", {"OW", "update"}},
      {"psetex", {"OW", "update"}},
      {"setnx", {"OW", "insert"}},
      {"msetnx", {"OW", "insert"}},
      {"del", {"RM", "delete"}},
      {"unlink", {"RM", "delete"}},
      {"getdel", {"RW", "access", "delete"}},
      {"append", {"RW", "insert"}},
      {"incr", {"RW", "access", "update"}},
      {"decr", {"RW", "access", "update"}},
      {"incrby", {"RW", "access", "update"}},
      {"decrby", {"RW", "access", "update"}},
      {"incrbyfloat", {"RW", "access", "update"}},
      {"getex", {"RW", "access", "update"}},
      {"getset", {"RW", "access", "update"}},
  };
  for (const Row& r : kRows) {
    if (r.name == c.name) return r.flags;
  }
  if (!(c.flags & kCmdWrite)) return {"RO", "access"};
  return {"RW", "update"};
}

// COMMAND GETKEYS / GETKEYSANDFLAGS <full command>: checks in Redis 7.0's
// order (commandGetKeys): the command, whether it has keys, the arity, then
// the key positions.
void CommandGetkeys(CommandContext& ctx, bool with_flags) {
  std::span<const std::string> argv(ctx.args.begin() + 2, ctx.args.end());
  const CommandSpec* c = FindForArgs(ctx.server->commands(), argv);
  if (c == nullptr) {
    ctx.reply.Error("ERR Invalid command specified");
    return;
  }
  if (c->first_key <= 0) {
    ctx.reply.Error("ERR The command has no key arguments");
    return;
  }
  if (!ArityOk(c->arity, argv.size())) {
    ctx.reply.Error("ERR Invalid number of arguments specified for command");
    return;
  }
  std::vector<size_t> pos;
  if (!KeyPositions(*c, argv, &pos)) {
    ctx.reply.Error("ERR Invalid arguments specified for command");
    return;
  }
  ctx.reply.ArrayHeader(pos.size());
  for (size_t p : pos) {
    if (!with_flags) {
      ctx.reply.Bulk(argv[p]);
      continue;
    }
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(argv[p]);
    auto flags = KeyFlags(*c);
    ctx.reply.SetHeader(flags.size());
    for (auto f : flags) ctx.reply.Simple(f);
  }
}

void CmdCommandGetkeys(CommandContext& ctx) {
  CommandGetkeys(ctx, false);
}

void CmdCommandGetkeysandflags(CommandContext& ctx) {
  CommandGetkeys(ctx, true);
}

void CmdCommandHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all commands.",
      "COUNT",
      "    Return the total number of commands in this server.",
      "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
      "    Return a list of all commands in this server.",
      "INFO [<command-name> ...]",
      "    Return details about the given commands, or all when none is given.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about the given commands, or all when none is given.",
      "GETKEYS <full-command>",
      "    Return the keys from a full command.",
      "GETKEYSANDFLAGS <full-command>",
      "    Return the keys and the access flags from a full command.",
      "HELP",
      "    Print this help.",
  };
  ctx.reply.HelpLines(kLines);
}

// --- BGREWRITEAOF ---

void CmdBgrewriteaof(CommandContext& ctx) {
  storage::Status st = ctx.server->StartRewrite();
  if (!st.ok()) {
    ctx.reply.Error(st.message());
    return;
  }
  ctx.reply.Simple("Background append only file rewriting started");
}

// --- TIME, SHUTDOWN ---

void CmdTime(CommandContext& ctx) {
  int64_t us = ctx.server->clock().NowUs();
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(us / 1'000'000));
  ctx.reply.Bulk(std::to_string(us % 1'000'000));
}

void CmdShutdown(CommandContext& ctx) {
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string& a = ctx.args[i];
    if (EqualsIgnoreCase(a, "ABORT")) {
      ctx.reply.Error("ERR No shutdown in progress.");
      return;
    }
    if (!EqualsIgnoreCase(a, "NOSAVE") && !EqualsIgnoreCase(a, "SAVE") &&
        !EqualsIgnoreCase(a, "NOW") && !EqualsIgnoreCase(a, "FORCE")) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  // As Redis, a successful SHUTDOWN sends no reply: the connection closes.
  ctx.server->RequestShutdown("User requested shutdown");
}

constexpr uint32_t kAdminFlags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale;

const CommandSpec kConfigSubcommands[] = {
    {"config|get", -3, kAdminFlags, CmdConfigGet, 0, 0, 0, "server",
     "Returns the effective values of configuration parameters.", "2.0.0"},
    {"config|set", -4, kAdminFlags, CmdConfigSet, 0, 0, 0, "server",
     "Sets configuration parameters in-flight.", "2.0.0"},
    {"config|resetstat", 2, kAdminFlags, CmdConfigResetstat, 0, 0, 0, "server",
     "Resets the server's statistics.", "2.0.0"},
    {"config|rewrite", 2, kAdminFlags, CmdConfigRewrite, 0, 0, 0, "server",
     "Persists the effective configuration to file.", "2.8.0"},
    {"config|help", 2, kCmdLoading | kCmdStale, CmdConfigHelp, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "5.0.0"},
};

constexpr uint32_t kCommandFlags = kCmdLoading | kCmdStale;

const CommandSpec kCommandSubcommands[] = {
    {"command|count", 2, kCommandFlags, CmdCommandCount, 0, 0, 0, "server",
     "Returns a count of commands.", "2.8.13"},
    {"command|info", -2, kCommandFlags, CmdCommandInfo, 0, 0, 0, "server",
     "Returns information about one, multiple or all commands.", "2.8.13"},
    {"command|docs", -2, kCommandFlags, CmdCommandDocs, 0, 0, 0, "server",
     "Returns documentary information about one, multiple or all commands.", "7.0.0"},
    {"command|list", -2, kCommandFlags, CmdCommandList, 0, 0, 0, "server",
     "Returns a list of command names.", "7.0.0"},
    {"command|getkeys", -4, kCommandFlags, CmdCommandGetkeys, 0, 0, 0, "server",
     "Extracts the key names from an arbitrary command.", "2.8.13"},
    {"command|getkeysandflags", -4, kCommandFlags, CmdCommandGetkeysandflags, 0, 0, 0, "server",
     "Extracts the key names and access flags for an arbitrary command.", "7.0.0"},
    {"command|help", 2, kCommandFlags, CmdCommandHelp, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "5.0.0"},
};

void CmdConfigContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("config"));
}

const CommandSpec kServerCommands[] = {
    {"config", -2, 0, CmdConfigContainer, 0, 0, 0, "server",
     "A container for server configuration commands.", "2.0.0", kConfigSubcommands},
    {"command", -1, kCommandFlags, CmdCommand, 0, 0, 0, "server",
     "Returns detailed information about all commands.", "2.8.13", kCommandSubcommands},
    {"bgrewriteaof", 1, kAdminFlags, CmdBgrewriteaof, 0, 0, 0, "server",
     "Asynchronously rewrites the append-only file to disk.", "1.0.0"},
    {"time", 1, kCmdFast | kCmdLoading | kCmdStale, CmdTime, 0, 0, 0, "server",
     "Returns the server time.", "2.6.0"},
    {"shutdown", -1, kAdminFlags, CmdShutdown, 0, 0, 0, "server",
     "Synchronously saves the database(s) to disk and shuts down the Redis server."},
};

}  // namespace

void RegisterServerCommands(CommandTable& table) {
  table.Register(kServerCommands);
  RegisterInfoCommand(table);
  RegisterSlowlogCommands(table);
}

}  // namespace shoal::server
