#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "facade/args.h"
#include "server/commands/glob.h"
#include "server/config_table.h"

namespace shoal::server {

using storage::Result;
using storage::Status;
namespace {

// Splits a line into arguments with Redis's sdssplitargs rules (the ones
// redis-cli uses): blanks separate; "double quotes" take \n \r \t \b \a,
// \xHH and \<any>; 'single quotes' take only \'; a closing quote must be
// followed by a blank or the end. nullopt on unbalanced quotes.
std::optional<std::vector<std::string>> SplitArgs(std::string_view line) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  auto hexval = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
  };
  auto at = [&](size_t i) { return i < line.size() ? line[i] : '\0'; };
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> out;
  size_t p = 0;
  while (true) {
    while (p < line.size() && blank(line[p])) ++p;
    if (p >= line.size()) return out;
    std::string cur;
    bool inq = false, insq = false, done = false;
    while (!done) {
      char c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && hex(at(p + 2)) && hex(at(p + 3))) {
          cur += static_cast<char>(hexval(at(p + 2)) * 16 + hexval(at(p + 3)));
          p += 3;
        } else if (c == '\\' && p + 1 < line.size()) {
          ++p;
          switch (line[p]) {
            case 'n':
              cur += '\n';
              break;
            case 'r':
              cur += '\r';
              break;
            case 't':
              cur += '\t';
              break;
            case 'b':
              cur += '\b';
              break;
            case 'a':
              cur += '\a';
              break;
            default:
              cur += line[p];
              break;
          }
        } else if (c == '"') {
          if (p + 1 < line.size() && !blank(line[p + 1])) return std::nullopt;
          done = true;
        } else if (p >= line.size()) {
          return std::nullopt;
        } else {
          cur += c;
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          cur += '\'';
        } else if (c == '\'') {
          if (p + 1 < line.size() && !blank(line[p + 1])) return std::nullopt;
          done = true;
        } else if (p >= line.size()) {
          return std::nullopt;
        } else {
          cur += c;
        }
      } else if (p >= line.size() || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        done = true;
      } else if (c == '"') {
        inq = true;
      } else if (c == '\'') {
        insq = true;
      } else {
        cur += c;
      }
      if (p < line.size()) ++p;
    }
    out.push_back(std::move(cur));
  }
}

// "'port' '1' '2'": the words of a directive as errors quote them.
std::string Quoted(std::span<const std::string> words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += '\'' + w + '\'';
  }
  return out;
}

// Applies one directive (words[0] is its name). Returns "" or the reason.
std::string ApplyWords(std::span<const std::string> words, Config* cfg) {
  const Directive* d = FindDirective(words[0]);
  if (d == nullptr) return "unknown directive '" + words[0] + "'";
  std::span<const std::string> args = words.subspan(1);
  // A secret's value is never quoted back (it would reach the log).
  const std::string quoted = d->secret ? "'" + words[0] + "'" : Quoted(words);
  if (!d->is_list && args.size() != 1) return quoted + ": wrong number of arguments";
  std::string err = d->set(cfg, args);
  if (!err.empty()) return quoted + ": " + err;
  return {};
}

bool HasGlob(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

std::string SetFailed(std::string_view name, std::string_view reason) {
  return "ERR CONFIG SET failed (possibly related to argument '" + std::string(name) + "') - " +
         std::string(reason);
}

}  // namespace

std::string SeedAddress::ToString() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ':' + std::to_string(port);
  if (cluster_port != 0) out += '@' + std::to_string(cluster_port);
  return out;
}

Result<SeedAddress> ParseSeedAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::Invalid("invalid seed '" + std::string(text) + "': " + std::string(why) +
                           " (expected host:port[@cport])");
  };
  auto port = [](std::string_view s, int* out) {
    int64_t v;
    if (!facade::ParseInt64(s, &v) || v < 1 || v > 65535) return false;
    *out = static_cast<int>(v);
    return true;
  };
  SeedAddress seed;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    if (!port(rest.substr(at + 1), &seed.cluster_port)) return bad("bad cluster port");
    rest = rest.substr(0, at);
  }
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad("bad [ipv6]:port");
    seed.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    seed.host = std::string(rest.substr(0, colon));
    if (seed.host.find(':') != std::string::npos) return bad("IPv6 hosts need [brackets]");
  }
  if (seed.host.empty()) return bad("missing host");
  if (!port(rest.substr(colon + 1), &seed.port)) return bad("bad port");
  return seed;
}

std::vector<BindAddress> BindAddresses(const Config& cfg) {
  std::vector<BindAddress> out;
  for (std::string_view a : cfg.bind) {
    BindAddress b;
    if (!a.empty() && a[0] == '-') {
      b.optional = true;
      a.remove_prefix(1);
    }
    b.host = a == "*" ? "0.0.0.0" : a == "::*" ? "::" : a == "localhost" ? "127.0.0.1" : a;
    out.push_back(std::move(b));
  }
  return out;
}

std::string ListenAddress(const Config& cfg) {
  std::vector<BindAddress> all = BindAddresses(cfg);
  if (all.empty()) return "127.0.0.1";
  for (const BindAddress& b : all) {
    if (!cfg.cluster_announce_ip.empty() && b.host == cfg.cluster_announce_ip) return b.host;
  }
  // An address that must exist beats an optional one that may not.
  for (const BindAddress& b : all) {
    if (!b.optional) return b.host;
  }
  return all[0].host;
}

std::string SourceAddress(const Config& cfg) {
  std::string a = ListenAddress(cfg);
  return facade::IsWildcardAddress(a) ? std::string() : a;
}

std::vector<std::string> StartupWarnings(const Config& cfg) {
  std::vector<std::string> out;
  if (cfg.databases != 1) {
    out.push_back("databases " + std::to_string(cfg.databases) +
                  ": shoal has one database (db 0); SELECT of any other is refused");
  }
  for (const auto& [name, value] : cfg.ignored) {
    const Directive* d = FindDirective(name);
    if (d == nullptr || d->ignored_default == value) continue;
    out.push_back(name + " '" + value +
                  "' is accepted for compatibility with Redis and ignored: " + std::string(d->doc));
  }
  return out;
}

std::string AnnouncedHost(const Config& cfg, std::span<const facade::InterfaceAddress> interfaces) {
  if (!cfg.cluster_announce_ip.empty()) return cfg.cluster_announce_ip;
  std::string source = SourceAddress(cfg);
  if (!source.empty()) return source;
  return facade::GuessHostAddress(ListenAddress(cfg), interfaces);
}

bool LearnsAnnouncedHost(const Config& cfg) {
  return cfg.cluster_announce_ip.empty() && SourceAddress(cfg).empty();
}

int AnnouncedPort(const Config& cfg) {
  return cfg.cluster_announce_port != 0 ? cfg.cluster_announce_port : ClientPort(cfg);
}

int ClientPort(const Config& cfg) {
  return cfg.port != 0 ? cfg.port : cfg.tls_port;
}

bool TlsEnabled(const Config& cfg) {
  return cfg.tls_port != 0 || cfg.tls_cluster;
}

int AnnouncedBusPort(const Config& cfg) {
  return cfg.cluster_announce_bus_port != 0 ? cfg.cluster_announce_bus_port : ClusterPort(cfg);
}

int ClusterPort(const Config& cfg) {
  return cfg.cluster_port != 0 ? cfg.cluster_port : ClientPort(cfg) + 10000;
}

Status LoadString(std::string_view text, std::string_view source, Config* cfg) {
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // As Redis: trim, skip blanks and comments.
    while (!line.empty() && std::strchr(" \t\r\n", line.front()) != nullptr) line.remove_prefix(1);
    while (!line.empty() && std::strchr(" \t\r\n", line.back()) != nullptr) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto where = [&] { return std::string(source) + ":" + std::to_string(lineno) + ": "; };
    std::optional<std::vector<std::string>> words = SplitArgs(line);
    if (!words) return Status::Invalid(where() + "Unbalanced quotes in configuration line");
    if (words->empty()) continue;
    std::string err = ApplyWords(*words, cfg);
    if (!err.empty()) return Status::Invalid(where() + err);
  }
  return Status::Ok();
}

Status LoadFile(const std::string& path, Config* cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("can't open config file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::IOError("can't read config file '" + path + "': " + std::strerror(errno));
  }
  return LoadString(text.str(), path, cfg);
}

Status ApplyArgs(int argc, char** argv, Config* cfg) {
  auto is_option = [](std::string_view a) { return a.size() >= 2 && a.substr(0, 2) == "--"; };
  int i = 1;
  if (i < argc && !is_option(argv[i])) {
    Status s = LoadFile(argv[i], cfg);
    if (!s.ok()) return s;
    ++i;
  }
  while (i < argc) {
    std::string_view opt = argv[i++];
    if (!is_option(opt)) {
      return Status::Invalid("unexpected argument '" + std::string(opt) +
                             "': directives come as --name value");
    }
    std::vector<std::string> words{std::string(opt.substr(2))};
    const Directive* d = FindDirective(words[0]);
    // As redis-server: the first word after --name is its value even if it
    // starts with "--" (a password may); later "--" words start a new
    // directive. Lists may be empty, so for them "--" always starts one.
    bool takes_first = d != nullptr && !d->is_list;
    while (i < argc && (!is_option(argv[i]) || (takes_first && words.size() == 1))) {
      words.emplace_back(argv[i++]);
    }
    std::string err = ApplyWords(words, cfg);
    if (!err.empty()) return Status::Invalid(std::string(opt) + ": " + err);
  }
  return Status::Ok();
}

Status Validate(const Config& c) {
  auto fail = [](std::string msg) { return Status::Invalid(std::move(msg)); };
  auto n = [](int64_t v) { return std::to_string(v); };
  if (c.bind.empty()) return fail("bind must name an address");
  if (c.slowlog_max_len < 0) return fail("slowlog-max-len must be 0 or more");
  if (c.read_quorum > c.replicas) {
    return fail("read-quorum (" + n(c.read_quorum) + ") must be between 1 and replicas (" +
                n(c.replicas) + ")");
  }
  if (c.write_quorum > c.replicas) {
    return fail("write-quorum (" + n(c.write_quorum) + ") must be between 1 and replicas (" +
                n(c.replicas) + ")");
  }
  if (c.vnodes < c.replicas) {
    return fail("vnodes (" + n(c.vnodes) + ") must be at least replicas (" + n(c.replicas) + ")");
  }
  if (ClusterPort(c) > 65535) {
    return fail("cluster-port defaults to port + 10000 = " + n(ClusterPort(c)) +
                ", above 65535; set cluster-port");
  }
  if (c.port == 0 && c.tls_port == 0) {
    return fail("port and tls-port are both 0: configured to not listen anywhere");
  }
  if (c.tls_port != 0 && c.tls_port == c.port) {
    return fail("tls-port (" + n(c.tls_port) + ") must differ from port");
  }
  if (c.tls_port != 0 && ClusterPort(c) == c.tls_port) {
    return fail("cluster-port (" + n(ClusterPort(c)) + ") must differ from tls-port");
  }
  if (c.port != 0 && ClusterPort(c) == c.port) {
    return fail("cluster-port (" + n(ClusterPort(c)) + ") must differ from port");
  }
  if ((c.cluster_announce_port != 0 || c.cluster_announce_bus_port != 0) &&
      AnnouncedPort(c) == AnnouncedBusPort(c)) {
    return fail("cluster-announce-bus-port (" + n(AnnouncedBusPort(c)) +
                ") must differ from the announced client port (" + n(AnnouncedPort(c)) + ")");
  }
  if (c.node_timeout_ms <= c.gossip_interval_ms) {
    return fail("node-timeout-ms (" + n(c.node_timeout_ms) +
                ") must be greater than gossip-interval-ms (" + n(c.gossip_interval_ms) + ")");
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> ConfigGet(
    const Config& cfg, std::span<const std::string_view> patterns) {
  std::span<const Directive> table = Directives();
  // Redis answers an exact name under the caller's spelling, and a directive
  // once even when several patterns match it.
  std::vector<std::string_view> reply_name(table.size());
  for (std::string_view pattern : patterns) {
    if (!HasGlob(pattern)) {
      if (const Directive* d = FindDirective(pattern)) {
        size_t i = static_cast<size_t>(d - table.data());
        if (reply_name[i].empty()) reply_name[i] = pattern;
      }
      continue;
    }
    for (size_t i = 0; i < table.size(); ++i) {
      if (reply_name[i].empty() && GlobMatch(pattern, table[i].name, /*nocase=*/true))
        reply_name[i] = table[i].name;
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < table.size(); ++i) {
    if (reply_name[i].empty()) continue;
    std::string value = table[i].get(cfg);
    // Secrets are not shown: whoever may run CONFIG GET need not learn them
    // ("" still says none is set).
    if (table[i].secret && !value.empty()) value = kConfigRedacted;
    out.emplace_back(reply_name[i], std::move(value));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& cfg,
                                                           std::string_view pattern) {
  return ConfigGet(cfg, std::span<const std::string_view>(&pattern, 1));
}

Status ConfigSet(Config* cfg, std::string_view name, std::string_view value) {
  std::pair<std::string_view, std::string_view> pair{name, value};
  return ConfigSetMany(cfg, std::span(&pair, 1));
}

Status ConfigSetMany(Config* cfg,
                     std::span<const std::pair<std::string_view, std::string_view>> pairs,
                     const ConfigApplier& apply) {
  // Checked in Redis 7's order (configSetCommand): every name first, the
  // first problem wins; then the values, on a copy so that a failure leaves
  // the running config untouched.
  std::vector<const Directive*> found;
  for (const auto& [name, value] : pairs) {
    const Directive* d = FindDirective(name);
    if (d == nullptr) {
      return Status::Invalid("ERR Unknown option or number of arguments for CONFIG SET - '" +
                             std::string(name) + "'");
    }
    if (!d->is_mutable) return Status::Invalid(SetFailed(name, "can't set immutable config"));
    for (const Directive* seen : found) {
      if (seen == d) return Status::Invalid(SetFailed(name, "duplicate parameter"));
    }
    found.push_back(d);
  }
  Config next = *cfg;
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::vector<std::string> args;
    if (found[i]->is_list) {
      // Multi-argument directives take their words space separated.
      std::string_view v = pairs[i].second;
      for (size_t p = 0; p <= v.size();) {
        size_t sp = std::min(v.find(' ', p), v.size());
        if (sp > p) args.emplace_back(v.substr(p, sp - p));
        p = sp + 1;
      }
    } else {
      args.emplace_back(pairs[i].second);
    }
    std::string err = found[i]->set(&next, args);
    // From here on Redis names the directive itself, not the caller's spelling.
    if (!err.empty()) return Status::Invalid(SetFailed(found[i]->name, err));
  }
  if (Status s = Validate(next); !s.ok()) {
    return Status::Invalid(SetFailed(found.back()->name, s.message()));
  }
  if (!apply) {
    *cfg = std::move(next);
    return Status::Ok();
  }
  Config old = std::move(*cfg);
  *cfg = std::move(next);
  std::vector<const Directive*> applied;
  for (const Directive* d : found) {
    if (d->get(old) == d->get(*cfg)) continue;  // unchanged: nothing to apply
    std::string err = apply(d->name, *cfg);
    if (err.empty()) {
      applied.push_back(d);
      continue;
    }
    // Roll back, as Redis's restoreBackupConfig: the old values, then every
    // apply again (the failed one too: it may have acted half-way).
    *cfg = std::move(old);
    applied.push_back(d);
    for (const Directive* a : applied) (void)apply(a->name, *cfg);
    return Status::Invalid(SetFailed(d->name, err));
  }
  return Status::Ok();
}

}  // namespace shoal::server
