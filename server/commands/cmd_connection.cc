// Connection commands: PING, ECHO, QUIT, AUTH, HELLO, SELECT, RESET and the
// CLIENT container (Redis's src/networking.c and src/acl.c behaviour).

#include <algorithm>
#include <cstring>

#include "cluster/peer/auth.h"
#include "facade/args.h"
#include "facade/connection.h"
#include "facade/errors.h"
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

std::string ClientInfoLine(Server& server, facade::Connection& s) {
  int64_t now = server.clock().NowMs();
  const ClientState& st = s.state();
  std::string line;
  line.reserve(256);
  line += "id=" + std::to_string(st.id);
  line += " addr=" + s.peer_addr();
  line += " laddr=" + s.local_addr();
  line += " fd=" + std::to_string(s.fd());
  line += " name=" + st.name;
  line += " age=" + std::to_string((now - s.created_ms()) / 1000);
  line += " idle=" + std::to_string((now - s.last_interaction_ms()) / 1000);
  line += " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1";
  line += " qbuf=" + std::to_string(s.query_buffer_bytes());
  line += " qbuf-free=" + std::to_string(s.query_buffer_free());
  line += " argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0";
  line += " omem=" + std::to_string(s.output_bytes());
  line += " tot-mem=" + std::to_string(s.query_buffer_bytes() + s.output_bytes());
  line += " events=r cmd=" +
          (st.last_command.empty() ? std::string("NULL") : std::string(st.last_command));
  line += " user=default redir=-1 resp=" + std::to_string(st.resp);
  line += " lib-name=" + st.lib_name;
  line += " lib-ver=" + st.lib_ver;
  return line;
}

facade::Connection* SelfSession(CommandContext& ctx) {
  facade::Connection* self = nullptr;
  ctx.server->ForEachClient([&](facade::Connection& s) {
    if (s.id() == ctx.client.id) self = &s;
  });
  return self;
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
  // CLIENT LIST [TYPE normal] [ID id ...]
  std::vector<uint64_t> ids;
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "TYPE") && j + 1 < ctx.args.size()) {
      const std::string& type = ctx.args[++j];
      if (!EqualsIgnoreCase(type, "normal") && !EqualsIgnoreCase(type, "master") &&
          !EqualsIgnoreCase(type, "replica") && !EqualsIgnoreCase(type, "pubsub")) {
        ctx.reply.Error("ERR Unknown client type '" + type + "'");
        return;
      }
      if (!EqualsIgnoreCase(type, "normal")) ids.push_back(0);  // matches nobody
    } else if (EqualsIgnoreCase(ctx.args[j], "ID") && j + 1 < ctx.args.size()) {
      for (++j; j < ctx.args.size(); ++j) {
        int64_t id = 0;
        if (!ParseInt64(ctx.args[j], &id) || id <= 0) {
          ctx.reply.Error("ERR Invalid client ID");
          return;
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  std::string out;
  ctx.server->ForEachClient([&](facade::Connection& s) {
    if (s.closing()) return;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), s.id()) == ids.end()) return;
    out += ClientInfoLine(*ctx.server, s);
    out += '\n';
  });
  ctx.reply.Bulk(out);
}

void CmdClientInfo(CommandContext& ctx) {
  facade::Connection* self = SelfSession(ctx);
  ctx.reply.Bulk(self != nullptr ? ClientInfoLine(*ctx.server, *self) + "\n" : std::string());
}

void CmdClientKill(CommandContext& ctx) {
  // Old form: CLIENT KILL addr:port -> OK or error.
  if (ctx.args.size() == 3) {
    facade::Connection* victim = nullptr;
    ctx.server->ForEachClient([&](facade::Connection& s) {
      if (!s.closing() && s.peer_addr() == ctx.args[2]) victim = &s;
    });
    if (victim == nullptr) {
      ctx.reply.Error(errors::kNoSuchClient);
      return;
    }
    if (victim->id() == ctx.client.id) {
      ctx.client.close_after_reply = true;
    } else {
      victim->Close();
    }
    ctx.reply.Ok();
    return;
  }
  // New form: filters, reply the number killed.
  uint64_t id = 0;
  std::string addr, laddr;
  bool skipme = true;
  if ((ctx.args.size() - 2) % 2 != 0) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  for (size_t j = 2; j + 1 < ctx.args.size(); j += 2) {
    const std::string& opt = ctx.args[j];
    const std::string& val = ctx.args[j + 1];
    if (EqualsIgnoreCase(opt, "ID")) {
      int64_t v = 0;
      if (!ParseInt64(val, &v) || v <= 0) {
        ctx.reply.Error("ERR client-id should be greater than 0");
        return;
      }
      id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(opt, "ADDR")) {
      addr = val;
    } else if (EqualsIgnoreCase(opt, "LADDR")) {
      laddr = val;
    } else if (EqualsIgnoreCase(opt, "SKIPME")) {
      if (EqualsIgnoreCase(val, "yes")) {
        skipme = true;
      } else if (EqualsIgnoreCase(val, "no")) {
        skipme = false;
      } else {
        ctx.reply.Error(errors::kSyntax);
        return;
      }
    } else if (EqualsIgnoreCase(opt, "TYPE")) {
      if (!EqualsIgnoreCase(val, "normal")) {
        ctx.reply.Integer(0);
        return;
      }
    } else if (EqualsIgnoreCase(opt, "USER")) {
      if (val != "default") {
        ctx.reply.Error("ERR No such user '" + val + "'");
        return;
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  int64_t killed = 0;
  ctx.server->ForEachClient([&](facade::Connection& s) {
    if (s.closing()) return;
    if (id != 0 && s.id() != id) return;
    if (!addr.empty() && s.peer_addr() != addr) return;
    if (!laddr.empty() && s.local_addr() != laddr) return;
    if (s.id() == ctx.client.id) {
      if (skipme) return;
      ctx.client.close_after_reply = true;
    } else {
      s.Close();
    }
    ++killed;
  });
  ctx.reply.Integer(killed);
}

void CmdClientNoEvict(CommandContext& ctx) {
  if (EqualsIgnoreCase(ctx.args[2], "on") || EqualsIgnoreCase(ctx.args[2], "off")) {
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
      "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
      "    TYPE normal, USER default, SKIPME (yes|no).",
      "LIST [TYPE normal] [ID <id> [<id> ...]]",
      "    Return information about client connections.",
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
};

void CmdClientContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("client"));
}

const CommandSpec kConnectionCommands[] = {
    {"ping", -1, kCmdFast | kCmdStale, CmdPing, 0, 0, 0, "connection",
     "Returns the server's liveliness response."},
    {"echo", 2, kCmdFast, CmdEcho, 0, 0, 0, "connection", "Returns the given string."},
    {"quit", -1, kCmdNoAuth | kCmdFast | kConn, CmdQuit, 0, 0, 0, "connection",
     "Closes the connection."},
    {"auth", -2, kCmdNoAuth | kCmdFast | kConn, CmdAuth, 0, 0, 0, "connection",
     "Authenticates the connection."},
    {"hello", -1, kCmdNoAuth | kCmdFast | kConn, CmdHello, 0, 0, 0, "connection",
     "Handshakes with the Redis server.", "6.0.0"},
    {"select", 2, kCmdFast | kConn, CmdSelect, 0, 0, 0, "connection",
     "Changes the selected database."},
    {"reset", 1, kCmdNoAuth | kCmdFast | kConn, CmdReset, 0, 0, 0, "connection",
     "Resets the connection.", "6.2.0"},
    {"client", -2, kConn, CmdClientContainer, 0, 0, 0, "connection",
     "A container for client connection commands.", "2.4.0", kClientSubcommands},
};

}  // namespace

void RegisterConnectionCommands(CommandTable& table) {
  table.Register(kConnectionCommands);
}

}  // namespace shoal::server
