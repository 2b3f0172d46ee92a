// Connection commands: PING, ECHO, QUIT, AUTH, HELLO, SELECT, RESET, MONITOR
// and the CLIENT container (Redis's src/networking.c and src/acl.c
// behaviour).

#include <algorithm>
#include <cstring>

#include "cluster/peer/auth.h"
#include "facade/args.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "server/commands/client_filter.h"
#include "server/commands/command.h"
#include "server/server.h"
#include "server/version.h"

namespace shoal::server {
namespace {

// Checks credentials for the only user shoal has, "default". With no
// requirepass the default user is "nopass": any password is accepted.
bool CheckCredentials(CommandContext& ctx, std::string_view user, std::string_view pass) {
  if (user != "default") return false;
  const std::string& required = ctx.server->config().requirepass;
  return required.empty() || cluster::SecretEquals(pass, required);
}

void CmdPing(CommandContext& ctx) {
  if (ctx.args.size() > 2) {
    ctx.reply.Error(errors::WrongArity("ping"));
  } else if (ctx.args.size() == 2) {
    ctx.reply.Bulk(ctx.args[1]);
  } else {
    ctx.reply.Simple("PONG");
  }
}

void CmdEcho(CommandContext& ctx) {
  ctx.reply.Bulk(ctx.args[1]);
}

void CmdQuit(CommandContext& ctx) {
  ctx.reply.Ok();
  ctx.client.close_after_reply = true;
}

void CmdAuth(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  std::string_view user = "default";
  std::string_view pass = ctx.args[1];
  if (ctx.args.size() == 3) {
    user = ctx.args[1];
    pass = ctx.args[2];
  } else if (ctx.server->config().requirepass.empty()) {
    // AUTH <password> with no password configured: Redis's own hint.
    ctx.reply.Error(errors::kAuthNotConfigured);
    return;
  }
  if (CheckCredentials(ctx, user, pass)) {
    ctx.client.authenticated = true;
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(errors::kWrongPass);
  }
}

bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

void CmdHello(CommandContext& ctx) {
  int64_t ver = 0;
  size_t next = 1;
  if (ctx.args.size() >= 2) {
    if (!ParseInt64(ctx.args[1], &ver)) {
      ctx.reply.Error("ERR Protocol version is not an integer or out of range");
      return;
    }
    next = 2;
    if (ver < 2 || ver > 3) {
      ctx.reply.Error(errors::kNoProto);
      return;
    }
  }
  std::string_view user, pass, setname;
  bool has_auth = false, has_setname = false;
  for (size_t j = next; j < ctx.args.size(); ++j) {
    size_t left = ctx.args.size() - j - 1;
    if (EqualsIgnoreCase(ctx.args[j], "AUTH") && left >= 2) {
      has_auth = true;
      user = ctx.args[j + 1];
      pass = ctx.args[j + 2];
      j += 2;
    } else if (EqualsIgnoreCase(ctx.args[j], "SETNAME") && left >= 1) {
      has_setname = true;
      setname = ctx.args[j + 1];
      j += 1;
    } else {
      ctx.reply.Error("ERR Syntax error in HELLO option '" + ctx.args[j] + "'");
      return;
    }
  }
  if (has_auth) {
    if (!CheckCredentials(ctx, user, pass)) {
      ctx.reply.Error(errors::kWrongPass);
      return;
    }
    ctx.client.authenticated = true;
  }
  if (!ctx.client.authenticated && !ctx.server->config().requirepass.empty()) {
    ctx.reply.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
    return;
  }
  if (has_setname) {
    if (!ValidClientName(setname)) {
      ctx.reply.Error("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    ctx.client.name = setname;
  }
  // The new protocol applies from this reply on (Redis's helloCommand).
  if (ver != 0) {
    ctx.client.resp = static_cast<int>(ver);
    ctx.reply = ReplyBuilder(ctx.reply.buffer(), ctx.client.resp);
  }
  ctx.reply.MapHeader(7);
  ctx.reply.Bulk("server");
  ctx.reply.Bulk("redis");
  ctx.reply.Bulk("version");
  ctx.reply.Bulk(kRedisVersion);
  ctx.reply.Bulk("proto");
  ctx.reply.Integer(ctx.client.resp);
  ctx.reply.Bulk("id");
  ctx.reply.Integer(static_cast<int64_t>(ctx.client.id));
  ctx.reply.Bulk("mode");
  ctx.reply.Bulk("standalone");
  ctx.reply.Bulk("role");
  ctx.reply.Bulk("master");
  ctx.reply.Bulk("modules");
  ctx.reply.ArrayHeader(0);
}

void CmdSelect(CommandContext& ctx) {
  int64_t db = 0;
  if (!ParseInt64(ctx.args[1], &db)) {
    ctx.reply.Error(errors::kNotInteger);
  } else if (db != 0) {
    // shoal has one keyspace, as Redis Cluster has.
    ctx.reply.Error(errors::kDbIndexOutOfRange);
  } else {
    ctx.reply.Ok();
  }
}

void CmdReset(CommandContext& ctx) {
  // Redis's clearClientConnectionState: RESP2, replies on, no name, the
  // default user's authentication, out of MONITOR.
  ctx.client.name.clear();
  ctx.client.authenticated = false;
  ctx.client.resp = facade::kResp2;
  ctx.client.reply_mode = facade::ReplyMode::kOn;
  ctx.client.monitor = false;
  ctx.reply = ReplyBuilder(ctx.reply.buffer(), ctx.client.resp);
  ctx.reply.Simple("RESET");
}

// --- CLIENT ---

// One line of CLIENT LIST / CLIENT INFO: Redis 7.0.15's fields in its order
// (networking.c, catClientInfoString). `argv_mem` is the bytes of the
// command being run (the caller's own; 0 for the others). shoal has no
// reply buffer of Redis's kind: rbs and rbp are 0, and omem is the
// connection's pending output.
std::string ClientInfoLine(Server& server, facade::Connection& s, size_t argv_mem) {
  int64_t now = server.clock().NowMs();
  const ClientState& st = s.state();
  std::string flags;
  if (st.monitor) flags += 'O';
  if (st.multi_queued >= 0) flags += 'x';
  if (s.held()) flags += 'b';  // a command waits (CLIENT PAUSE)
  if (st.close_after_reply) flags += 'c';
  if (st.no_evict) flags += 'e';
  if (flags.empty()) flags = "N";
  const size_t qbuf = s.query_buffer_bytes();
  const size_t omem = s.output_bytes();
  std::string line;
  line.reserve(320);
  line += "id=" + std::to_string(st.id);
  line += " addr=" + s.peer_addr();
  line += " laddr=" + s.local_addr();
  line += " fd=" + std::to_string(s.fd());
  line += " name=" + st.name;
  line += " age=" + std::to_string((now - s.created_ms()) / 1000);
  line += " idle=" + std::to_string((now - s.last_interaction_ms()) / 1000);
  line += " flags=" + flags;
  line += " db=0 sub=0 psub=0 ssub=0";
  line += " multi=" + std::to_string(st.multi_queued);
  line += " qbuf=" + std::to_string(qbuf);
  line += " qbuf-free=" + std::to_string(s.query_buffer_free());
  line += " argv-mem=" + std::to_string(argv_mem);
  line += " multi-mem=" + std::to_string(st.multi_mem);
  line += " rbs=0 rbp=0 obl=0 oll=0";
  line += " omem=" + std::to_string(omem);
  line += " tot-mem=" + std::to_string(qbuf + omem + argv_mem + st.multi_mem);
  line += omem > 0 ? " events=rw" : " events=r";
  line += " cmd=" + (st.last_command.empty() ? std::string("NULL") : std::string(st.last_command));
  line += " user=default redir=-1 resp=" + std::to_string(st.resp);
  return line;
}

size_t ArgvBytes(const std::vector<std::string>& args) {
  size_t n = 0;
  for (const std::string& a : args) n += a.size();
  return n;
}

ClientFacts FactsOf(facade::Connection& s, uint64_t self_id) {
  ClientFacts f;
  f.id = s.id();
  f.addr = s.peer_addr();
  f.laddr = s.local_addr();
  f.user = "default";
  f.type = ClientType::kNormal;  // MONITOR clients too, as in Redis
  f.self = s.id() == self_id;
  return f;
}

void CmdClientId(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.client.id));
}

void CmdClientGetname(CommandContext& ctx) {
  if (ctx.client.name.empty()) {
    ctx.reply.Null();
  } else {
    ctx.reply.Bulk(ctx.client.name);
  }
}

void CmdClientSetname(CommandContext& ctx) {
  if (!ValidClientName(ctx.args[2])) {
    ctx.reply.Error("ERR Client names cannot contain spaces, newlines or special characters.");
    return;
  }
  ctx.client.name = ctx.args[2];
  ctx.reply.Ok();
}

void CmdClientSetinfo(CommandContext& ctx) {
  const std::string& attr = ctx.args[2];
  const std::string& value = ctx.args[3];
  std::string* field = nullptr;
  if (EqualsIgnoreCase(attr, "lib-name")) {
    field = &ctx.client.lib_name;
  } else if (EqualsIgnoreCase(attr, "lib-ver")) {
    field = &ctx.client.lib_ver;
  } else {
    ctx.reply.Error("ERR Unrecognized option '" + attr + "'");
    return;
  }
  if (!ValidClientName(value)) {
    ctx.reply.Error("ERR " + attr + " cannot contain spaces, newlines or special characters.");
    return;
  }
  *field = value;
  ctx.reply.Ok();
}

void CmdClientList(CommandContext& ctx) {
  auto filter = ParseClientList(std::span<const std::string>(ctx.args).subspan(2));
  if (!filter.ok()) return ctx.reply.Error(filter.status().message());
  const ClientListFilter& f = filter.value();
  const size_t argv_mem = ArgvBytes(ctx.args);
  std::string out;
  auto add = [&](facade::Connection& s) {
    out += ClientInfoLine(*ctx.server, s, s.id() == ctx.client.id ? argv_mem : 0);
    out += '\n';
  };
  if (f.ids) {
    // In the order asked, as Redis (lookupClientByID per id).
    for (int64_t id : *f.ids) {
      facade::Connection* s = id > 0 ? ctx.server->FindClient(static_cast<uint64_t>(id)) : nullptr;
      if (s != nullptr && !s->closing()) add(*s);
    }
  } else {
    std::vector<facade::Connection*> all;
    ctx.server->ForEachClient([&](facade::Connection& s) {
      if (s.closing()) return;
      if (f.type && *f.type != ClientType::kNormal) return;
      all.push_back(&s);
    });
    // Redis lists clients in connection order.
    std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->id() < b->id(); });
    for (facade::Connection* s : all) add(*s);
  }
  ctx.reply.Verbatim("txt", out);
}

void CmdClientInfo(CommandContext& ctx) {
  facade::Connection* self = ctx.server->FindClient(ctx.client.id);
  ctx.reply.Verbatim("txt", self != nullptr
                                ? ClientInfoLine(*ctx.server, *self, ArgvBytes(ctx.args)) + "\n"
                                : std::string());
}

void CmdClientKill(CommandContext& ctx) {
  auto parsed = ParseClientKill(std::span<const std::string>(ctx.args).subspan(2));
  if (!parsed.ok()) return ctx.reply.Error(parsed.status().message());
  const ClientKillFilter& f = parsed.value();
  std::vector<facade::Connection*> victims;
  ctx.server->ForEachClient([&](facade::Connection& s) {
    if (!s.closing() && f.Matches(FactsOf(s, ctx.client.id))) victims.push_back(&s);
  });
  for (facade::Connection* s : victims) {
    if (s->id() == ctx.client.id) {
      // Closed once this reply is out, as Redis's CLIENT_CLOSE_AFTER_REPLY.
      ctx.client.close_after_reply = true;
    } else {
      s->Close();
    }
  }
  if (!f.old_form) return ctx.reply.Integer(static_cast<int64_t>(victims.size()));
  if (victims.empty()) return ctx.reply.Error(errors::kNoSuchClient);
  ctx.reply.Ok();
}

void CmdClientReply(CommandContext& ctx) {
  // Redis's CLIENT REPLY: OFF and SKIP send no reply of their own (the
  // connection drops it, facade/connection.h).
  const std::string& mode = ctx.args[2];
  if (EqualsIgnoreCase(mode, "on")) {
    ctx.client.reply_mode = facade::ReplyMode::kOn;
    ctx.reply.Ok();
  } else if (EqualsIgnoreCase(mode, "off")) {
    ctx.client.reply_mode = facade::ReplyMode::kOff;
  } else if (EqualsIgnoreCase(mode, "skip")) {
    if (ctx.client.reply_mode != facade::ReplyMode::kOff) {
      ctx.client.reply_mode = facade::ReplyMode::kSkipNext;
    }
  } else {
    ctx.reply.Error(errors::kSyntax);
  }
}

void CmdClientPause(CommandContext& ctx) {
  // CLIENT PAUSE timeout [WRITE|ALL] (Redis 7.0: the mode is checked first).
  bool all = true;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "write")) {
      all = false;
    } else if (!EqualsIgnoreCase(ctx.args[3], "all")) {
      return ctx.reply.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
    }
  } else if (ctx.args.size() != 3) {
    return ctx.reply.Error(errors::kSyntax);
  }
  int64_t timeout = 0;
  if (!ParseInt64(ctx.args[2], &timeout)) {
    return ctx.reply.Error("ERR timeout is not an integer or out of range");
  }
  if (timeout < 0) return ctx.reply.Error("ERR timeout is negative");
  ctx.server->PauseClients(timeout > 0 ? ctx.now_ms + timeout : 0, all);
  ctx.reply.Ok();
}

void CmdClientUnpause(CommandContext& ctx) {
  ctx.server->UnpauseClients();
  ctx.reply.Ok();
}

void CmdClientTracking(CommandContext& ctx) {
  // Client-side caching needs invalidation messages from every node that
  // holds a key; shoal does not implement it. Turning it off is a no-op.
  if (EqualsIgnoreCase(ctx.args[2], "off")) return ctx.reply.Ok();
  if (!EqualsIgnoreCase(ctx.args[2], "on")) return ctx.reply.Error(errors::kSyntax);
  ctx.reply.Error(errors::kTrackingUnsupported);
}

void CmdClientCaching(CommandContext& ctx) {
  // Redis's words for a client not in tracking mode, which shoal's never are.
  ctx.reply.Error(
      "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
      "OPTOUT mode enabled");
}

void CmdClientGetredir(CommandContext& ctx) {
  ctx.reply.Integer(-1);  // tracking is off
}

void CmdClientTrackinginfo(CommandContext& ctx) {
  // Redis's reply for a connection with tracking off.
  ctx.reply.MapHeader(3);
  ctx.reply.Bulk("flags");
  ctx.reply.SetHeader(1);
  ctx.reply.Bulk("off");
  ctx.reply.Bulk("redirect");
  ctx.reply.Integer(-1);
  ctx.reply.Bulk("prefixes");
  ctx.reply.ArrayHeader(0);
}

void CmdClientNoEvict(CommandContext& ctx) {
  // Recorded for CLIENT LIST's flags; shoal never evicts clients anyway.
  if (EqualsIgnoreCase(ctx.args[2], "on") || EqualsIgnoreCase(ctx.args[2], "off")) {
    ctx.client.no_evict = EqualsIgnoreCase(ctx.args[2], "on");
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(errors::kSyntax);
  }
}

void CmdClientHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are:",
      "    * ADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made from the specified address",
      "    * LADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made to specified local address",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Kill connections by type.",
      "    * USER <username>",
      "      Kill connections authenticated by <username>.",
      "    * SKIPME (YES|NO)",
      "      Skip killing current connection (default: yes).",
      "    * ID <client-id>",
      "      Kill connections by client id.",
      "LIST [options ...]",
      "    Return information about client connections. Options:",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Return clients of specified type.",
      "UNPAUSE",
      "    Stop the current client pause, resuming traffic.",
      "PAUSE <timeout> [WRITE|ALL]",
      "    Suspend all, or just write, clients for <timeout> milliseconds.",
      "REPLY (ON|OFF|SKIP)",
      "    Control the replies sent to the current connection.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "SETINFO <LIB-NAME|LIB-VER> <value>",
      "    Record the client library's name or version.",
      "HELP",
      "    Print this help.",
  };
  ctx.reply.HelpLines(kLines);
}

constexpr uint32_t kConn = kCmdNoScript | kCmdLoading | kCmdStale;

const CommandSpec kClientSubcommands[] = {
    {"client|id", 2, kConn, CmdClientId, 0, 0, 0, "connection",
     "Returns the unique client ID of the connection.", "5.0.0"},
    {"client|getname", 2, kConn, CmdClientGetname, 0, 0, 0, "connection",
     "Returns the name of the connection.", "2.6.9"},
    {"client|setname", 3, kConn, CmdClientSetname, 0, 0, 0, "connection",
     "Sets the connection name.", "2.6.9"},
    {"client|setinfo", 4, kConn, CmdClientSetinfo, 0, 0, 0, "connection",
     "Sets information specific to the client or connection.", "7.2.0"},
    {"client|list", -2, kConn | kCmdAdmin, CmdClientList, 0, 0, 0, "connection",
     "Lists open connections.", "2.4.0"},
    {"client|info", 2, kConn, CmdClientInfo, 0, 0, 0, "connection",
     "Returns information about the connection.", "6.2.0"},
    {"client|kill", -3, kConn | kCmdAdmin, CmdClientKill, 0, 0, 0, "connection",
     "Terminates open connections.", "2.4.0"},
    {"client|no-evict", 3, kConn | kCmdAdmin, CmdClientNoEvict, 0, 0, 0, "connection",
     "Sets the client eviction mode of the connection.", "7.0.0"},
    {"client|help", 2, kConn, CmdClientHelp, 0, 0, 0, "connection",
     "Returns helpful text about the different subcommands.", "5.0.0"},
    {"client|reply", 3, kConn | kCmdConnectionState, CmdClientReply, 0, 0, 0, "connection",
     "Instructs the server whether to reply to commands.", "3.2.0"},
    {"client|pause", -3, kConn | kCmdAdmin, CmdClientPause, 0, 0, 0, "connection",
     "Suspends commands processing.", "3.0.0"},
    {"client|unpause", 2, kConn | kCmdAdmin, CmdClientUnpause, 0, 0, 0, "connection",
     "Resumes processing commands from paused clients.", "6.2.0"},
    {"client|tracking", -3, kConn, CmdClientTracking, 0, 0, 0, "connection",
     "Controls server-assisted client-side caching for the connection.", "6.0.0"},
    {"client|caching", 3, kConn, CmdClientCaching, 0, 0, 0, "connection",
     "Instructs the server whether to track the keys in the next request.", "6.0.0"},
    {"client|getredir", 2, kConn, CmdClientGetredir, 0, 0, 0, "connection",
     "Returns the client ID to which the connection's tracking notifications are redirected.",
     "6.0.0"},
    {"client|trackinginfo", 2, kConn, CmdClientTrackinginfo, 0, 0, 0, "connection",
     "Returns information about server-assisted client-side caching for the connection.", "6.2.0"},
};

void CmdMonitor(CommandContext& ctx) {
  // Redis's monitorCommand: a second MONITOR is ignored (no reply).
  if (ctx.client.monitor) return;
  ctx.client.monitor = true;
  ctx.server->AddMonitor(ctx.client.id);
  ctx.reply.Ok();
}

void CmdClientContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("client"));
}

const CommandSpec kConnectionCommands[] = {
    {"ping", -1, kCmdFast | kCmdStale, CmdPing, 0, 0, 0, "connection",
     "Returns the server's liveliness response."},
    {"echo", 2, kCmdFast, CmdEcho, 0, 0, 0, "connection", "Returns the given string."},
    {"quit", -1, kCmdNoAuth | kCmdFast | kConn, CmdQuit, 0, 0, 0, "connection",
     "Closes the connection."},
    {"auth", -2, kCmdNoAuth | kCmdFast | kConn | kCmdConnectionState, CmdAuth, 0, 0, 0,
     "connection", "Authenticates the connection."},
    {"hello", -1, kCmdNoAuth | kCmdFast | kConn | kCmdConnectionState, CmdHello, 0, 0, 0,
     "connection", "Handshakes with the Redis server.", "6.0.0"},
    {"select", 2, kCmdFast | kConn, CmdSelect, 0, 0, 0, "connection",
     "Changes the selected database."},
    {"reset", 1, kCmdNoAuth | kCmdFast | kConn | kCmdConnectionState, CmdReset, 0, 0, 0,
     "connection", "Resets the connection.", "6.2.0"},
    {"monitor", 1, kCmdAdmin | kConn, CmdMonitor, 0, 0, 0, "server",
     "Listens for all requests received by the server in real-time."},
    {"client", -2, kConn, CmdClientContainer, 0, 0, 0, "connection",
     "A container for client connection commands.", "2.4.0", kClientSubcommands},
};

}  // namespace

void RegisterConnectionCommands(CommandTable& table) {
  table.Register(kConnectionCommands);
}

}  // namespace shoal::server
