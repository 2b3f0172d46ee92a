#pragma once
// What the cluster needs to know about a command to run it across nodes.
// Each row of the server's command table carries a Routing (server/commands/
// command.h); the cluster layer reads it instead of checking command names.
//
//   scope     where the command runs: on the receiving node (no keys, or
//             connection commands), on its key's replicas, or on every member
//             (each over the keys it owns: KEYS, SCAN, DBSIZE, FLUSHALL...).
//   split     a multi-key command becomes one-key parts (MGET -> GET per key,
//             MSET -> SET per pair), each routed on its own; or all its keys
//             must share one replica set (MSETNX), else CROSSSLOT.
//   combine   how the parts' (or the members') replies become one reply.
//   access    whether a write needs the key's current value first: a blind
//             write (SETEX, SETV) runs at once; any other command first reads
//             the key from a read quorum.
//
// Pure data; no loop, no sockets.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cluster {

enum class Scope : uint8_t {
  kAuto,         // keyed if the command has key positions, else local
  kLocal,        // runs on the receiving node only
  kClusterWide,  // every member runs it over the keys it owns
};

enum class Split : uint8_t {
  kNone,           // one part: the whole command on its first key
  kEachKey,        // one part per key: <part_command> <key>
  kKeyValuePairs,  // one part per key/value pair: <part_command> <key> <value>
  kSameReplicas,   // one part; every key must share the first key's replicas
};

enum class Combine : uint8_t {
  kSingle,  // the one part's reply
  kArray,   // an array of the parts' replies (MGET)
  kSum,     // the sum of integer replies (DEL, EXISTS)
  kOk,      // +OK unless a part failed (MSET)
  // Cluster-wide commands:
  kSumAll,     // DBSIZE
  kConcatAll,  // KEYS: one array of every member's elements
  kPickOne,    // RANDOMKEY: a random non-nil member reply
  kScanAll,    // SCAN: walk the members one after another
  kOkAll,      // FLUSHALL, FLUSHDB
};

enum class Access : uint8_t {
  kAuto,        // a write needs a read first; a read needs a read quorum
  kBlindWrite,  // a write that does not depend on the current value
};

// Decides from the arguments whether a call is a blind write (SET without
// NX, XX, GET or KEEPTTL).
using BlindIf = bool (*)(std::span<const std::string> argv);

// The key positions of one call, for a command whose keys are not at fixed
// positions (Redis's getkeys_proc): the transaction frame SHOAL.TXN names
// its keys in a counted list.
using KeysOf = std::vector<size_t> (*)(std::span<const std::string> argv);

struct Routing {
  Scope scope = Scope::kAuto;
  Split split = Split::kNone;
  // The command each part runs ("get" for MGET's parts); empty: the command
  // itself.
  std::string_view part_command = {};
  Combine combine = Combine::kSingle;
  Access access = Access::kAuto;
  BlindIf blind_if = nullptr;  // overrides `access` per call when set
  KeysOf keys_of = nullptr;    // overrides first/last/step per call when set
};

// The cluster's view of one command-table row, made by the command host
// (cluster/command_host.h). `impl` is the host's own row, opaque here.
struct CommandRef {
  const void* impl = nullptr;
  std::string_view name;
  int arity = 0;  // Redis's convention: N exactly, -N at least
  bool write = false;
  int first_key = 0;  // 0: no keys
  int last_key = 0;   // -1: the last argument
  int key_step = 0;
  const Routing* routing = nullptr;

  explicit operator bool() const { return impl != nullptr; }
  bool keyed() const { return first_key > 0; }
  Scope scope() const {
    if (routing->scope != Scope::kAuto) return routing->scope;
    return keyed() ? Scope::kAuto : Scope::kLocal;
  }
  // True if this call must read the key before it runs.
  bool NeedsRead(std::span<const std::string> argv) const {
    if (!write) return true;
    if (routing->blind_if != nullptr) return !routing->blind_if(argv);
    return routing->access != Access::kBlindWrite;
  }
};

// True if `argc` arguments (the name included) satisfy the command's arity.
inline bool ArityAllows(const CommandRef& cmd, size_t argc) {
  return cmd.arity >= 0 ? argc == static_cast<size_t>(cmd.arity)
                        : argc >= static_cast<size_t>(-cmd.arity);
}

}  // namespace shoal::cluster
