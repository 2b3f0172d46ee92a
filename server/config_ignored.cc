#include "server/config_ignored.h"

#include <algorithm>
#include <climits>
#include <string>
#include <string_view>

#include "facade/args.h"
#include "server/config_values.h"

namespace shoal::server {

Directive Ignored(std::string_view name, Accepts accepts, std::string_view def, Mut mut,
                  std::string_view why) {
  const bool list = accepts.kind == Accepts::kSavePoints;
  Directive d{name,
              mut == Mut::kMutable,
              list,
              why,
              [name, accepts](Config* cfg, std::span<const std::string> args) -> std::string {
                std::string v;
                switch (accepts.kind) {
                  case Accepts::kYesNo: {
                    bool b;
                    if (!ParseBool(args[0], &b)) return std::string(kNotYesNo);
                    v = YesNo(b);
                    break;
                  }
                  case Accepts::kInt: {
                    int64_t n;
                    if (!facade::ParseInt64(args[0], &n)) return std::string(kNotAnInteger);
                    if (n < accepts.min || n > accepts.max)
                      return Between(accepts.min, accepts.max);
                    v = std::to_string(n);
                    break;
                  }
                  case Accepts::kEnum: {
                    for (std::string_view n : accepts.names) {
                      if (facade::EqualsIgnoreCase(args[0], n)) v = n;
                    }
                    if (v.empty()) {
                      std::string err = "argument(s) must be one of the following: ";
                      for (size_t i = 0; i < accepts.names.size(); ++i) {
                        if (i > 0) err += ", ";
                        err += accepts.names[i];
                      }
                      return err;
                    }
                    break;
                  }
                  case Accepts::kString:
                    v = args[0];
                    break;
                  case Accepts::kSavePoints: {
                    // "<seconds> <changes> ..." pairs, or "" (Redis: "Invalid save parameters").
                    std::vector<std::string> words;
                    for (const std::string& a : args) {
                      size_t i = 0;
                      while (i < a.size()) {
                        size_t end = std::min(a.find(' ', i), a.size());
                        if (end > i) words.push_back(a.substr(i, end - i));
                        i = end + 1;
                      }
                    }
                    if (words.size() % 2 != 0) return "Invalid save parameters";
                    for (const std::string& w : words) {
                      int64_t n;
                      if (!facade::ParseInt64(w, &n) || n < 0) return "Invalid save parameters";
                      if (!v.empty()) v += ' ';
                      v += w;
                    }
                    break;
                  }
                }
                cfg->ignored[std::string(name)] = std::move(v);
                return {};
              },
              [name, def](const Config& cfg) {
                auto it = cfg.ignored.find(name);
                return it != cfg.ignored.end() ? it->second : std::string(def);
              }};
  d.ignored_default = std::string(def);
  d.ignored = true;
  return d;
}

// Redis 7.0 directives (from its default redis.conf) that conf files and
// command lines written for Redis commonly carry. Each is accepted with
// Redis's checks and default, reported by CONFIG GET, and ignored; a value
// other than the default is named in a start-up warning with the reason.
std::vector<Directive> MakeIgnoredTable() {
  using M = Mut;
  const Accepts yn{Accepts::kYesNo};
  const Accepts str{Accepts::kString};
  const Accepts nat{Accepts::kInt, 0, LLONG_MAX};
  constexpr std::string_view kRdb =
      "shoal has no RDB snapshots; the append-only log is its persistence";
  constexpr std::string_view kRepl = "shoal replicates through its cluster, not Redis replication";
  constexpr std::string_view kLazy =
      "shoal always frees values of 1 MiB or more in a background thread, smaller ones at once";
  constexpr std::string_view kEnc = "shoal stores strings only; no compact encodings to tune";
  constexpr std::string_view kProc = "shoal runs in the foreground and logs to logfile";
  return {
      Ignored("save", {Accepts::kSavePoints}, "", M::kMutable, kRdb),
      Ignored("dbfilename", str, "dump.rdb", M::kMutable, kRdb),
      Ignored("rdbcompression", yn, "yes", M::kMutable, kRdb),
      Ignored("rdbchecksum", yn, "yes", M::kImmutable, kRdb),
      Ignored("rdb-del-sync-files", yn, "no", M::kMutable, kRdb),
      Ignored("rdb-save-incremental-fsync", yn, "yes", M::kMutable, kRdb),
      Ignored("stop-writes-on-bgsave-error", yn, "yes", M::kMutable, kRdb),
      Ignored("aof-use-rdb-preamble", yn, "yes", M::kMutable, kRdb),
      Ignored("appenddirname", str, "appendonlydir", M::kImmutable,
              "shoal's log is one file, appendfilename in dir"),
      Ignored("no-appendfsync-on-rewrite", yn, "no", M::kMutable,
              "shoal's rewrite never holds back the log's fsyncs"),
      Ignored("aof-load-truncated", yn, "yes", M::kMutable,
              "shoal always cuts a torn tail; see aof-load-corrupt for damage mid-log"),
      Ignored("aof-timestamp-enabled", yn, "no", M::kMutable, "shoal's log has no timestamps"),
      Ignored("aof-rewrite-incremental-fsync", yn, "yes", M::kMutable,
              "shoal's rewrite thread fsyncs on its own schedule"),
      Ignored("supervised", {Accepts::kEnum, 0, 0, {"upstart", "systemd", "auto", "no"}}, "no",
              M::kImmutable, "shoal does not notify a supervisor; it is ready once it listens"),
      Ignored("always-show-logo", yn, "no", M::kImmutable, "shoal has no logo"),
      Ignored("set-proc-title", yn, "yes", M::kImmutable, "shoal keeps its process title"),
      Ignored("proc-title-template", str, "{title} {listen-addr} {server-mode}", M::kMutable,
              "shoal keeps its process title"),
      Ignored("syslog-enabled", yn, "no", M::kImmutable, kProc),
      Ignored("syslog-ident", str, "redis", M::kImmutable, kProc),
      Ignored("crash-log-enabled", yn, "yes", M::kMutable, kProc),
      Ignored("crash-memcheck-enabled", yn, "yes", M::kMutable, kProc),
      Ignored("unixsocket", str, "", M::kImmutable, "shoal listens on TCP only"),
      Ignored("unixsocketperm", str, "0", M::kImmutable, "shoal listens on TCP only"),
      Ignored("io-threads", {Accepts::kInt, 1, 128}, "1", M::kImmutable,
              "shoal serves clients on one loop thread"),
      Ignored("io-threads-do-reads", yn, "no", M::kImmutable,
              "shoal serves clients on one loop thread"),
      Ignored("replica-serve-stale-data", yn, "yes", M::kMutable, kRepl),
      Ignored("replica-read-only", yn, "yes", M::kMutable, kRepl),
      Ignored("replica-priority", nat, "100", M::kMutable, kRepl),
      Ignored("replica-lazy-flush", yn, "no", M::kMutable, kRepl),
      Ignored("repl-diskless-sync", yn, "yes", M::kMutable, kRepl),
      Ignored("repl-diskless-sync-delay", nat, "5", M::kMutable, kRepl),
      Ignored("repl-diskless-load", {Accepts::kEnum, 0, 0, {"disabled", "on-empty-db", "swapdb"}},
              "disabled", M::kMutable, kRepl),
      Ignored("repl-disable-tcp-nodelay", yn, "no", M::kMutable, kRepl),
      Ignored("lazyfree-lazy-eviction", yn, "no", M::kMutable, kLazy),
      Ignored("lazyfree-lazy-expire", yn, "no", M::kMutable, kLazy),
      Ignored("lazyfree-lazy-server-del", yn, "no", M::kMutable, kLazy),
      Ignored("lazyfree-lazy-user-del", yn, "no", M::kMutable, kLazy),
      Ignored("lazyfree-lazy-user-flush", yn, "no", M::kMutable, kLazy),
      Ignored("activerehashing", yn, "yes", M::kMutable,
              "shoal always rehashes incrementally from its cron"),
      Ignored("activedefrag", yn, "no", M::kMutable, "shoal has no active defragmentation"),
      Ignored("dynamic-hz", yn, "yes", M::kMutable, "shoal runs its cron at hz"),
      Ignored("jemalloc-bg-thread", yn, "yes", M::kMutable, "shoal keeps jemalloc's defaults"),
      Ignored("disable-thp", yn, "yes", M::kImmutable, "shoal leaves transparent huge pages alone"),
      Ignored("oom-score-adj", {Accepts::kEnum, 0, 0, {"no", "yes", "relative", "absolute"}}, "no",
              M::kMutable, "shoal leaves its OOM score alone"),
      Ignored("notify-keyspace-events", str, "", M::kMutable,
              "shoal has no keyspace notifications (no pub/sub)"),
      Ignored("lua-time-limit", nat, "5000", M::kMutable, "shoal has no scripting"),
      Ignored("busy-reply-threshold", nat, "5000", M::kMutable, "shoal has no scripting"),
      Ignored("acllog-max-len", nat, "128", M::kMutable, "shoal has no ACL log"),
      Ignored("hash-max-listpack-entries", nat, "128", M::kMutable, kEnc),
      Ignored("hash-max-listpack-value", nat, "64", M::kMutable, kEnc),
      Ignored("list-max-listpack-size", {Accepts::kInt, INT_MIN, INT_MAX}, "-2", M::kMutable, kEnc),
      Ignored("list-compress-depth", nat, "0", M::kMutable, kEnc),
      Ignored("set-max-intset-entries", nat, "512", M::kMutable, kEnc),
      Ignored("zset-max-listpack-entries", nat, "128", M::kMutable, kEnc),
      Ignored("zset-max-listpack-value", nat, "64", M::kMutable, kEnc),
      Ignored("hll-sparse-max-bytes", nat, "3000", M::kMutable, kEnc),
      Ignored("stream-node-max-bytes", nat, "4096", M::kMutable, kEnc),
      Ignored("stream-node-max-entries", nat, "100", M::kMutable, kEnc),
  };
}

}  // namespace shoal::server
