// SLOWLOG GET|LEN|RESET|HELP and LATENCY LATEST|HISTORY|RESET|DOCTOR|HELP,
// Redis 7.0's replies over server/slowlog.h and server/latency.h.

#include <string>
#include <vector>

#include "server/commands/command.h"
#include "server/config.h"
#include "server/server.h"

namespace shoal::server {
namespace {

// Redis's addReplySubcommandSyntaxError.
std::string SubcommandSyntax(std::string_view sub, std::string_view container) {
  return "ERR unknown subcommand or wrong number of arguments for '" +
         std::string(sub.substr(0, 128)) + "'. Try " + std::string(container) + " HELP.";
}

// --- SLOWLOG ---

void CmdSlowlogGet(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(SubcommandSyntax(ctx.args[1], "SLOWLOG"));
    return;
  }
  const SlowLog& log = ctx.server->slowlog();
  int64_t count = 10;
  if (ctx.args.size() == 3) {
    if (!ParseInt64(ctx.args[2], &count) || count < -1) {
      ctx.reply.Error("ERR count should be greater than or equal to -1");
      return;
    }
    if (count == -1) count = static_cast<int64_t>(log.size());
  }
  const size_t n = std::min(static_cast<size_t>(count), log.size());
  ctx.reply.ArrayHeader(n);
  for (size_t i = 0; i < n; ++i) {
    const SlowLogEntry& e = log.entries()[i];
    ctx.reply.ArrayHeader(6);
    ctx.reply.Integer(static_cast<int64_t>(e.id));
    ctx.reply.Integer(e.time);
    ctx.reply.Integer(static_cast<int64_t>(e.duration_us));
    ctx.reply.ArrayHeader(e.args.size());
    for (const std::string& a : e.args) ctx.reply.Bulk(a);
    ctx.reply.Bulk(e.client_addr);
    ctx.reply.Bulk(e.client_name);
  }
}

void CmdSlowlogLen(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server->slowlog().size()));
}

void CmdSlowlogReset(CommandContext& ctx) {
  ctx.server->slowlog().Reset();
  ctx.reply.Ok();
}

void CmdSlowlogHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help.",
  };
  ctx.reply.HelpLines(kLines);
}

// --- LATENCY ---

void CmdLatencyLatest(CommandContext& ctx) {
  const auto& events = ctx.server->latency().events();
  ctx.reply.ArrayHeader(events.size());
  for (const auto& [name, ts] : events) {
    ctx.reply.ArrayHeader(4);
    ctx.reply.Bulk(name);
    ctx.reply.Integer(ts.latest().time);
    ctx.reply.Integer(static_cast<int64_t>(ts.latest().latency_ms));
    ctx.reply.Integer(static_cast<int64_t>(ts.max_ms));
  }
}

void CmdLatencyHistory(CommandContext& ctx) {
  const auto& events = ctx.server->latency().events();
  auto it = events.find(std::string_view(ctx.args[2]));
  if (it == events.end()) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  std::vector<LatencySample> h = it->second.History();
  ctx.reply.ArrayHeader(h.size());
  for (const LatencySample& s : h) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(s.time);
    ctx.reply.Integer(static_cast<int64_t>(s.latency_ms));
  }
}

void CmdLatencyReset(CommandContext& ctx) {
  std::vector<std::string_view> names(ctx.args.begin() + 2, ctx.args.end());
  ctx.reply.Integer(static_cast<int64_t>(ctx.server->latency().Reset(names)));
}

void CmdLatencyDoctor(CommandContext& ctx) {
  ctx.reply.Bulk(ctx.server->latency().Doctor(ctx.server->config().latency_monitor_threshold > 0));
}

void CmdLatencyHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return a human readable latency analysis report.",
      "HISTORY <event>",
      "    Return time-latency samples for the <event> class.",
      "LATEST",
      "    Return the latest latency samples for all events.",
      "RESET [<event> ...]",
      "    Reset latency data of one or more <event> classes.",
      "    (default: reset all data for all event classes)",
      "HELP",
      "    Prints this help.",
  };
  ctx.reply.HelpLines(kLines);
}

void CmdSlowlogContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("slowlog"));
}

void CmdLatencyContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("latency"));
}

constexpr uint32_t kAdmin = kCmdAdmin | kCmdLoading | kCmdStale;
constexpr uint32_t kHelp = kCmdLoading | kCmdStale;

const CommandSpec kSlowlogSubcommands[] = {
    {"slowlog|get", -2, kAdmin, CmdSlowlogGet, 0, 0, 0, "server", "Returns the slow log's entries.",
     "2.2.12"},
    {"slowlog|len", 2, kAdmin, CmdSlowlogLen, 0, 0, 0, "server",
     "Returns the number of entries in the slow log.", "2.2.12"},
    {"slowlog|reset", 2, kAdmin, CmdSlowlogReset, 0, 0, 0, "server",
     "Clears all entries from the slow log.", "2.2.12"},
    {"slowlog|help", 2, kHelp, CmdSlowlogHelp, 0, 0, 0, "server",
     "Show helpful text about the different subcommands", "6.2.0"},
};

const CommandSpec kLatencySubcommands[] = {
    {"latency|latest", 2, kAdmin | kCmdNoScript, CmdLatencyLatest, 0, 0, 0, "server",
     "Returns the latest latency samples for all events.", "2.8.13"},
    {"latency|history", 3, kAdmin | kCmdNoScript, CmdLatencyHistory, 0, 0, 0, "server",
     "Returns timestamp-latency samples for an event.", "2.8.13"},
    {"latency|reset", -2, kAdmin | kCmdNoScript, CmdLatencyReset, 0, 0, 0, "server",
     "Resets the latency data for one or more events.", "2.8.13"},
    {"latency|doctor", 2, kAdmin | kCmdNoScript, CmdLatencyDoctor, 0, 0, 0, "server",
     "Returns a human-readable latency analysis report.", "2.8.13"},
    {"latency|help", 2, kHelp, CmdLatencyHelp, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "2.8.13"},
};

const CommandSpec kSlowlogCommands[] = {
    {"slowlog", -2, 0, CmdSlowlogContainer, 0, 0, 0, "server", "A container for slow log commands.",
     "2.2.12", kSlowlogSubcommands},
    {"latency", -2, 0, CmdLatencyContainer, 0, 0, 0, "server",
     "A container for latency diagnostics commands.", "2.8.13", kLatencySubcommands},
};

}  // namespace

void RegisterSlowlogCommands(CommandTable& table) {
  table.Register(kSlowlogCommands);
}

}  // namespace shoal::server
