#include "server/config_table.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "facade/args.h"
#include "facade/net_address.h"
#include "server/config_ignored.h"
#include "server/config_values.h"

namespace shoal::server {

using storage::Result;
using storage::Status;
namespace {

template <typename T>
Directive Int(std::string_view name, T Config::*field, int64_t min, int64_t max, Mut mut,
              std::string_view doc) {
  return {name,
          mut == Mut::kMutable,
          false,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            int64_t v;
            if (!facade::ParseInt64(args[0], &v)) return std::string(kNotAnInteger);
            if (v < min || v > max) return Between(min, max);
            cfg->*field = static_cast<T>(v);
            return {};
          },
          [=](const Config& cfg) { return std::to_string(cfg.*field); }};
}

// An integer accepted over [min, max] but stored clamped to [lo, hi], as
// Redis does for hz (0..INT_MAX accepted, 1..500 kept).
Directive Clamped(std::string_view name, int Config::*field, int64_t min, int64_t max, int lo,
                  int hi, Mut mut, std::string_view doc) {
  Directive d = Int(name, field, min, max, mut, doc);
  d.set = [set = d.set, field, lo, hi](Config* cfg, std::span<const std::string> args) {
    std::string err = set(cfg, args);
    if (err.empty()) cfg->*field = std::clamp(cfg->*field, lo, hi);
    return err;
  };
  return d;
}

Directive Memory(std::string_view name, uint64_t Config::*field, uint64_t min, uint64_t max,
                 Mut mut, std::string_view doc) {
  return {name,
          mut == Mut::kMutable,
          false,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            uint64_t v;
            if (!ParseMemory(args[0], &v)) return std::string(kNotMemory);
            if (v < min || v > max) return Between(min, max);
            cfg->*field = v;
            return {};
          },
          [=](const Config& cfg) { return std::to_string(cfg.*field); }};
}

Directive Bool(std::string_view name, bool Config::*field, Mut mut, std::string_view doc) {
  return {name,
          mut == Mut::kMutable,
          false,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            bool v;
            if (!ParseBool(args[0], &v)) return std::string(kNotYesNo);
            cfg->*field = v;
            return {};
          },
          [=](const Config& cfg) { return std::string(YesNo(cfg.*field)); }};
}

// Names listed in the order Redis lists them in its error message.
template <typename E>
Directive Enum(std::string_view name, E Config::*field,
               std::initializer_list<std::pair<std::string_view, E>> names, Mut mut,
               std::string_view doc) {
  std::vector<std::pair<std::string_view, E>> table(names);
  std::string err = "argument(s) must be one of the following: ";
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) err += ", ";
    err += table[i].first;
  }
  return {name,
          mut == Mut::kMutable,
          false,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            for (const auto& [n, v] : table) {
              if (facade::EqualsIgnoreCase(args[0], n)) {
                cfg->*field = v;
                return {};
              }
            }
            return err;
          },
          [=](const Config& cfg) {
            for (const auto& [n, v] : table) {
              if (cfg.*field == v) return std::string(n);
            }
            return std::string();
          }};
}

Directive String(std::string_view name, std::string Config::*field, Mut mut, std::string_view doc) {
  return {name,
          mut == Mut::kMutable,
          false,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            cfg->*field = args[0];
            return {};
          },
          [=](const Config& cfg) { return cfg.*field; }};
}

// Seeds come as one or more arguments, each a comma and/or space separated
// list; "" clears the list. A repeated directive replaces the list.
Directive Seeds(std::string_view name, std::vector<SeedAddress> Config::*field,
                std::string_view doc) {
  return {name,
          false,
          true,
          doc,
          [=](Config* cfg, std::span<const std::string> args) -> std::string {
            std::vector<SeedAddress> seeds;
            for (const std::string& arg : args) {
              size_t i = 0;
              while (i < arg.size()) {
                size_t end = arg.find_first_of(", \t", i);
                if (end == std::string::npos) end = arg.size();
                if (end > i) {
                  Result<SeedAddress> seed =
                      ParseSeedAddress(std::string_view(arg).substr(i, end - i));
                  if (!seed.ok()) return seed.status().message();
                  seeds.push_back(std::move(seed).value());
                }
                i = end + 1;
              }
            }
            cfg->*field = std::move(seeds);
            return {};
          },
          [=](const Config& cfg) {
            std::string out;
            for (const SeedAddress& s : cfg.*field) {
              if (!out.empty()) out += ' ';
              out += s.ToString();
            }
            return out;
          }};
}

// A numeric IP address peers can connect to, or "" for none: no host names
// (peers are dialled by address) and no wildcard (0.0.0.0 names no host).
Directive AnnounceAddress(std::string_view name, std::string Config::*field, std::string_view doc) {
  Directive d = String(name, field, Mut::kImmutable, doc);
  d.set = [field](Config* cfg, std::span<const std::string> args) -> std::string {
    const std::string& a = args[0];
    if (!a.empty() && (!facade::IsNumericAddress(a) || facade::IsWildcardAddress(a))) {
      return "argument must be an IPv4 or IPv6 address (not a wildcard), or \"\"";
    }
    cfg->*field = a;
    return {};
  };
  return d;
}

// A yes|no directive of which shoal supports only "no".
Directive OnlyNo(std::string_view name, bool Config::*field, std::string_view why,
                 std::string_view doc) {
  Directive d = Bool(name, field, Mut::kImmutable, doc);
  d.set = [set = d.set, field, why](Config* cfg, std::span<const std::string> args) {
    Config tmp = *cfg;
    std::string err = set(&tmp, args);
    if (err.empty() && tmp.*field) return std::string(why);
    if (err.empty()) cfg->*field = false;
    return err;
  };
  return d;
}

// `bind`: one or more addresses, each argument a space separated list, at
// most 16 as Redis (CONFIG_BINDADDR_MAX). Kept as written; BindAddresses()
// reads the forms.
Directive Bind() {
  return {"bind",
          true,
          true,
          "addresses to listen on",
          [](Config* cfg, std::span<const std::string> args) -> std::string {
            std::vector<std::string> out;
            for (const std::string& arg : args) {
              size_t i = 0;
              while (i < arg.size()) {
                size_t end = arg.find_first_of(" \t", i);
                if (end == std::string::npos) end = arg.size();
                if (end > i) out.push_back(arg.substr(i, end - i));
                i = end + 1;
              }
            }
            if (out.size() > 16) return "Too many bind addresses specified.";
            for (const std::string& a : out) {
              std::string_view h = a;
              if (!h.empty() && h[0] == '-') h.remove_prefix(1);
              if (h == "*" || h == "::*" || h == "localhost" || facade::IsNumericAddress(h))
                continue;
              return "invalid bind address '" + a +
                     "': an IPv4 or IPv6 address, *, ::* or localhost, with - for an optional one";
            }
            cfg->bind = std::move(out);
            return {};
          },
          [](const Config& cfg) {
            std::string out;
            for (const std::string& a : cfg.bind) {
              if (!out.empty()) out += ' ';
              out += a;
            }
            return out;
          }};
}

// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ...`: one
// or more groups of four, each setting its class only (Redis's
// updateClientOutputBufferLimit, its error words); printed for every class.
Directive OutputBufferLimits() {
  return {"client-output-buffer-limit",
          true,
          true,
          "close clients whose pending output passes the limits",
          [](Config* cfg, std::span<const std::string> args) -> std::string {
            std::vector<std::string> words;
            for (const std::string& arg : args) {
              size_t i = 0;
              while (i < arg.size()) {
                size_t end = arg.find_first_of(" \t", i);
                if (end == std::string::npos) end = arg.size();
                if (end > i) words.push_back(arg.substr(i, end - i));
                i = end + 1;
              }
            }
            if (words.empty() || words.size() % 4 != 0) {
              return "Wrong number of arguments in buffer limit configuration.";
            }
            OutputBufferLimit next[kObufClasses];
            std::copy(std::begin(cfg->client_output_buffer_limit),
                      std::end(cfg->client_output_buffer_limit), next);
            for (size_t j = 0; j < words.size(); j += 4) {
              int cls;
              const std::string& name = words[j];
              if (facade::EqualsIgnoreCase(name, "normal")) {
                cls = kObufNormal;
              } else if (facade::EqualsIgnoreCase(name, "slave") ||
                         facade::EqualsIgnoreCase(name, "replica")) {
                cls = kObufReplica;
              } else if (facade::EqualsIgnoreCase(name, "pubsub")) {
                cls = kObufPubsub;
              } else {
                return "Invalid client class specified in buffer limit configuration.";
              }
              OutputBufferLimit l;
              if (!ParseMemory(words[j + 1], &l.hard) || !ParseMemory(words[j + 2], &l.soft) ||
                  !facade::ParseInt64(words[j + 3], &l.soft_seconds) || l.soft_seconds < 0) {
                return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
              }
              next[cls] = l;
            }
            std::copy(std::begin(next), std::end(next), cfg->client_output_buffer_limit);
            return {};
          },
          [](const Config& cfg) {
            static constexpr const char* kNames[kObufClasses] = {"normal", "slave", "pubsub"};
            std::string out;
            for (int c = 0; c < kObufClasses; ++c) {
              const OutputBufferLimit& l = cfg.client_output_buffer_limit[c];
              if (!out.empty()) out += ' ';
              out += std::string(kNames[c]) + ' ' + std::to_string(l.hard) + ' ' +
                     std::to_string(l.soft) + ' ' + std::to_string(l.soft_seconds);
            }
            return out;
          }};
}

// `rename-command <name> <new-name>`: each line adds one; conf file and
// command line only; `rename-command ""` clears the list (the default).
// Listed by CONFIG GET as "name new-name" pairs (redacted, a secret).
Directive RenameCommand() {
  return {"rename-command",
          false,
          true,
          "rename or (\"\") disable a command for clients",
          [](Config* cfg, std::span<const std::string> args) -> std::string {
            if (args.size() == 1 && args[0].empty()) {  // `rename-command ""`: none
              cfg->rename_command.clear();
              return {};
            }
            if (args.size() != 2) return "wrong number of arguments";
            if (args[0].empty()) return "No such command in rename-command";
            cfg->rename_command.emplace_back(args[0], args[1]);
            return {};
          },
          [](const Config& cfg) {
            std::string out;
            for (const auto& [from, to] : cfg.rename_command) {
              if (!out.empty()) out += ' ';
              out += from + ' ' + (to.empty() ? std::string("\"\"") : to);
            }
            return out;
          }};
}

Directive Secret(Directive d) {
  d.secret = true;
  return d;
}

std::vector<Directive> MakeTable() {
  constexpr int64_t kIntMax = INT_MAX;
  constexpr uint64_t kLongMax = LONG_MAX;
  constexpr uint64_t kMb = 1024 * 1024;
  using M = Mut;
  using C = Config;
  return {
      // network and clients
      Bind(),
      Bool("protected-mode", &C::protected_mode, M::kMutable,
           "refuse non-loopback clients without a password (stored, not enforced yet)"),
      Int("port", &C::port, 0, 65535, M::kImmutable, "client TCP port"),
      Int("tcp-backlog", &C::tcp_backlog, 0, kIntMax, M::kImmutable, "listen(2) backlog"),
      Int("tcp-keepalive", &C::tcp_keepalive, 0, kIntMax, M::kMutable, "SO_KEEPALIVE seconds"),
      Int("timeout", &C::timeout, 0, kIntMax, M::kMutable, "close idle clients after seconds"),
      Int("maxclients", &C::maxclients, 1, UINT_MAX, M::kMutable, "max client connections"),
      Secret(String("requirepass", &C::requirepass, M::kMutable, "AUTH password, \"\" for none")),
      Memory("proto-max-bulk-len", &C::proto_max_bulk_len, kMb, kLongMax, M::kMutable,
             "largest bulk string accepted"),
      Memory("client-query-buffer-limit", &C::client_query_buffer_limit, kMb, kLongMax, M::kMutable,
             "largest unparsed input per client"),
      OutputBufferLimits(),
      Secret(RenameCommand()),
      // TLS: the files, protocols and ciphers are CONFIG SET-able and reload
      // the context for new connections (Server::ApplyDirective); the ports
      // and tls-cluster are fixed at start-up.
      Int("tls-port", &C::tls_port, 0, 65535, M::kImmutable, "TLS client port, 0 for none"),
      String("tls-cert-file", &C::tls_cert_file, M::kMutable, "this node's certificate (PEM)"),
      String("tls-key-file", &C::tls_key_file, M::kMutable, "its private key (PEM)"),
      Secret(String("tls-key-file-pass", &C::tls_key_file_pass, M::kMutable,
                    "passphrase of tls-key-file")),
      String("tls-client-cert-file", &C::tls_client_cert_file, M::kMutable,
             "certificate for outgoing peer links, \"\" for tls-cert-file"),
      String("tls-client-key-file", &C::tls_client_key_file, M::kMutable,
             "its private key, \"\" for tls-key-file"),
      Secret(String("tls-client-key-file-pass", &C::tls_client_key_file_pass, M::kMutable,
                    "passphrase of tls-client-key-file")),
      String("tls-ca-cert-file", &C::tls_ca_cert_file, M::kMutable,
             "CA bundle that verifies clients and peers"),
      String("tls-ca-cert-dir", &C::tls_ca_cert_dir, M::kMutable,
             "directory of CA certificates (c_rehash layout)"),
      Enum("tls-auth-clients", &C::tls_auth_clients,
           {{"no", TlsAuthClients::kNo},
            {"yes", TlsAuthClients::kYes},
            {"optional", TlsAuthClients::kOptional}},
           M::kMutable, "clients on tls-port must present a certificate of the CA"),
      Bool("tls-cluster", &C::tls_cluster, M::kImmutable,
           "peer links use TLS both ways, mutually verified"),
      Ignored("tls-replication", {Accepts::kYesNo}, "no", M::kMutable,
              "shoal has no Redis replication; tls-cluster protects replica traffic"),
      String("tls-protocols", &C::tls_protocols, M::kMutable,
             "TLS versions allowed: TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"),
      String("tls-ciphers", &C::tls_ciphers, M::kMutable,
             "TLSv1.2 cipher list, \"\" for OpenSSL's"),
      String("tls-ciphersuites", &C::tls_ciphersuites, M::kMutable,
             "TLSv1.3 cipher suites, \"\" for OpenSSL's"),
      Bool("tls-prefer-server-ciphers", &C::tls_prefer_server_ciphers, M::kMutable,
           "the server's cipher order wins"),
      Bool("tls-session-caching", &C::tls_session_caching, M::kMutable,
           "resume TLS sessions (server-side cache)"),
      Int("tls-session-cache-size", &C::tls_session_cache_size, 1, kIntMax, M::kMutable,
          "sessions kept in the cache"),
      Int("tls-session-cache-timeout", &C::tls_session_cache_timeout, 1, kIntMax, M::kMutable,
          "seconds a cached session stays valid"),
      String("tls-dh-params-file", &C::tls_dh_params_file, M::kMutable,
             "DH parameters (PEM), \"\" for OpenSSL's automatic ones"),
      // process
      String("dir", &C::dir, M::kImmutable, "working directory: node id, append-only log"),
      String("pidfile", &C::pidfile, M::kImmutable, "write the pid here, \"\" for none"),
      OnlyNo("daemonize", &C::daemonize,
             "shoal does not daemonize; run it in the foreground under a supervisor", "always no"),
      Enum("loglevel", &C::loglevel,
           {{"debug", LogLevel::kDebug},
            {"verbose", LogLevel::kVerbose},
            {"notice", LogLevel::kNotice},
            {"warning", LogLevel::kWarning}},
           M::kMutable, "log verbosity"),
      String("logfile", &C::logfile, M::kImmutable, "log file, \"\" for stdout"),
      Clamped("hz", &C::hz, 0, kIntMax, 1, 500, M::kMutable, "background tasks per second"),
      Int("databases", &C::databases, 1, kIntMax, M::kImmutable,
          "number of databases; shoal has db 0 only"),
      // introspection
      Int("slowlog-log-slower-than", &C::slowlog_log_slower_than, -1, LLONG_MAX, M::kMutable,
          "log commands slower than this many microseconds; -1 off"),
      Int("slowlog-max-len", &C::slowlog_max_len, 0, LONG_MAX, M::kMutable,
          "entries kept by SLOWLOG"),
      Int("latency-monitor-threshold", &C::latency_monitor_threshold, 0, LLONG_MAX, M::kMutable,
          "LATENCY records events this many ms or longer; 0 off"),
      // cluster
      Int("cluster-port", &C::cluster_port, 0, 65535, M::kImmutable,
          "peer (cluster bus) port, 0 for port+10000"),
      Seeds("cluster-seeds", &C::cluster_seeds, "host:port[@cport] nodes to join through"),
      String("node-name", &C::node_name, M::kImmutable, "human label for this node"),
      Secret(String("cluster-secret", &C::cluster_secret, M::kImmutable,
                    "shared secret peers must prove")),
      AnnounceAddress("cluster-announce-ip", &C::cluster_announce_ip,
                      "address peers are told, \"\" for bind or the one peers use"),
      Int("cluster-announce-port", &C::cluster_announce_port, 0, 65535, M::kImmutable,
          "client port peers are told, 0 for port"),
      Int("cluster-announce-bus-port", &C::cluster_announce_bus_port, 0, 65535, M::kImmutable,
          "cluster port peers are told, 0 for the cluster port"),
      Int("replicas", &C::replicas, 1, 255, M::kImmutable, "N: copies of each key"),
      Int("read-quorum", &C::read_quorum, 1, 255, M::kImmutable, "R: replies a read waits for"),
      Int("write-quorum", &C::write_quorum, 1, 255, M::kImmutable, "W: acks a write waits for"),
      Bool("sloppy-quorum", &C::sloppy_quorum, M::kMutable, "fallback nodes may stand in"),
      Bool("hinted-handoff", &C::hinted_handoff, M::kImmutable, "fallbacks hand data back"),
      Bool("read-repair", &C::read_repair, M::kMutable, "fix stale replicas on read"),
      Enum("conflict-resolution", &C::conflict_resolution,
           {{"siblings", ConflictResolution::kSiblings}, {"lww", ConflictResolution::kLww}},
           M::kImmutable, "keep siblings or last write wins"),
      Int("vnodes", &C::vnodes, 1, 1 << 20, M::kImmutable, "Q: fixed ring partitions"),
      Int("request-timeout-ms", &C::request_timeout_ms, 1, kIntMax, M::kMutable,
          "quorum wait before NOQUORUM"),
      Int("gossip-interval-ms", &C::gossip_interval_ms, 1, kIntMax, M::kImmutable,
          "gossip and failure-detector period"),
      Int("node-timeout-ms", &C::node_timeout_ms, 1, kIntMax, M::kImmutable,
          "silence before a node is marked failing"),
      Int("anti-entropy-interval-ms", &C::anti_entropy_interval_ms, 0, kIntMax, M::kMutable,
          "Merkle exchange period, 0 for off"),
      Int("siblings-warn", &C::siblings_warn, 1, kIntMax, M::kMutable,
          "warn past this many siblings"),
      Int("max-siblings", &C::max_siblings, 1, kIntMax, M::kMutable,
          "refuse writes past this many siblings"),
      Int("tombstone-grace-ms", &C::tombstone_grace_ms, 0, kIntMax, M::kMutable,
          "dead keys are purged no sooner"),
      // storage
      Bool("appendonly", &C::appendonly, M::kImmutable, "keep the append-only log"),
      Enum("appendfsync", &C::appendfsync,
           {{"everysec", AppendFsync::kEverysec},
            {"always", AppendFsync::kAlways},
            {"no", AppendFsync::kNo}},
           M::kMutable, "fsync policy of the log"),
      String("appendfilename", &C::appendfilename, M::kImmutable, "log file name in dir"),
      Enum("aof-load-corrupt", &C::aof_load_corrupt,
           {{"stop", AofLoadCorrupt::kStop}, {"skip", AofLoadCorrupt::kSkip}}, M::kImmutable,
           "damage mid-log: stop or skip"),
      Int("auto-aof-rewrite-percentage", &C::auto_aof_rewrite_percentage, 0, kIntMax, M::kMutable,
          "rewrite when the log grew by this %"),
      Memory("auto-aof-rewrite-min-size", &C::auto_aof_rewrite_min_size, 0, LLONG_MAX, M::kMutable,
             "no automatic rewrite below this size"),
      Memory("maxmemory", &C::maxmemory, 0, UINT64_MAX, M::kMutable, "memory limit, 0 for none"),
      Enum("maxmemory-policy", &C::maxmemory_policy,
           {{"volatile-lru", MaxmemoryPolicy::kVolatileLru},
            {"volatile-lfu", MaxmemoryPolicy::kVolatileLfu},
            {"volatile-random", MaxmemoryPolicy::kVolatileRandom},
            {"volatile-ttl", MaxmemoryPolicy::kVolatileTtl},
            {"allkeys-lru", MaxmemoryPolicy::kAllkeysLru},
            {"allkeys-lfu", MaxmemoryPolicy::kAllkeysLfu},
            {"allkeys-random", MaxmemoryPolicy::kAllkeysRandom},
            {"noeviction", MaxmemoryPolicy::kNoEviction}},
           M::kMutable, "what to do at maxmemory"),
      Int("maxmemory-samples", &C::maxmemory_samples, 1, 64, M::kMutable,
          "keys sampled per eviction"),
      Int("lfu-log-factor", &C::lfu_log_factor, 0, kIntMax, M::kMutable,
          "LFU counter logarithm factor"),
      Int("lfu-decay-time", &C::lfu_decay_time, 0, kIntMax, M::kMutable,
          "LFU counter decay period, minutes"),
  };
}

}  // namespace

std::span<const Directive> Directives() {
  static const std::vector<Directive> table = [] {
    std::vector<Directive> all = MakeTable();
    for (Directive& d : MakeIgnoredTable()) all.push_back(std::move(d));
    return all;
  }();
  return table;
}

bool IsSecretDirective(std::string_view name) {
  const Directive* d = FindDirective(name);
  return d != nullptr && d->secret;
}

const Directive* FindDirective(std::string_view name) {
  for (const Directive& d : Directives()) {
    if (facade::EqualsIgnoreCase(d.name, name)) return &d;
  }
  return nullptr;
}

}  // namespace shoal::server
