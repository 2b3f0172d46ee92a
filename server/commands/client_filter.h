#pragma once
// Which connections CLIENT LIST and CLIENT KILL act on (Redis 7.0's
// clientCommand and clientKillCommand, networking.c). Pure: the arguments
// in, a filter out; the command walks the connections and asks Matches().

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace shoal::server {

// Redis's client types. A MONITOR connection is a normal client, as in
// Redis (getClientType); shoal has no replicas, masters or subscribers, so
// every client is kNormal.
enum class ClientType : uint8_t { kNormal, kReplica, kMaster, kPubsub };

// "normal", "slave"/"replica", "master", "pubsub" (any case), as Redis's
// getClientTypeByName.
std::optional<ClientType> ParseClientType(std::string_view name);

// What the filters look at in one connection.
struct ClientFacts {
  uint64_t id = 0;
  std::string_view addr;   // ip:port of the client
  std::string_view laddr;  // ip:port it connected to
  std::string_view user;
  ClientType type = ClientType::kNormal;
  bool self = false;  // the connection running the command
};

struct ClientKillFilter {
  bool old_form = false;  // CLIENT KILL <ip:port>: replies OK or "No such client"
  uint64_t id = 0;        // 0: any
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  std::optional<std::string> user;
  std::optional<ClientType> type;
  bool skipme = true;  // the old form may kill the caller

  bool Matches(const ClientFacts& c) const;
};

// Parses CLIENT KILL's arguments after KILL: either one <ip:port> (the old
// form) or <filter> <value> pairs: ID, ADDR, LADDR, USER, TYPE, SKIPME.
// Errors carry Redis's words: "ERR syntax error", "ERR client-id should be
// greater than 0", "ERR Unknown client type '...'", "ERR No such user '...'"
// (only the user "default" exists).
storage::Result<ClientKillFilter> ParseClientKill(std::span<const std::string> args);

// CLIENT LIST's arguments after LIST: nothing, TYPE <type>, or ID <id>...
// (Redis takes one or the other, not both).
struct ClientListFilter {
  std::optional<ClientType> type;
  std::optional<std::vector<int64_t>> ids;  // in the order given, repeats kept
};
storage::Result<ClientListFilter> ParseClientList(std::span<const std::string> args);

}  // namespace shoal::server
