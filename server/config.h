#pragma once
// The server's configuration: every directive of the conf file as a typed
// field with its default, the loaders (conf file, command line) and the
// run-time view used by CONFIG GET / CONFIG SET.
//
// Directives follow Redis's rules (src/config.c): one `directive arg...` per
// line, `#` comments, arguments split and unquoted as redis-cli does
// (sdssplitargs); integers as string2ll, memory sizes as memtoull (1k = 1000,
// 1kb = 1024, case-insensitive), booleans yes|no, enums case-insensitive. The
// list of directives, their kinds and which ones CONFIG SET may change live in
// one table (server/config_table.cc); everything here is driven by it.
//
// All functions are pure: no globals, no I/O except LoadFile/ApplyArgs reading
// the named file. Not thread-safe; the loop thread owns the Config.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "facade/net_address.h"
#include "storage/status.h"

namespace shoal::server {

enum class ConflictResolution { kSiblings, kLww };
enum class AppendFsync { kAlways, kEverysec, kNo };
enum class MaxmemoryPolicy {
  kNoEviction,
  kAllkeysLru,
  kAllkeysLfu,
  kAllkeysRandom,
  kVolatileLru,
  kVolatileLfu,
  kVolatileRandom,
  kVolatileTtl,
};
enum class LogLevel { kDebug, kVerbose, kNotice, kWarning };
enum class AofLoadCorrupt { kStop, kSkip };
// tls-auth-clients: clients on tls-port must present a certificate signed by
// the CA (yes), may (optional: verified if presented), or are not asked (no).
enum class TlsAuthClients { kYes, kOptional, kNo };

// One entry of `cluster-seeds`: a node named by its client address, as
// CLUSTER MEET names it; `host:port` or `host:port@cport` (IPv6 hosts in
// brackets: `[::1]:7001`).
struct SeedAddress {
  std::string host;
  int port = 0;
  int cluster_port = 0;  // 0: not given, the node's default (port + 10000)

  int bus_port() const { return cluster_port != 0 ? cluster_port : port + 10000; }
  // The text it was parsed from, in canonical form.
  std::string ToString() const;
  bool operator==(const SeedAddress&) const = default;
};

// One class of client-output-buffer-limit (Redis's clientBufferLimitsConfig):
// hard and soft limits in bytes (0 = none) and how long a client may stay
// over the soft one.
struct OutputBufferLimit {
  uint64_t hard = 0;
  uint64_t soft = 0;
  int64_t soft_seconds = 0;
  bool operator==(const OutputBufferLimit&) const = default;
};
// The classes, in Redis's order: normal, replica ("slave"), pubsub. shoal's
// clients (MONITOR ones too, as Redis) are all of class normal; the other
// two are accepted and reported for Redis's tools.
enum OutputBufferClass { kObufNormal = 0, kObufReplica = 1, kObufPubsub = 2, kObufClasses = 3 };

// Parses one `host:port[@cport]`; the error message says what is wrong.
storage::Result<SeedAddress> ParseSeedAddress(std::string_view text);

// Every directive with its default. Field names are the directive names with
// '-' turned into '_'. conf/shoal.conf says which directives are parsed and
// reported but not acted on yet.
struct Config {
  // --- network and clients ---
  // Addresses to listen on, as written (Redis 7's forms: IPv4/IPv6 literals,
  // "localhost", "*" for every IPv4 address, "::*" for every IPv6 one, a "-"
  // prefix for an address that may be missing); see BindAddresses().
  std::vector<std::string> bind = {"127.0.0.1"};
  bool protected_mode = true;  // stored and reported; not enforced yet
  int port = 6379;
  int tcp_backlog = 511;
  int tcp_keepalive = 300;     // seconds, 0 = off
  int timeout = 0;             // idle client timeout, seconds, 0 = never
  int64_t maxclients = 10000;  // 1..4294967295 as Redis
  std::string requirepass;     // "" = no AUTH needed
  uint64_t proto_max_bulk_len = 512ull << 20;
  uint64_t client_query_buffer_limit = 1ull << 30;
  // rename-command <name> <new-name> lines, in order ("" disables the
  // command). Conf file and command line only, as Redis.
  std::vector<std::pair<std::string, std::string>> rename_command;
  // Redis's defaults: normal 0 0 0, slave 256mb 64mb 60, pubsub 32mb 8mb 60.
  OutputBufferLimit client_output_buffer_limit[kObufClasses] = {
      {0, 0, 0}, {256ull << 20, 64ull << 20, 60}, {32ull << 20, 8ull << 20, 60}};

  // --- TLS (Redis's tls-* directives; README "TLS") ---
  int tls_port = 0;  // 0 = no TLS client port; `port 0` then turns plain TCP off
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_key_file_pass;     // a secret: redacted by CONFIG GET
  std::string tls_client_cert_file;  // outgoing peer links; "" = tls-cert-file
  std::string tls_client_key_file;   // outgoing peer links; "" = tls-key-file
  std::string tls_client_key_file_pass;
  std::string tls_ca_cert_file;
  std::string tls_ca_cert_dir;
  TlsAuthClients tls_auth_clients = TlsAuthClients::kYes;
  bool tls_cluster = false;  // peer links TLS both ways, mutually verified
  std::string tls_protocols = "TLSv1.2 TLSv1.3";
  std::string tls_ciphers;       // TLSv1.2 and below; "" = OpenSSL's default
  std::string tls_ciphersuites;  // TLSv1.3; "" = OpenSSL's default
  bool tls_prefer_server_ciphers = false;
  bool tls_session_caching = true;
  int64_t tls_session_cache_size = 20480;
  int64_t tls_session_cache_timeout = 300;  // seconds
  std::string tls_dh_params_file;
  // (tls-replication is accepted and ignored: shoal has no Redis replication.)

  // --- process ---
  std::string dir = ".";   // node id, append-only log
  std::string pidfile;     // "" = none
  bool daemonize = false;  // only "no": run shoal under a supervisor
  LogLevel loglevel = LogLevel::kNotice;
  std::string logfile;  // "" = stdout
  int hz = 10;          // background task frequency, clamped to 1..500 as Redis
  int databases = 1;    // only db 0 exists; other values are accepted with a warning

  // --- introspection ---
  int64_t slowlog_log_slower_than = 10000;  // microseconds; <0 off, 0 every command
  int64_t slowlog_max_len = 128;
  int64_t latency_monitor_threshold = 0;  // milliseconds; 0 = off

  // --- cluster ---
  int cluster_port = 0;  // 0 = port + 10000; see ClusterPort()
  std::vector<SeedAddress> cluster_seeds;
  std::string node_name;  // human label; the node id is generated and kept in `dir`
  std::string cluster_secret;
  // What the node advertises to its peers in its membership entry, as Redis
  // Cluster's directives (for NAT and containers); see AnnouncedHost().
  std::string cluster_announce_ip;    // "" = bind, or learnt when bind is a wildcard
  int cluster_announce_port = 0;      // 0 = port
  int cluster_announce_bus_port = 0;  // 0 = the cluster port (ClusterPort)

  int replicas = 3;      // N
  int read_quorum = 2;   // R
  int write_quorum = 2;  // W
  bool sloppy_quorum = true;
  bool hinted_handoff = true;
  bool read_repair = true;
  ConflictResolution conflict_resolution = ConflictResolution::kSiblings;
  int vnodes = 256;  // Q: fixed, equal-size ring partitions (Dynamo strategy 3)
  int64_t request_timeout_ms = 1000;
  int64_t gossip_interval_ms = 200;
  int64_t node_timeout_ms = 5000;
  int64_t anti_entropy_interval_ms = 60000;  // 0 = off
  int siblings_warn = 25;
  int max_siblings = 100;
  int64_t tombstone_grace_ms = 60000;  // dead keys are purged no sooner

  // --- storage ---
  bool appendonly = true;
  AppendFsync appendfsync = AppendFsync::kEverysec;
  std::string appendfilename = "appendonly.aof";
  AofLoadCorrupt aof_load_corrupt = AofLoadCorrupt::kStop;
  int auto_aof_rewrite_percentage = 100;
  uint64_t auto_aof_rewrite_min_size = 64ull << 20;
  uint64_t maxmemory = 0;  // 0 = no limit
  MaxmemoryPolicy maxmemory_policy = MaxmemoryPolicy::kNoEviction;
  int maxmemory_samples = 5;  // keys sampled per eviction, as Redis
  int lfu_log_factor = 10;
  int lfu_decay_time = 1;

  // Redis directives shoal accepts, reports and ignores (RDB snapshots,
  // replication, lazy freeing, ...): name -> value as CONFIG GET prints it.
  // Absent: the directive's default (config_table.cc lists them).
  std::map<std::string, std::string, std::less<>> ignored;
};

// One listening address of `bind`: a numeric address ("*" is 0.0.0.0,
// "::*" is ::, "localhost" 127.0.0.1) and whether it may be missing
// ("-" prefix: start-up goes on when it cannot be bound).
struct BindAddress {
  std::string host;
  bool optional = false;
  bool operator==(const BindAddress&) const = default;
};
std::vector<BindAddress> BindAddresses(const Config& cfg);

// Lines to log at start-up, one per directive set to a value shoal accepts
// but does not act on (databases other than 1, save points, ...).
std::vector<std::string> StartupWarnings(const Config& cfg);

// The cluster bus port: cluster-port, or port + 10000 when it is 0 (as
// Redis, tls-port + 10000 when port is 0).
int ClusterPort(const Config& cfg);
// The client port clients connect to: port, or tls-port when port is 0.
int ClientPort(const Config& cfg);
// TLS is in use: a tls-port, or tls-cluster yes (the context must load).
bool TlsEnabled(const Config& cfg);
// The address the cluster port listens on: cluster-announce-ip when it is
// one of the bind addresses, else the first bind address ("localhost" is
// 127.0.0.1, "*" 0.0.0.0). SourceAddress: the same address as the source of
// outbound peer connections (empty for a wildcard: the kernel picks).
std::string ListenAddress(const Config& cfg);
std::string SourceAddress(const Config& cfg);

// The host this node advertises to its peers at start-up:
// cluster-announce-ip when set; else the `bind` address when it names one;
// else (a wildcard bind) a guess from the machine's `interfaces`
// (facade::GuessHostAddress), replaced later by the address the peer
// connections use (LearnsAnnouncedHost). Never a wildcard.
std::string AnnouncedHost(const Config& cfg, std::span<const facade::InterfaceAddress> interfaces);
// True when the advertised host is learnt from peer connections: `bind` is a
// wildcard (0.0.0.0, ::) and cluster-announce-ip is not set.
bool LearnsAnnouncedHost(const Config& cfg);
// The client port and cluster bus port peers are told:
// cluster-announce-port / cluster-announce-bus-port, or ClientPort() /
// ClusterPort() when they are 0.
int AnnouncedPort(const Config& cfg);
int AnnouncedBusPort(const Config& cfg);

// Applies the directives of a conf file on top of `cfg`. Errors name the
// file, line and reason: "conf/x.conf:12: unknown directive 'foo'",
// "conf/x.conf:3: 'port' 'abc': argument couldn't be parsed into an integer".
// On error `cfg` may be partly updated (start-up stops anyway).
storage::Status LoadFile(const std::string& path, Config* cfg);

// As LoadFile, from text already in memory; `source` names it in errors.
storage::Status LoadString(std::string_view text, std::string_view source, Config* cfg);

// The command line, as redis-server takes it: argv[0] is the program,
// an optional first argument not starting with "--" is a conf file (loaded
// first), then `--directive value [value...]` groups applied in order.
// Errors name the argument instead of file:line:
// "--port: 'port' 'abc': argument couldn't be parsed into an integer".
// Does not call Validate.
storage::Status ApplyArgs(int argc, char** argv, Config* cfg);

// Cross-field rules checked once everything is loaded: 1 <= R,W <= N,
// vnodes >= N, bus port in range and distinct from the client port (the
// announced ones too), ...
storage::Status Validate(const Config& cfg);

// CONFIG GET: (name, value) pairs for every directive matching one of
// `patterns` (glob, case-insensitive), each directive once, in table order.
// A pattern without glob characters is an exact, case-insensitive lookup
// and, as Redis does, the reply names it as the caller spelled it. Values
// print as Redis prints them: memory sizes in bytes, booleans yes|no,
// lists space separated.
std::vector<std::pair<std::string, std::string>> ConfigGet(
    const Config& cfg, std::span<const std::string_view> patterns);
std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& cfg,
                                                           std::string_view pattern);

// CONFIG SET of one directive; see ConfigSetMany.
storage::Status ConfigSet(Config* cfg, std::string_view name, std::string_view value);

// Makes a changed directive take effect outside the Config (rebinding the
// listeners for `bind`). Called with the directive's name and the config
// holding its new value; returns "" or the reason it failed, in Redis's
// words ("Failed to bind to specified addresses.").
using ConfigApplier = std::function<std::string(std::string_view directive, const Config& cfg)>;

// CONFIG SET name value [name value ...], atomic as in Redis 7
// (configSetCommand): every name is checked, then every value is set on a
// copy, then `apply` (if given) runs once for each directive whose value
// changed, in argument order. If one fails, the old config is restored and
// `apply` runs again for the directives already applied, so that what they
// act on is back as before; nothing of the command remains. Only directives
// that can change at run time are accepted. Failures carry the full error
// reply, Redis 7's words:
//   "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
//   "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
//   "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be
//    parsed into an integer"
//   "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified
//    addresses."
storage::Status ConfigSetMany(Config* cfg,
                              std::span<const std::pair<std::string_view, std::string_view>> pairs,
                              const ConfigApplier& apply = {});

}  // namespace shoal::server
