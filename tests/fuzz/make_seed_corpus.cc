// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/)
// from the real encoders, plus the conf parser's dictionary:
//   build-fuzz/tests/fuzz/make_seed_corpus tests/fuzz/corpus
// Each seed starts with the mode byte its target reads (see the target's
// header comment). Re-run it when a format changes and commit the result.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/membership.h"
#include "cluster/swim_message.h"
#include "server/config_table.h"
#include "storage/container_codec.h"
#include "storage/context_token.h"
#include "storage/log_format.h"
#include "storage/object.h"
#include "storage/varint.h"

namespace {

using namespace shoal;
namespace fs = std::filesystem;

const char* kId1 = "1111111111111111111111111111111111111111";
const char* kId2 = "2222222222222222222222222222222222222222";
const char* kId3 = "abcdef0123456789abcdef0123456789abcdef01";

fs::path root;

void Put(const std::string& target, const std::string& name, std::string_view bytes) {
  fs::create_directories(root / target);
  std::ofstream out(root / target / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Mode(uint8_t mode, std::string_view rest) {
  return std::string(1, static_cast<char>(mode)) + std::string(rest);
}

std::string Unbase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

void RequestParser() {
  const std::vector<std::pair<std::string, std::string>> streams = {
      {"multibulk", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"},
      {"pipeline", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*0\r\n*-1\r\n"},
      {"inline", "PING\r\nSET k \"a\\x41\\n\" 'it\\'s'\r\n\r\nGET k\n"},
      {"auth", "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n"},
      {"preauth_big", "*11\r\n$1\r\na\r\n"},
      {"bad_dollar", "*1\r\n:4\r\n"},
      {"empty_bulk", "*2\r\n$0\r\n\r\n$0\r\n\r\n"},
  };
  for (const auto& [name, s] : streams) {
    Put("fuzz_request_parser", name + "_auth", std::string("\x0f\x07", 2) + s);
    Put("fuzz_request_parser", name + "_noauth", std::string("\x0a\x33", 2) + s);
  }
}

void PeerReply() {
  const std::vector<std::pair<std::string, std::string>> replies = {
      {"ok", "+OK\r\n"},
      {"error", "-ERR unknown command\r\n"},
      {"integer", ":-42\r\n"},
      {"bulk", "$5\r\nhello\r\n"},
      {"nil", "$-1\r\n"},
      {"nil_array", "*-1\r\n"},
      {"hello",
       "*3\r\n$40\r\n1111111111111111111111111111111111111111\r\n$32\r\n"
       "0123456789abcdef0123456789abcdef\r\n$64\r\n"
       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"},
      {"nested", "*2\r\n*2\r\n:1\r\n$1\r\na\r\n*1\r\n*1\r\n+x\r\n"},
      {"two", "+OK\r\n:1\r\n"},
  };
  for (const auto& [name, s] : replies) Put("fuzz_peer_reply", name, Mode(0x11, s));
}

cluster::MemberInfo Member(const char* id, int port, uint64_t incarnation) {
  cluster::MemberInfo m;
  m.id = id;
  m.host = "127.0.0.1";
  m.port = port;
  m.cport = port + 10000;
  m.incarnation = incarnation;
  return m;
}

// The membership state in the older wire versions Decode still reads (see
// Membership::Encode): 1 has no flags, removed ids or ready rows; 2 has rows
// without releasing bits. Written here from the format description, since
// the encoder writes only the current version.
std::string EncodeOldMembership(const cluster::Membership& m, uint8_t version) {
  std::string out(1, static_cast<char>(version));
  storage::PutVarint64(&out, m.epoch());
  storage::PutVarint64(&out, m.members().size());
  std::map<std::string, uint64_t> index;
  for (const auto& [id, info] : m.members()) {
    index.emplace(id, index.size());
    out += id;
    storage::PutVarint64(&out, info.host.size());
    out += info.host;
    storage::PutVarint64(&out, static_cast<uint64_t>(info.port));
    storage::PutVarint64(&out, static_cast<uint64_t>(info.cport));
    storage::PutVarint64(&out, info.incarnation);
    if (version >= 2) storage::PutVarint64(&out, info.leaving ? 1 : 0);
  }
  if (version >= 2) {
    storage::PutVarint64(&out, m.removed().size());
    for (const std::string& id : m.removed()) out += id;
  }
  storage::PutVarint64(&out, m.ring().partition_count());
  for (uint32_t p = 0; p < m.ring().partition_count(); ++p) {
    storage::PutVarint64(&out, index.at(m.ring().Owner(p)));
  }
  if (version >= 2) {
    storage::PutVarint64(&out, m.ready().size());
    for (const auto& [id, row] : m.ready()) {
      storage::PutVarint64(&out, index.at(id));
      storage::PutVarint64(&out, row.version);
      out += row.bits;
    }
  }
  return out;  // without the checksum (the target's mode bit 0 adds it)
}

void Membership() {
  cluster::Membership solo = cluster::Membership::Solo(Member(kId1, 7001, 1), 16);
  cluster::Membership three = solo;
  three.AddMember(Member(kId2, 7002, 5));
  three.AddMember(Member(kId3, 7003, 9));
  three.SetReady(kId1, std::string(2, '\xff'));
  three.SetReady(kId2, std::string("\x0f\x00", 2), std::string("\x01\x00", 2));
  cluster::Membership leaving = three;
  cluster::MemberInfo l = Member(kId3, 7003, 10);
  l.leaving = true;
  leaving.UpdateSelf(l);  // not self: ignored; use a merge instead
  cluster::Membership other = cluster::Membership::Solo(l, 16);
  leaving.Merge(other);
  cluster::Membership removed = three;
  removed.Remove(kId2);

  const std::vector<std::pair<std::string, cluster::Membership>> states = {
      {"solo", solo}, {"three", three}, {"leaving", leaving}, {"removed", removed}};
  for (const auto& [name, m] : states) {
    const std::string bytes = m.Encode();
    Put("fuzz_membership", name, Mode(0, bytes));
    Put("fuzz_membership", name + "_body", Mode(1, bytes.substr(0, bytes.size() - 8)));
  }
  for (uint8_t v : {1, 2}) {
    const std::string name = "three_v" + std::to_string(v);
    Put("fuzz_membership", name + "_body", Mode(1, EncodeOldMembership(three, v)));
    Put("fuzz_membership", "removed_v" + std::to_string(v) + "_body",
        Mode(1, EncodeOldMembership(removed, v)));
  }
  // Pairs for the merge checks (mode 3: first state's body length, then both bodies).
  auto pair = [](const cluster::Membership& a, const cluster::Membership& b) {
    std::string ea = a.Encode(), eb = b.Encode();
    ea.resize(ea.size() - 8);
    eb.resize(eb.size() - 8);
    return Mode(3, std::string(1, static_cast<char>(ea.size())) + ea + eb);
  };
  Put("fuzz_membership", "pair_solo_three", pair(solo, three));
  Put("fuzz_membership", "pair_three_removed", pair(three, removed));
  Put("fuzz_membership", "pair_leaving_solo", pair(leaving, solo));
}

void Swim() {
  cluster::SwimMessage ping;
  ping.type = cluster::SwimType::kPing;
  ping.seq = 7;
  ping.sender_incarnation = 3;
  ping.target = kId2;
  ping.updates.push_back({kId1, 3, cluster::MemberState::kAlive, ""});
  ping.updates.push_back({kId3, 9, cluster::MemberState::kSuspect, kId1});
  ping.updates.push_back({kId2, 1, cluster::MemberState::kDead, ""});
  cluster::SwimMessage ack;
  ack.type = cluster::SwimType::kAck;
  ack.seq = 300;
  ack.sender_incarnation = 1;
  cluster::SwimMessage req = ping;
  req.type = cluster::SwimType::kPingReq;
  req.updates.clear();
  cluster::SwimMessage nack = ack;
  nack.type = cluster::SwimType::kNack;
  cluster::SwimMessage gossip = ack;
  gossip.type = cluster::SwimType::kGossip;
  gossip.updates = ping.updates;
  Put("fuzz_swim_message", "ping", cluster::EncodeSwimMessage(ping));
  Put("fuzz_swim_message", "ack", cluster::EncodeSwimMessage(ack));
  Put("fuzz_swim_message", "ping_req", cluster::EncodeSwimMessage(req));
  Put("fuzz_swim_message", "nack", cluster::EncodeSwimMessage(nack));
  Put("fuzz_swim_message", "gossip", cluster::EncodeSwimMessage(gossip));
}

void ContextToken() {
  storage::ActorTable actors(16);
  const storage::ActorId a = actors.Intern(kId1).value();
  const storage::ActorId b = actors.Intern(kId2).value();
  const storage::ActorId c = actors.Intern(kId3).value();
  auto token = [&](std::vector<storage::VersionVector::Entry> e) {
    return storage::EncodeContextToken(storage::VersionVector::FromEntries(std::move(e)).value(),
                                       actors);
  };
  const std::vector<std::pair<std::string, std::string>> tokens = {
      {"empty", std::string(storage::kEmptyContextToken)},
      {"one", token({{a, 1}})},
      {"three", token({{a, 5}, {b, 300}, {c, 1}})},
      {"big_counter", token({{b, storage::kMaxCounter}})},
  };
  for (const auto& [name, t] : tokens) {
    Put("fuzz_context_token", name, Mode(0, t));
    const std::string bin = Unbase64(t);
    Put("fuzz_context_token", name + "_body", Mode(1, bin.substr(0, bin.size() - 4)));
  }
}

// Container objects: two concurrent versions each (so that the node-id
// form sorts atoms of several actors), every atom kind.
storage::Object Sets(storage::ActorId a, storage::ActorId b) {
  using namespace storage;
  Object o;
  OrSet s;
  s.Add("alpha", o.NextPutDot(a));
  s.Add("beta", o.NextPutDot(a));
  o.Put(Version::OfSet(s, 1700000000000), a);
  OrSet t = s;
  t.Remove("alpha");
  t.Add("gamma", o.NextPutDot(b));
  o.Update({}, Version::OfSet(t, 1700000000001, 1700000005000), b);
  return o;
}

storage::Object Hashes(const storage::ActorTable& actors, storage::ActorId a, storage::ActorId b) {
  using namespace storage;
  Object o;
  OrHash h;
  const Dot d = o.NextPutDot(a);
  h.Set("name", "ann", d, 1700000000000);
  h.Set("n", "5", d, 1700000000000);
  (void)h.IncrBy("n", 2, d, actors);
  (void)h.IncrByFloat("f", 1.5L, d, actors);
  o.Put(Version::OfHash(h, 1700000000000), a);
  OrHash g = h;
  (void)g.IncrBy("n", -3, o.NextPutDot(b), actors);
  o.Update({}, Version::OfHash(g, 1700000000001), b);
  return o;
}

storage::Object Zsets(const storage::ActorTable& actors, storage::ActorId a, storage::ActorId b) {
  using namespace storage;
  Object o;
  OrZset z;
  const Dot d = o.NextPutDot(a);
  z.Add("m", 1.5, d, 1700000000000);
  z.Add("n", -2, d, 1700000000000);
  (void)z.IncrBy("m", 0.25, d, actors);
  o.Put(Version::OfZset(z, 1700000000000), a);
  OrZset y = z;
  (void)y.IncrBy("n", 1, o.NextPutDot(b), actors);
  o.Update({}, Version::OfZset(y, 1700000000001), b);
  return o;
}

// fuzz_container's seeds: each container version's payload, both forms.
void ContainerSeeds(const std::vector<std::pair<std::string, storage::Object>>& objects,
                    const storage::ActorTable& actors) {
  for (const auto& [name, o] : objects) {
    int i = 0;
    for (const auto& sibling : o.siblings()) {
      if (!sibling.value.IsContainer()) continue;
      std::string local, wire;
      storage::EncodeContainer(sibling.value, nullptr, &local);
      storage::EncodeContainer(sibling.value, &actors, &wire);
      Put("fuzz_container", name + "_" + std::to_string(i) + "_local", Mode(0, local));
      Put("fuzz_container", name + "_" + std::to_string(i) + "_ids", Mode(1, wire));
      ++i;
    }
  }
}

std::vector<std::pair<std::string, storage::Object>> Objects(storage::ActorTable& actors) {
  const storage::ActorId a = actors.Intern(kId1).value();
  const storage::ActorId b = actors.Intern(kId2).value();
  using storage::Object;
  using storage::Version;
  Object bytes;
  bytes.Put(Version::Bytes("value", 1700000000000), a);
  Object ttl;
  ttl.Put(Version::Bytes("expiring", 1700000000000, 1700000005000), a);
  Object siblings;
  siblings.Update({}, Version::Bytes("left", 1700000000000), a);
  siblings.Update({}, Version::Bytes("right", 1700000000001), b);
  Object tomb = bytes;
  tomb.Put(Version::Tombstone(1700000000002), b);
  storage::PnCounter pn;
  (void)pn.Add(a, 5);
  (void)pn.Add(b, -2);
  Object counter;
  counter.Put(Version::Counter(pn, 1700000000000), a);
  Object mixed = siblings;
  mixed.Update({}, Version::Counter(pn, 1700000000003), a);
  return {{"bytes", bytes},
          {"ttl", ttl},
          {"siblings", siblings},
          {"tombstone", tomb},
          {"counter", counter},
          {"mixed", mixed},
          {"set", Sets(a, b)},
          {"hash", Hashes(actors, a, b)},
          {"zset", Zsets(actors, a, b)}};
}

void ObjectAndLog() {
  // fuzz_object's local form knows ids 1, 2, 3 (abcdef...) and ffff... as
  // ActorIds 1..4, in that order: intern them the same way here.
  storage::ActorTable actors(8);
  std::string log;
  storage::AppendLogHeader(&log);
  for (const auto& [name, o] : Objects(actors)) {
    for (uint8_t now : {0, 4}) {
      Put("fuzz_object", name + "_local_" + std::to_string(now), Mode(now, o.Encode()));
      std::string wire;
      o.EncodeWithNodeIds(actors, &wire);
      Put("fuzz_object", name + "_ids_" + std::to_string(now), Mode(now | 1, wire));
    }
    std::string wire;
    o.EncodeWithNodeIds(actors, &wire);
    storage::AppendPutRecord(&log, "key:" + name, wire);
  }
  ContainerSeeds(Objects(actors), actors);
  storage::AppendDropRecord(&log, "key:bytes");
  storage::AppendFlushAllRecord(&log);
  storage::AppendPutRecord(&log, "", "");
  // Mode 0: the file as is; 4: skip damage. Without the header (mode 2/6
  // puts one in front).
  Put("fuzz_log_record", "log", Mode(0, log));
  Put("fuzz_log_record", "log_skip", Mode(4, log));
  Put("fuzz_log_record", "frames_fixed", Mode(3, log.substr(storage::kLogHeaderSize)));
  Put("fuzz_log_record", "torn", Mode(0, log.substr(0, log.size() - 3)));
  std::string zeros = log + std::string(64, '\0');
  Put("fuzz_log_record", "zero_tail", Mode(0, zeros));
  std::string flipped = log;
  flipped[storage::kLogHeaderSize + 20] ^= 1;
  Put("fuzz_log_record", "damaged_skip", Mode(4, flipped));
}

void Config(const fs::path& conf_file) {
  std::ifstream in(conf_file, std::ios::binary);
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Put("fuzz_config", "shoal_conf", Mode(0, conf));
  Put("fuzz_config", "small_conf",
      Mode(0,
           "port 7001\nbind 0.0.0.0\ncluster-seeds 127.0.0.1:7002 [::1]:7003@17003\n"
           "maxmemory 1gb\nmaxmemory-policy allkeys-lru\nrequirepass \"p a\\x00ss\"\n"
           "appendonly no\nnode-name 'node one'\n"));
  std::string argv;
  for (const char* w : {"--port", "7002", "--cluster-seeds", "a:1", "b:2@3", "--requirepass", "--x",
                        "--maxmemory", "100mb"}) {
    if (!argv.empty()) argv.push_back('\0');
    argv += w;
  }
  Put("fuzz_config", "argv", Mode(1, argv));
  // The dictionary: every directive name, and the words values use.
  std::string dict;
  for (const server::Directive& d : server::Directives()) {
    dict += "\"" + std::string(d.name) + "\"\n\"--" + std::string(d.name) + "\"\n";
  }
  for (const char* w : {"yes", "no", "1gb", "100mb", "1k", "-1", "\\x00", "\\\"", "#", "'"}) {
    std::string esc;
    for (const char* p = w; *p; ++p) {
      if (*p == '\\' || *p == '"') esc += '\\';
      esc += *p;
    }
    dict += "\"" + esc + "\"\n";
  }
  std::ofstream(root / "fuzz_config.dict", std::ios::trunc) << dict;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <corpus dir> <conf/shoal.conf>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  RequestParser();
  PeerReply();
  Membership();
  Swim();
  ContextToken();
  ObjectAndLog();
  Config(argv[2]);
  return 0;
}
