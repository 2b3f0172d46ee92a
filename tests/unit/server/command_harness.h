#pragma once
// CommandHarness: runs commands of the string and key families against a
// private Store, the way the dispatcher would (case-insensitive lookup, the
// arity check, the handler), and returns the raw RESP bytes of the reply.
// Time is a plain value the test advances; nothing here reads a clock.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "facade/errors.h"
#include "facade/reply_builder.h"
#include "server/commands/command.h"
#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::server::testing {

class CommandHarness {
 public:
  CommandHarness() {
    RegisterStringCommands(table_);
    RegisterKeyCommands(table_);
    RegisterVersionedCommands(table_);
    RegisterBitCommands(table_);
    RegisterHashCommands(table_);
    RegisterSetCommands(table_);
    RegisterLcsCommand(table_);
    RegisterZsetCommands(table_);
    RegisterObjectCommands(table_);
  }

  // Runs one command; args[0] is the command name in any case.
  std::string Run(std::vector<std::string> args) {
    std::string out;
    ReplyBuilder reply(&out, resp);
    const CommandSpec* spec = args.empty() ? nullptr : table_.Find(args[0]);
    if (spec == nullptr) {
      reply.Error(errors::UnknownCommand(args.empty() ? "" : args[0],
                                         args.empty() ? nullptr : args.data() + 1,
                                         args.empty() ? 0 : args.size() - 1));
      return out;
    }
    // A container (OBJECT, MEMORY) runs its subcommand, as the dispatcher does.
    if (!spec->subcommands.empty() && args.size() >= 2) {
      if (const CommandSpec* sub = CommandTable::FindSub(*spec, args[1])) spec = sub;
    }
    if (!ArityOk(spec->arity, args.size())) {
      reply.Error(errors::WrongArity(spec->name));
      return out;
    }
    CommandContext ctx{args,    reply,   store_, keyspace_,         now_ms,
                       client_, nullptr, random, proto_max_bulk_len};
    spec->handler(ctx);
    return out;
  }
  std::string Run(std::initializer_list<std::string_view> args) {
    return Run(std::vector<std::string>(args.begin(), args.end()));
  }

  void AdvanceMs(int64_t ms) { now_ms += ms; }

  // Makes the keyspace a replica's (a cluster member's: keep_tombstones),
  // where writes elsewhere may be concurrent with this node's.
  void BecomeReplica() {
    storage::KeyspaceOptions o = keyspace_.options();
    o.keep_tombstones = true;
    keyspace_.set_options(o);
  }
  // Changes the keyspace published (each write a command stored).
  uint64_t changes() { return keyspace_.changes().stats().changes; }

  storage::Store& store() { return store_; }
  storage::Keyspace& keyspace() { return keyspace_; }
  const CommandTable& table() const { return table_; }

  // Inputs of the next command; tests set them directly.
  int64_t now_ms = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  uint64_t random = 12345;
  int64_t proto_max_bulk_len = 512ll * 1024 * 1024;
  int resp = facade::kResp2;  // the protocol of the replies

 private:
  CommandTable table_;
  storage::Store store_;
  storage::ActorTable actors_;
  storage::DotCounter dots_;
  // This node's actor: a fixed test node id.
  storage::ActorId self_ = actors_.Intern(std::string(40, 'a')).value();
  storage::Keyspace keyspace_{store_, actors_, self_, dots_};
  ClientState client_;
};

// What COMMAND INFO / DOCS report for one command, as redis-server 7.0.15
// does; CheckRows compares a table of them with the harness's command table.
struct SpecRow {
  const char* name;
  int arity;
  uint32_t flags;
  int first, last, step;
  const char* group;
};

inline void CheckRows(const CommandHarness& h, std::initializer_list<SpecRow> rows) {
  for (const SpecRow& r : rows) {
    CAPTURE(r.name);
    const CommandSpec* spec = h.table().Find(r.name);
    REQUIRE(spec != nullptr);
    CHECK(spec->arity == r.arity);
    CHECK(spec->flags == r.flags);
    CHECK(spec->first_key == r.first);
    CHECK(spec->last_key == r.last);
    CHECK(spec->key_step == r.step);
    CHECK(spec->group == r.group);
  }
}

// The harness's start time (ms), for tests that compute expiry times.
inline constexpr int64_t kNow = 1'700'000'000'000;

inline std::string Num(int64_t v) {
  return std::to_string(v);
}

// Expected replies, spelled as RESP bytes.
inline std::string Ok() {
  return "+OK\r\n";
}
inline std::string Nil() {
  return "$-1\r\n";
}
inline std::string Simple(std::string_view s) {
  return "+" + std::string(s) + "\r\n";
}
inline std::string Int(int64_t v) {
  return ":" + std::to_string(v) + "\r\n";
}
inline std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
inline std::string Err(std::string_view msg) {
  return "-" + std::string(msg) + "\r\n";
}
inline std::string Arr(std::initializer_list<std::string> items) {
  std::string s = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& i : items) s += i;
  return s;
}

// One command and the exact reply it must produce.
struct Step {
  std::vector<std::string> command;
  std::string want;
};

// Runs the steps in order on `h`, checking each reply; a failure names the
// command.
inline void ExpectSteps(CommandHarness& h, std::initializer_list<Step> steps) {
  for (const Step& s : steps) {
    std::string shown;
    for (const std::string& a : s.command) shown += (shown.empty() ? "" : " ") + a;
    CAPTURE(shown);
    CHECK(h.Run(s.command) == s.want);
  }
}

// Parses a RESP array of bulk strings (a KEYS reply) into its elements.
// Returns false on any other shape.
inline bool ParseBulkArray(std::string_view resp, std::vector<std::string>* out,
                           size_t* consumed = nullptr) {
  auto line = [&](size_t& pos, int64_t* n) {
    size_t end = resp.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) return false;
    *n = std::stoll(std::string(resp.substr(pos + 1, end - pos - 1)));
    pos = end + 2;
    return true;
  };
  size_t pos = 0;
  int64_t n;
  if (resp.empty() || resp[0] != '*' || !line(pos, &n) || n < 0) return false;
  out->clear();
  for (int64_t i = 0; i < n; ++i) {
    int64_t len;
    if (pos >= resp.size() || resp[pos] != '$' || !line(pos, &len) || len < 0) return false;
    if (pos + static_cast<size_t>(len) + 2 > resp.size()) return false;
    out->emplace_back(resp.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  if (consumed != nullptr) *consumed = pos;
  return true;
}

// Parses a SCAN reply ([cursor, [keys...]]) into the next cursor and keys.
inline bool ParseScanReply(std::string_view resp, uint64_t* cursor,
                           std::vector<std::string>* keys) {
  if (resp.substr(0, 4) != "*2\r\n") return false;
  resp.remove_prefix(4);
  size_t end = resp.find("\r\n");
  if (resp.empty() || resp[0] != '$' || end == std::string_view::npos) return false;
  size_t len = std::stoul(std::string(resp.substr(1, end - 1)));
  *cursor = std::stoull(std::string(resp.substr(end + 2, len)));
  resp.remove_prefix(end + 2 + len + 2);
  size_t consumed = 0;
  return ParseBulkArray(resp, keys, &consumed) && consumed == resp.size();
}

// The keys of a KEYS reply, sorted (KEYS's order is unspecified).
inline std::vector<std::string> SortedKeys(std::string_view resp) {
  std::vector<std::string> keys;
  CHECK(ParseBulkArray(resp, &keys));
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace shoal::server::testing
