#include "server/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server/config_table.h"

namespace shoal::server {

using storage::Result;
using storage::Status;
namespace {

namespace fs = std::filesystem;

const fs::path kConfDir = fs::path(__FILE__).parent_path() / ".." / ".." / ".." / "conf";

// Loads `text` as "t.conf" into a default Config; returns the error message
// ("" when it loaded).
std::string Load(std::string_view text, Config* cfg) {
  Status s = LoadString(text, "t.conf", cfg);
  return s.ok() ? std::string() : s.message();
}
std::string LoadErr(std::string_view text) {
  Config cfg;
  return Load(text, &cfg);
}

std::string Get(const Config& cfg, std::string_view name) {
  auto got = ConfigGet(cfg, name);
  REQUIRE(got.size() == 1);
  return got[0].second;
}

// argv for ApplyArgs; the strings live as long as the object.
struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (std::string& s : args) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<char*> ptrs;
};

std::string Set(Config* cfg, std::string_view name, std::string_view value) {
  Status s = ConfigSet(cfg, name, value);
  return s.ok() ? "OK" : s.message();
}

TEST_CASE("config: defaults") {
  Config c;
  CHECK(c.bind == std::vector<std::string>{"127.0.0.1"});
  CHECK(c.port == 6379);
  CHECK(ClusterPort(c) == 16379);
  CHECK(c.dir == ".");
  CHECK(c.cluster_seeds.empty());
  CHECK(c.replicas == 3);
  CHECK(c.read_quorum == 2);
  CHECK(c.write_quorum == 2);
  CHECK(c.sloppy_quorum);
  CHECK(c.conflict_resolution == ConflictResolution::kSiblings);
  CHECK(c.vnodes == 256);
  CHECK(c.appendonly);
  CHECK(c.appendfsync == AppendFsync::kEverysec);
  CHECK(c.maxmemory_policy == MaxmemoryPolicy::kNoEviction);
  CHECK(c.proto_max_bulk_len == 512u * 1024 * 1024);
  CHECK(c.client_query_buffer_limit == 1024u * 1024 * 1024);
  CHECK(c.loglevel == LogLevel::kNotice);
  CHECK(Validate(c).ok());
}

TEST_CASE("config: integers are strict and range checked") {
  Config c;
  CHECK(Load("port 7001\nmaxclients 5\ntimeout 30\n", &c) == "");
  CHECK(c.port == 7001);
  CHECK(c.maxclients == 5);
  CHECK(c.timeout == 30);
  CHECK(LoadErr("port abc") ==
        "t.conf:1: 'port' 'abc': argument couldn't be parsed into an integer");
  CHECK(LoadErr("port 99999") ==
        "t.conf:1: 'port' '99999': argument must be between 0 and 65535 inclusive");
  CHECK(LoadErr("port -1") ==
        "t.conf:1: 'port' '-1': argument must be between 0 and 65535 inclusive");
  CHECK(LoadErr("maxclients 0") ==
        "t.conf:1: 'maxclients' '0': argument must be between 1 and 4294967295 inclusive");
  // string2ll: no '+', no leading zeros, no spaces, no fractions.
  for (const char* bad : {"+5", "010", "' 5'", "1.5", "5x", "\"\""}) {
    CAPTURE(bad);
    CHECK(LoadErr(std::string("timeout ") + bad).find("couldn't be parsed into an integer") !=
          std::string::npos);
  }
}

TEST_CASE("config: memory units as memtoull") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (Case k :
       {Case{"0", 0}, Case{"100", 100}, Case{"10b", 10}, Case{"1k", 1000}, Case{"1kb", 1024},
        Case{"2K", 2000}, Case{"2KB", 2048}, Case{"3m", 3000000}, Case{"3mb", 3u << 20},
        Case{"1g", 1000000000}, Case{"1GB", 1u << 30}, Case{"5Gb", 5ull << 30}, Case{"\"\"", 0},
        Case{"18446744073709551615", UINT64_MAX}}) {
    CAPTURE(k.text);
    Config c;
    CHECK(Load(std::string("maxmemory ") + k.text, &c) == "");
    CHECK(c.maxmemory == k.bytes);
    CHECK(Get(c, "maxmemory") == std::to_string(k.bytes));
  }
  for (const char* bad :
       {"1x", "-1", "1 kb", "1kbb", "k1", "18446744073709551616", "20000000000gb", "1.5mb"}) {
    CAPTURE(bad);
    CHECK(LoadErr(std::string("maxmemory '") + bad + "'") ==
          std::string("t.conf:1: 'maxmemory' '") + bad + "': argument must be a memory value");
  }
  CHECK(LoadErr("proto-max-bulk-len 100") ==
        "t.conf:1: 'proto-max-bulk-len' '100': argument must be between 1048576 and "
        "9223372036854775807 inclusive");
  Config c;
  CHECK(Load("proto-max-bulk-len 1mb\nclient-query-buffer-limit 2gb", &c) == "");
  CHECK(c.proto_max_bulk_len == 1u << 20);
  CHECK(c.client_query_buffer_limit == 2ull << 30);
}

TEST_CASE("config: booleans and enums") {
  Config c;
  CHECK(Load("sloppy-quorum no\nread-repair NO\nhinted-handoff No\nappendonly NO", &c) == "");
  CHECK_FALSE(c.sloppy_quorum);
  CHECK_FALSE(c.read_repair);
  CHECK_FALSE(c.hinted_handoff);
  CHECK_FALSE(c.appendonly);
  CHECK(Get(c, "appendonly") == "no");
  CHECK(Get(c, "read-repair") == "no");
  CHECK(LoadErr("read-repair maybe") ==
        "t.conf:1: 'read-repair' 'maybe': argument must be 'yes' or 'no'");
  CHECK(LoadErr("appendonly 1") == "t.conf:1: 'appendonly' '1': argument must be 'yes' or 'no'");

  CHECK(Load("appendfsync ALWAYS\nloglevel Warning\nconflict-resolution lww\n"
             "maxmemory-policy allkeys-LRU\naof-load-corrupt skip",
             &c) == "");
  CHECK(c.appendfsync == AppendFsync::kAlways);
  CHECK(c.loglevel == LogLevel::kWarning);
  CHECK(c.conflict_resolution == ConflictResolution::kLww);
  CHECK(c.maxmemory_policy == MaxmemoryPolicy::kAllkeysLru);
  CHECK(c.aof_load_corrupt == AofLoadCorrupt::kSkip);
  CHECK(Get(c, "appendfsync") == "always");
  CHECK(Get(c, "maxmemory-policy") == "allkeys-lru");
  CHECK(Get(c, "conflict-resolution") == "lww");
  // Redis lists the names in its table's order.
  CHECK(LoadErr("appendfsync sometimes") ==
        "t.conf:1: 'appendfsync' 'sometimes': argument(s) must be one of the following: "
        "everysec, always, no");
  CHECK(LoadErr("maxmemory-policy lru") ==
        "t.conf:1: 'maxmemory-policy' 'lru': argument(s) must be one of the following: "
        "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
        "allkeys-random, noeviction");
  CHECK(LoadErr("loglevel loud") ==
        "t.conf:1: 'loglevel' 'loud': argument(s) must be one of the following: debug, "
        "verbose, notice, warning");
  CHECK(LoadErr("conflict-resolution merge") ==
        "t.conf:1: 'conflict-resolution' 'merge': argument(s) must be one of the following: "
        "siblings, lww");
}

TEST_CASE("config: strings and quoting as sdssplitargs") {
  Config c;
  CHECK(Load("requirepass \"a b\\x41\\n\\t\\\"q\\\\\"", &c) == "");
  CHECK(c.requirepass == "a bA\n\t\"q\\");
  CHECK(Load("requirepass 'it\\'s \"x\" \\n'", &c) == "");
  CHECK(c.requirepass == "it's \"x\" \\n");
  CHECK(Load("requirepass \"\"", &c) == "");
  CHECK(c.requirepass.empty());
  CHECK(Load("node-name ab\"c d\"", &c) == "");  // a quote may open mid-word
  CHECK(c.node_name == "abc d");
  CHECK(Load("dir /var/lib/shoal", &c) == "");
  CHECK(c.dir == "/var/lib/shoal");
  CHECK(Get(c, "dir") == "/var/lib/shoal");
  CHECK(LoadErr("requirepass \"abc") == "t.conf:1: Unbalanced quotes in configuration line");
  CHECK(LoadErr("requirepass 'abc") == "t.conf:1: Unbalanced quotes in configuration line");
  // A closing quote must be followed by a blank.
  CHECK(LoadErr("requirepass \"abc\"d") == "t.conf:1: Unbalanced quotes in configuration line");
}

TEST_CASE("config: comments, blank lines, line numbers, arity") {
  Config c;
  CHECK(Load("# a comment\n\n   \t\n  port 7002  \r\n# port 1\n\tbind 10.0.0.1\r\n", &c) == "");
  CHECK(c.port == 7002);
  CHECK(c.bind == std::vector<std::string>{"10.0.0.1"});
  CHECK(LoadErr("port 1\n# x\n\nfoo bar\n") == "t.conf:4: unknown directive 'foo'");
  CHECK(LoadErr("\n\n\n\n\n\n\n\n\n\n\nPORT 1\nFrobnicate") ==
        "t.conf:13: unknown directive 'Frobnicate'");
  CHECK(LoadErr("port 1 2") == "t.conf:1: 'port' '1' '2': wrong number of arguments");
  CHECK(LoadErr("port") == "t.conf:1: 'port': wrong number of arguments");
  CHECK(LoadErr("daemonize yes") ==
        "t.conf:1: 'daemonize' 'yes': shoal does not daemonize; run it in the foreground under "
        "a supervisor");
  CHECK(LoadErr("daemonize no") == "");
  CHECK(LoadErr("save \"\"") == "");
  CHECK(LoadErr("save") == "");
  CHECK(LoadErr("save 900 1") == "");
  CHECK(LoadErr("save 900") == "t.conf:1: 'save' '900': Invalid save parameters");
  // The last occurrence wins, as in Redis.
  CHECK(Load("port 1\nport 2", &c) == "");
  CHECK(c.port == 2);
  // hz: anything 0..INT_MAX is accepted and clamped to 1..500, as Redis.
  CHECK(Load("hz 1000", &c) == "");
  CHECK(c.hz == 500);
  CHECK(Load("hz 0", &c) == "");
  CHECK(c.hz == 1);
}

TEST_CASE("config: cluster-seeds list") {
  Config c;
  CHECK(Load("cluster-seeds 127.0.0.1:7002 10.0.0.3:7003@17777,[::1]:7004", &c) == "");
  REQUIRE(c.cluster_seeds.size() == 3);
  CHECK(c.cluster_seeds[0] == SeedAddress{"127.0.0.1", 7002, 0});
  CHECK(c.cluster_seeds[0].bus_port() == 17002);
  CHECK(c.cluster_seeds[1] == SeedAddress{"10.0.0.3", 7003, 17777});
  CHECK(c.cluster_seeds[1].bus_port() == 17777);
  CHECK(c.cluster_seeds[2] == SeedAddress{"::1", 7004, 0});
  CHECK(Get(c, "cluster-seeds") == "127.0.0.1:7002 10.0.0.3:7003@17777 [::1]:7004");
  CHECK(Load("cluster-seeds \"a:1, b:2\"", &c) == "");  // a repeated directive replaces
  CHECK(Get(c, "cluster-seeds") == "a:1 b:2");
  CHECK(Load("cluster-seeds \"\"", &c) == "");
  CHECK(c.cluster_seeds.empty());
  CHECK(Load("cluster-seeds", &c) == "");
  CHECK(c.cluster_seeds.empty());
  for (const char* bad : {"host", "host:", ":7001", "host:0", "host:65536", "host:1@x", "::1:7001",
                          "[::1]7001", "host:+1"}) {
    CAPTURE(bad);
    std::string err = LoadErr(std::string("cluster-seeds a:1 ") + bad);
    CHECK(err.find(std::string("invalid seed '") + bad + "'") != std::string::npos);
    CHECK(err.find("t.conf:1: 'cluster-seeds' 'a:1' '") == 0);
  }
}

TEST_CASE("config: LoadFile") {
  fs::path dir = fs::temp_directory_path() / ("shoal-config-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "x.conf";
  std::ofstream(file) << "port 7100\n\nmaxmemory 1mb\nbogus 1\n";
  Config c;
  Status s = LoadFile(file.string(), &c);
  CHECK(s.message() == file.string() + ":4: unknown directive 'bogus'");
  CHECK(c.port == 7100);

  Status missing = LoadFile((dir / "nope.conf").string(), &c);
  CHECK_FALSE(missing.ok());
  CHECK(missing.message() ==
        "can't open config file '" + (dir / "nope.conf").string() + "': No such file or directory");
  fs::remove_all(dir);
}

TEST_CASE("config: command line after the file") {
  fs::path dir = fs::temp_directory_path() / ("shoal-config-args-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string file = (dir / "a.conf").string();
  std::ofstream(file) << "port 7100\nmaxmemory 1mb\nreplicas 5\n";

  Config c;
  Argv a({"shoal-server", file, "--port", "7200", "--cluster-seeds", "h:1", "h:2", "--requirepass",
          "--secret--", "--save", "--loglevel", "debug"});
  Status s = ApplyArgs(a.argc(), a.argv(), &c);
  CHECK(s.message() == "");
  CHECK(c.port == 7200);              // overridden
  CHECK(c.maxmemory == 1024 * 1024);  // from the file
  CHECK(c.replicas == 5);
  CHECK(Get(c, "cluster-seeds") == "h:1 h:2");
  CHECK(c.requirepass == "--secret--");  // the first value may start with "--"
  CHECK(c.loglevel == LogLevel::kDebug);

  Config d;
  Argv no_file({"shoal-server", "--port", "7300"});
  CHECK(ApplyArgs(no_file.argc(), no_file.argv(), &d).ok());
  CHECK(d.port == 7300);

  Argv none({"shoal-server"});
  CHECK(ApplyArgs(none.argc(), none.argv(), &d).ok());

  auto err = [](std::vector<std::string> args) {
    args.insert(args.begin(), "shoal-server");
    Argv v(std::move(args));
    Config cfg;
    Status st = ApplyArgs(v.argc(), v.argv(), &cfg);
    return st.ok() ? std::string() : st.message();
  };
  CHECK(err({"--port", "abc"}) ==
        "--port: 'port' 'abc': argument couldn't be parsed into an integer");
  CHECK(err({"--frob", "1"}) == "--frob: unknown directive 'frob'");
  CHECK(err({"--port"}) == "--port: 'port': wrong number of arguments");
  CHECK(err({"--port", "1", "2"}) == "--port: 'port' '1' '2': wrong number of arguments");
  CHECK(err({"--port", "1", "stray"}) == "--port: 'port' '1' 'stray': wrong number of arguments");
  CHECK(err({"--port", "1", "--timeout"}) == "--timeout: 'timeout': wrong number of arguments");
  CHECK(err({(dir / "missing.conf").string()}).find("can't open config file") == 0);
  CHECK(err({file, "--replicas", "1"}) == "");  // Validate is separate
  fs::remove_all(dir);
}

TEST_CASE("config: Validate cross-field rules") {
  auto check = [](std::string_view text) {
    Config c;
    REQUIRE(Load(text, &c) == "");
    Status s = Validate(c);
    return s.ok() ? std::string() : s.message();
  };
  CHECK(check("replicas 1\nread-quorum 1\nwrite-quorum 1") == "");
  CHECK(check("replicas 5\nread-quorum 5\nwrite-quorum 1") == "");
  CHECK(check("replicas 2\nread-quorum 3") == "read-quorum (3) must be between 1 and replicas (2)");
  CHECK(check("replicas 1") == "read-quorum (2) must be between 1 and replicas (1)");
  CHECK(check("replicas 2\nwrite-quorum 3") ==
        "write-quorum (3) must be between 1 and replicas (2)");
  CHECK(LoadErr("read-quorum 0") ==
        "t.conf:1: 'read-quorum' '0': argument must be between 1 and 255 inclusive");
  CHECK(LoadErr("replicas 0") ==
        "t.conf:1: 'replicas' '0': argument must be between 1 and 255 inclusive");
  CHECK(check("vnodes 2") == "vnodes (2) must be at least replicas (3)");
  CHECK(check("port 60000") ==
        "cluster-port defaults to port + 10000 = 70000, above 65535; set cluster-port");
  CHECK(check("port 60000\ncluster-port 60001") == "");
  CHECK(check("port 7000\ncluster-port 7000") == "cluster-port (7000) must differ from port");
  CHECK(check("gossip-interval-ms 5000") ==
        "node-timeout-ms (5000) must be greater than gossip-interval-ms (5000)");
  CHECK(check("bind \"\"") == "bind must name an address");
}

TEST_CASE("config: cluster-announce-ip, -port, -bus-port") {
  Config c;
  CHECK(c.cluster_announce_ip == "");
  CHECK(c.cluster_announce_port == 0);
  CHECK(c.cluster_announce_bus_port == 0);
  CHECK(Get(c, "cluster-announce-ip") == "");
  CHECK(Get(c, "cluster-announce-port") == "0");
  CHECK(Get(c, "cluster-announce-bus-port") == "0");

  REQUIRE(Load("cluster-announce-ip 203.0.113.7\ncluster-announce-port 30001\n"
               "cluster-announce-bus-port 40001",
               &c) == "");
  CHECK(c.cluster_announce_ip == "203.0.113.7");
  CHECK(c.cluster_announce_port == 30001);
  CHECK(c.cluster_announce_bus_port == 40001);
  CHECK(Get(c, "cluster-announce-ip") == "203.0.113.7");
  CHECK(Get(c, "cluster-announce-bus-port") == "40001");
  REQUIRE(Load("cluster-announce-ip 2001:db8::7", &c) == "");
  CHECK(c.cluster_announce_ip == "2001:db8::7");
  REQUIRE(Load("cluster-announce-ip \"\"", &c) == "");  // back to unset
  CHECK(c.cluster_announce_ip == "");

  const std::string not_ip = "argument must be an IPv4 or IPv6 address (not a wildcard), or \"\"";
  CHECK(LoadErr("cluster-announce-ip 0.0.0.0") ==
        "t.conf:1: 'cluster-announce-ip' '0.0.0.0': " + not_ip);
  CHECK(LoadErr("cluster-announce-ip ::") == "t.conf:1: 'cluster-announce-ip' '::': " + not_ip);
  CHECK(LoadErr("cluster-announce-ip node1.example") ==
        "t.conf:1: 'cluster-announce-ip' 'node1.example': " + not_ip);
  CHECK(LoadErr("cluster-announce-ip 10.0.0.1:7000") ==
        "t.conf:1: 'cluster-announce-ip' '10.0.0.1:7000': " + not_ip);
  CHECK(LoadErr("cluster-announce-ip [::1]") ==
        "t.conf:1: 'cluster-announce-ip' '[::1]': " + not_ip);
  CHECK(LoadErr("cluster-announce-ip 10.0.0.1 10.0.0.2") ==
        "t.conf:1: 'cluster-announce-ip' '10.0.0.1' '10.0.0.2': wrong number of arguments");
  CHECK(
      LoadErr("cluster-announce-port 65536") ==
      "t.conf:1: 'cluster-announce-port' '65536': argument must be between 0 and 65535 inclusive");
  CHECK(LoadErr("cluster-announce-bus-port -1") ==
        "t.conf:1: 'cluster-announce-bus-port' '-1': argument must be between 0 and 65535 "
        "inclusive");
  CHECK(LoadErr("cluster-announce-port x") ==
        "t.conf:1: 'cluster-announce-port' 'x': argument couldn't be parsed into an integer");

  // Fixed at start-up, as bind and port are.
  Config d;
  CHECK(Set(&d, "cluster-announce-ip", "10.0.0.1") ==
        "ERR CONFIG SET failed (possibly related to argument 'cluster-announce-ip') - can't set "
        "immutable config");

  // The command line takes them too.
  Config e;
  Argv a(
      {"shoal-server", "--cluster-announce-ip", "198.51.100.2", "--cluster-announce-port", "7100"});
  REQUIRE(ApplyArgs(a.argc(), a.argv(), &e).ok());
  CHECK(e.cluster_announce_ip == "198.51.100.2");
  CHECK(e.cluster_announce_port == 7100);
}

TEST_CASE("config: what a node advertises") {
  const std::vector<facade::InterfaceAddress> ifs = {{"127.0.0.1", true}, {"10.77.0.2", false}};
  auto load = [](std::string_view text) {
    Config c;
    REQUIRE(Load(text, &c) == "");
    REQUIRE(Validate(c).ok());
    return c;
  };
  // A specific bind: that address, fixed; ports as configured.
  Config c = load("bind 127.0.0.2\nport 7001");
  CHECK(AnnouncedHost(c, ifs) == "127.0.0.2");
  CHECK_FALSE(LearnsAnnouncedHost(c));
  CHECK(AnnouncedPort(c) == 7001);
  CHECK(AnnouncedBusPort(c) == 17001);
  CHECK(AnnouncedHost(load("bind localhost"), ifs) == "127.0.0.1");

  // A wildcard bind: a guess from the interfaces, then learnt from peers.
  c = load("bind 0.0.0.0\nport 7001\ncluster-port 7101");
  CHECK(AnnouncedHost(c, ifs) == "10.77.0.2");
  CHECK(LearnsAnnouncedHost(c));
  CHECK(AnnouncedBusPort(c) == 7101);
  CHECK(LearnsAnnouncedHost(load("bind ::")));
  CHECK(AnnouncedHost(load("bind ::"), {}) == "127.0.0.1");  // never a wildcard

  // cluster-announce-*: what peers are told, whatever bind says.
  c = load(
      "bind 0.0.0.0\nport 7001\ncluster-announce-ip 203.0.113.7\n"
      "cluster-announce-port 30001\ncluster-announce-bus-port 40001");
  CHECK(AnnouncedHost(c, ifs) == "203.0.113.7");
  CHECK_FALSE(LearnsAnnouncedHost(c));
  CHECK(AnnouncedPort(c) == 30001);
  CHECK(AnnouncedBusPort(c) == 40001);
  CHECK(ClusterPort(c) == 17001);  // still what the node listens on
  c = load("port 7001\ncluster-announce-port 30001");
  CHECK(AnnouncedPort(c) == 30001);
  CHECK(AnnouncedBusPort(c) == 17001);
}

TEST_CASE("config: Validate announced ports") {
  auto check = [](std::string_view text) {
    Config c;
    REQUIRE(Load(text, &c) == "");
    Status s = Validate(c);
    return s.ok() ? std::string() : s.message();
  };
  CHECK(check("cluster-announce-port 30001\ncluster-announce-bus-port 40001") == "");
  CHECK(check("cluster-announce-port 30001\ncluster-announce-bus-port 30001") ==
        "cluster-announce-bus-port (30001) must differ from the announced client port (30001)");
  CHECK(check("port 7000\ncluster-announce-bus-port 7000") ==
        "cluster-announce-bus-port (7000) must differ from the announced client port (7000)");
  CHECK(check("port 7000\ncluster-announce-port 17000") ==
        "cluster-announce-bus-port (17000) must differ from the announced client port (17000)");
  // A NAT may map the announced ports onto the ones the node listens on.
  CHECK(check("port 7000\ncluster-announce-port 17000\ncluster-announce-bus-port 7000") == "");
}

TEST_CASE("config: CONFIG GET") {
  Config c;
  std::set<std::string> names;
  for (const Directive& d : Directives()) names.emplace(d.name);
  CHECK(names.size() == Directives().size());  // no duplicates

  auto all = ConfigGet(c, "*");
  CHECK(all.size() == Directives().size());

  auto max = ConfigGet(c, "max*");
  std::vector<std::string> got;
  for (auto& [n, v] : max) got.push_back(n);
  CHECK(got == std::vector<std::string>{"maxclients", "max-siblings", "maxmemory",
                                        "maxmemory-policy", "maxmemory-samples"});

  CHECK(ConfigGet(c, "maxclients") ==
        std::vector<std::pair<std::string, std::string>>{{"maxclients", "10000"}});
  // An exact name is looked up case-insensitively and echoed as given.
  CHECK(ConfigGet(c, "MAXCLIENTS") ==
        std::vector<std::pair<std::string, std::string>>{{"MAXCLIENTS", "10000"}});
  // Globs are case-insensitive too and answer canonical names.
  CHECK(ConfigGet(c, "MAXCLIENT?") ==
        std::vector<std::pair<std::string, std::string>>{{"maxclients", "10000"}});
  CHECK(ConfigGet(c, "nosuch").empty());
  CHECK(ConfigGet(c, "nosuch*").empty());
  CHECK(ConfigGet(c, "[pb]*") == std::vector<std::pair<std::string, std::string>>{
                                     {"bind", "127.0.0.1"},
                                     {"protected-mode", "yes"},
                                     {"port", "6379"},
                                     {"proto-max-bulk-len", "536870912"},
                                     {"pidfile", ""},
                                     {"proc-title-template", "{title} {listen-addr} {server-mode}"},
                                     {"busy-reply-threshold", "5000"}});
  CHECK(ConfigGet(c, "*-quorum") ==
        std::vector<std::pair<std::string, std::string>>{
            {"read-quorum", "2"}, {"write-quorum", "2"}, {"sloppy-quorum", "yes"}});
  CHECK(Get(c, "client-query-buffer-limit") == "1073741824");
  CHECK(Get(c, "auto-aof-rewrite-min-size") == "67108864");
  CHECK(Get(c, "save") == "");

  // Several patterns: each directive once, in table order.
  std::vector<std::string_view> pats{"timeout", "port", "po*", "PORT"};
  CHECK(ConfigGet(c, pats) ==
        std::vector<std::pair<std::string, std::string>>{{"port", "6379"}, {"timeout", "0"}});
}

TEST_CASE("config: CONFIG SET") {
  Config c;
  CHECK(Set(&c, "maxclients", "5") == "OK");
  CHECK(c.maxclients == 5);
  CHECK(Set(&c, "MAXMEMORY", "1kb") == "OK");
  CHECK(Get(c, "maxmemory") == "1024");
  CHECK(Set(&c, "maxmemory-policy", "ALLKEYS-LFU") == "OK");
  CHECK(c.maxmemory_policy == MaxmemoryPolicy::kAllkeysLfu);
  CHECK(Set(&c, "requirepass", "s3cret pass") == "OK");
  CHECK(c.requirepass == "s3cret pass");
  CHECK(Set(&c, "read-repair", "no") == "OK");
  CHECK_FALSE(c.read_repair);
  CHECK(Set(&c, "hz", "1000") == "OK");
  CHECK(Get(c, "hz") == "500");
  CHECK(Set(&c, "save", "") == "OK");

  CHECK(Set(&c, "foo", "1") == "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
  CHECK(Set(&c, "port", "7000") ==
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
        "config");
  CHECK(Set(&c, "conflict-resolution", "lww") ==
        "ERR CONFIG SET failed (possibly related to argument 'conflict-resolution') - can't set "
        "immutable config");
  CHECK(Set(&c, "read-quorum", "1") ==
        "ERR CONFIG SET failed (possibly related to argument 'read-quorum') - can't set "
        "immutable config");
  CHECK(Set(&c, "maxclients", "abc") ==
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't "
        "be parsed into an integer");
  // A bad value names the directive itself, however it was spelt (Redis 7).
  CHECK(Set(&c, "MaxClients", "0") ==
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be "
        "between 1 and 4294967295 inclusive");
  CHECK(Set(&c, "maxmemory", "1x") ==
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a "
        "memory value");
  CHECK(Set(&c, "appendfsync", "bad") ==
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must "
        "be one of the following: everysec, always, no");
  CHECK(Set(&c, "read-repair", "maybe") ==
        "ERR CONFIG SET failed (possibly related to argument 'read-repair') - argument must be "
        "'yes' or 'no'");
  CHECK(Set(&c, "gossip-interval-ms", "10000") ==
        "ERR CONFIG SET failed (possibly related to argument 'gossip-interval-ms') - can't set "
        "immutable config");
  CHECK(c.maxclients == 5);  // failures change nothing
  CHECK(c.gossip_interval_ms == 200);

  // Every mutable directive can be set to its own current value.
  for (const Directive& d : Directives()) {
    CAPTURE(d.name);
    std::string want = d.is_mutable ? "OK"
                                    : "ERR CONFIG SET failed (possibly related to argument '" +
                                          std::string(d.name) + "') - can't set immutable config";
    CHECK(Set(&c, d.name, d.get(c)) == want);
  }
}

TEST_CASE("config: CONFIG SET several pairs is atomic") {
  Config c;
  using P = std::pair<std::string_view, std::string_view>;
  std::vector<P> ok{{"timeout", "10"}, {"maxclients", "7"}};
  CHECK(ConfigSetMany(&c, ok).ok());
  CHECK(c.timeout == 10);
  CHECK(c.maxclients == 7);

  std::vector<P> bad_value{{"timeout", "20"}, {"maxclients", "0"}};
  CHECK(ConfigSetMany(&c, bad_value).message() ==
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be "
        "between 1 and 4294967295 inclusive");
  CHECK(c.timeout == 10);  // nothing applied

  std::vector<P> dup{{"maxclients", "5"}, {"MAXCLIENTS", "6"}};
  CHECK(ConfigSetMany(&c, dup).message() ==
        "ERR CONFIG SET failed (possibly related to argument 'MAXCLIENTS') - duplicate "
        "parameter");
  // Names are checked before values; the first problem wins.
  std::vector<P> immutable_first{{"timeout", "x"}, {"port", "1"}, {"nosuch", "1"}};
  CHECK(ConfigSetMany(&c, immutable_first).message() ==
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
        "config");
  std::vector<P> unknown_first{{"nosuch", "1"}, {"port", "1"}};
  CHECK(ConfigSetMany(&c, unknown_first).message() ==
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
  CHECK(c.maxclients == 7);
}

TEST_CASE("config: CONFIG SET applies, and rolls back when an apply fails") {
  Config c;
  using P = std::pair<std::string_view, std::string_view>;
  std::vector<std::string> log;  // "name=value" of every apply call
  bool fail_bind = false;
  ConfigApplier apply = [&](std::string_view name, const Config& cfg) -> std::string {
    log.push_back(std::string(name) + "=" + Get(cfg, name));
    if (name == "bind" && fail_bind && cfg.bind.size() > 1) {
      return "Failed to bind to specified addresses.";
    }
    return {};
  };
  // Applied once per changed directive, in argument order; unchanged ones not at all.
  std::vector<P> pairs{{"timeout", "5"}, {"bind", "127.0.0.1 -::1"}, {"maxclients", "10000"}};
  REQUIRE(ConfigSetMany(&c, pairs, apply).ok());
  CHECK(log == std::vector<std::string>{"timeout=5", "bind=127.0.0.1 -::1"});
  CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "-::1"});

  // A failing apply: the error names it, every value is restored and the
  // directives applied before it (and it) are applied again with the old values.
  log.clear();
  fail_bind = true;
  std::vector<P> failing{{"timeout", "9"}, {"bind", "127.0.0.1 192.0.2.1"}, {"maxclients", "3"}};
  Status st = ConfigSetMany(&c, failing, apply);
  CHECK(st.message() ==
        "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to "
        "specified addresses.");
  CHECK(log == std::vector<std::string>{"timeout=9", "bind=127.0.0.1 192.0.2.1", "timeout=5",
                                        "bind=127.0.0.1 -::1"});
  CHECK(c.timeout == 5);
  CHECK(c.maxclients == 10000);
  CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "-::1"});
}

TEST_CASE("config: bind lists") {
  Config c;
  CHECK(Load("bind 127.0.0.1 ::1", &c) == "");
  CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK(Load("bind * -::*", &c) == "");
  CHECK(BindAddresses(c) == std::vector<BindAddress>{{"0.0.0.0", false}, {"::", true}});
  CHECK(ListenAddress(c) == "0.0.0.0");
  CHECK(SourceAddress(c).empty());
  CHECK(Load("bind -::1 localhost", &c) == "");
  CHECK(BindAddresses(c) == std::vector<BindAddress>{{"::1", true}, {"127.0.0.1", false}});
  // The cluster port: the first address that must exist...
  CHECK(ListenAddress(c) == "127.0.0.1");
  // ... or cluster-announce-ip when it is one of them.
  CHECK(Load("bind 127.0.0.2 127.0.0.3\ncluster-announce-ip 127.0.0.3", &c) == "");
  CHECK(ListenAddress(c) == "127.0.0.3");
  CHECK(SourceAddress(c) == "127.0.0.3");
  // The command line: one quoted argument or several.
  Config d;
  Argv a({"shoal-server", "--bind", "127.0.0.1 ::1", "--port", "7001"});
  REQUIRE(ApplyArgs(a.argc(), a.argv(), &d).ok());
  CHECK(d.bind == std::vector<std::string>{"127.0.0.1", "::1"});
  Argv b({"shoal-server", "--bind", "127.0.0.1", "-::1"});
  REQUIRE(ApplyArgs(b.argc(), b.argv(), &d).ok());
  CHECK(d.bind == std::vector<std::string>{"127.0.0.1", "-::1"});
  CHECK(LoadErr("bind 127.0.0.1 example.com") ==
        "t.conf:1: 'bind' '127.0.0.1' 'example.com': invalid bind address 'example.com': an "
        "IPv4 or IPv6 address, *, ::* or localhost, with - for an optional one");
  CHECK(LoadErr("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17")
            .find("Too many bind addresses specified.") != std::string::npos);
  // CONFIG SET takes the list space separated, and prints it as written.
  CHECK(Set(&c, "bind", "127.0.0.1 -::1") == "OK");
  CHECK(Get(c, "bind") == "127.0.0.1 -::1");
}

TEST_CASE("config: Redis directives shoal accepts and ignores") {
  Config c;
  // What users pass to redis-server.
  Argv a({"shoal-server", "--protected-mode", "no", "--databases", "16", "--save", "",
          "--daemonize", "no", "--supervised", "systemd", "--dbfilename", "x.rdb",
          "--stop-writes-on-bgsave-error", "NO", "--always-show-logo", "yes"});
  Status st = ApplyArgs(a.argc(), a.argv(), &c);
  REQUIRE_MESSAGE(st.ok(), st.message());
  CHECK_FALSE(c.protected_mode);
  CHECK(c.databases == 16);
  CHECK(Get(c, "save") == "");
  CHECK(Get(c, "supervised") == "systemd");
  CHECK(Get(c, "stop-writes-on-bgsave-error") == "no");
  CHECK(Get(c, "rdbcompression") == "yes");  // the default when not given
  CHECK(Load("save 3600 1 300 100", &c) == "");
  CHECK(Get(c, "save") == "3600 1 300 100");
  CHECK(LoadErr("supervised maybe") ==
        "t.conf:1: 'supervised' 'maybe': argument(s) must be one of the following: upstart, "
        "systemd, auto, no");
  CHECK(LoadErr("rdbcompression 1") ==
        "t.conf:1: 'rdbcompression' '1': argument must be 'yes' "
        "or 'no'");
  CHECK(LoadErr("databases 0") ==
        "t.conf:1: 'databases' '0': argument must be between 1 and 2147483647 inclusive");

  // A warning for each directive that would act in Redis and does not here.
  std::vector<std::string> w = StartupWarnings(c);
  REQUIRE(w.size() == 6);
  CHECK(w[0] == "databases 16: shoal has one database (db 0); SELECT of any other is refused");
  CHECK(w[1] ==
        "always-show-logo 'yes' is accepted for compatibility with Redis and ignored: shoal has "
        "no logo");
  CHECK(w[2].rfind("dbfilename 'x.rdb' is accepted", 0) == 0);
  CHECK(w[3].rfind("save '3600 1 300 100' is accepted", 0) == 0);
  CHECK(w[4].rfind("stop-writes-on-bgsave-error 'no'", 0) == 0);
  CHECK(w[5].rfind("supervised 'systemd' is accepted", 0) == 0);
  CHECK(StartupWarnings(Config{}).empty());
  Config quiet;
  CHECK(Load("save \"\"\nprotected-mode no\ndatabases 1\ndaemonize no", &quiet) == "");
  CHECK(StartupWarnings(quiet).empty());

  // CONFIG SET: Redis's mutable ones are mutable here too.
  CHECK(Set(&c, "save", "") == "OK");
  CHECK(Set(&c, "save", "900") ==
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters");
  CHECK(Set(&c, "databases", "16") ==
        "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable "
        "config");
  CHECK(Set(&c, "protected-mode", "yes") == "OK");
}

TEST_CASE("config: slowlog and latency directives") {
  Config c;
  CHECK(c.slowlog_log_slower_than == 10000);
  CHECK(c.slowlog_max_len == 128);
  CHECK(c.latency_monitor_threshold == 0);
  CHECK(Set(&c, "slowlog-log-slower-than", "-1") == "OK");
  CHECK(Set(&c, "slowlog-max-len", "0") == "OK");
  CHECK(Set(&c, "latency-monitor-threshold", "100") == "OK");
  CHECK(c.latency_monitor_threshold == 100);
}

// The shipped conf files load; shoal.conf names every directive, each set to
// its default, so the documentation cannot drift from the table.
TEST_CASE("config: conf/shoal.conf documents every directive with its default") {
  std::string path = (kConfDir / "shoal.conf").string();
  Config loaded;
  Status s = LoadFile(path, &loaded);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(ConfigGet(loaded, "*") == ConfigGet(Config{}, "*"));

  std::ifstream in(path);
  std::set<std::string> present;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string first;
    if (words >> first && first[0] != '#') present.insert(first);
  }
  for (const Directive& d : Directives()) {
    CAPTURE(d.name);
    CHECK(present.count(std::string(d.name)) == 1);
  }
}

TEST_CASE("config: conf/node1..3.conf form a local 3-node cluster") {
  for (int i = 1; i <= 3; ++i) {
    CAPTURE(i);
    std::string path = (kConfDir / ("node" + std::to_string(i) + ".conf")).string();
    Config c;
    Status s = LoadFile(path, &c);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(Validate(c).ok());
    CHECK(c.bind == std::vector<std::string>{"127.0.0.1"});
    CHECK(c.port == 7000 + i);
    CHECK(ClusterPort(c) == 17000 + i);
    CHECK(c.dir == "./data/node" + std::to_string(i));
    CHECK(c.replicas == 3);
    CHECK(c.read_quorum == 2);
    CHECK(c.write_quorum == 2);
    std::vector<SeedAddress> others;
    for (int j = 1; j <= 3; ++j) {
      if (j != i) others.push_back({"127.0.0.1", 7000 + j, 0});
    }
    CHECK(c.cluster_seeds == others);
  }
}

}  // namespace
}  // namespace shoal::server
