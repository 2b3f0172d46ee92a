#include "server/commands/client_filter.h"

#include <climits>

#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::server {
namespace {

storage::Status Error(std::string_view msg) {
  return storage::Status::Invalid(std::string(msg));
}

std::string UnknownType(std::string_view name) {
  return "ERR Unknown client type '" + std::string(name) + "'";
}

}  // namespace

std::optional<ClientType> ParseClientType(std::string_view name) {
  using facade::EqualsIgnoreCase;
  if (EqualsIgnoreCase(name, "normal")) return ClientType::kNormal;
  if (EqualsIgnoreCase(name, "slave") || EqualsIgnoreCase(name, "replica")) {
    return ClientType::kReplica;
  }
  if (EqualsIgnoreCase(name, "master")) return ClientType::kMaster;
  if (EqualsIgnoreCase(name, "pubsub")) return ClientType::kPubsub;
  return std::nullopt;
}

bool ClientKillFilter::Matches(const ClientFacts& c) const {
  if (addr && c.addr != *addr) return false;
  if (laddr && c.laddr != *laddr) return false;
  if (type && c.type != *type) return false;
  if (id != 0 && c.id != id) return false;
  if (user && c.user != *user) return false;
  if (c.self && skipme) return false;
  return true;
}

storage::Result<ClientKillFilter> ParseClientKill(std::span<const std::string> args) {
  using facade::EqualsIgnoreCase;
  ClientKillFilter f;
  if (args.size() == 1) {
    // The old form may kill the caller itself.
    f.old_form = true;
    f.addr = args[0];
    f.skipme = false;
    return f;
  }
  if (args.empty()) return Error(facade::errors::kSyntax);
  for (size_t i = 0; i < args.size(); i += 2) {
    const std::string& opt = args[i];
    if (i + 1 >= args.size()) return Error(facade::errors::kSyntax);
    const std::string& val = args[i + 1];
    if (EqualsIgnoreCase(opt, "id")) {
      int64_t v = 0;
      if (!facade::ParseInt64(val, &v) || v < 1 || v > LONG_MAX) {
        return Error("ERR client-id should be greater than 0");
      }
      f.id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(opt, "type")) {
      f.type = ParseClientType(val);
      if (!f.type) return Error(UnknownType(val));
    } else if (EqualsIgnoreCase(opt, "addr")) {
      f.addr = val;
    } else if (EqualsIgnoreCase(opt, "laddr")) {
      f.laddr = val;
    } else if (EqualsIgnoreCase(opt, "user")) {
      // shoal has one user, as Redis without ACL rules.
      if (val != "default") return Error("ERR No such user '" + val + "'");
      f.user = val;
    } else if (EqualsIgnoreCase(opt, "skipme")) {
      if (EqualsIgnoreCase(val, "yes")) {
        f.skipme = true;
      } else if (EqualsIgnoreCase(val, "no")) {
        f.skipme = false;
      } else {
        return Error(facade::errors::kSyntax);
      }
    } else {
      return Error(facade::errors::kSyntax);
    }
  }
  return f;
}

storage::Result<ClientListFilter> ParseClientList(std::span<const std::string> args) {
  using facade::EqualsIgnoreCase;
  ClientListFilter f;
  if (args.empty()) return f;
  if (args.size() == 2 && EqualsIgnoreCase(args[0], "type")) {
    f.type = ParseClientType(args[1]);
    if (!f.type) return Error(UnknownType(args[1]));
    return f;
  }
  if (args.size() >= 2 && EqualsIgnoreCase(args[0], "id")) {
    f.ids.emplace();
    for (size_t j = 1; j < args.size(); ++j) {
      int64_t id = 0;
      if (!facade::ParseInt64(args[j], &id)) return Error("ERR Invalid client ID");
      f.ids->push_back(id);
    }
    return f;
  }
  return Error(facade::errors::kSyntax);
}

}  // namespace shoal::server
