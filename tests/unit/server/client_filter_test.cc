// CLIENT KILL and CLIENT LIST filters: parsing with Redis 7.0's errors, and
// matching.

#include "server/commands/client_filter.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace shoal::server {
namespace {

storage::Result<ClientKillFilter> Kill(std::vector<std::string> args) {
  return ParseClientKill(args);
}

std::string KillError(std::vector<std::string> args) {
  auto r = ParseClientKill(args);
  return r.ok() ? "" : r.status().message();
}

TEST_CASE("CLIENT KILL's old form names an address and may kill the caller") {
  auto f = Kill({"127.0.0.1:5000"});
  REQUIRE(f.ok());
  CHECK(f.value().old_form);
  CHECK_FALSE(f.value().skipme);
  ClientFacts c{7, "127.0.0.1:5000", "127.0.0.1:6379", "default", ClientType::kNormal, true};
  CHECK(f.value().Matches(c));
  c.addr = "127.0.0.1:5001";
  CHECK_FALSE(f.value().Matches(c));
}

TEST_CASE("CLIENT KILL's filters") {
  auto f = Kill({"ID", "7", "addr", "a:1", "LADDR", "b:2", "user", "default", "type", "normal",
                 "skipme", "no"});
  REQUIRE(f.ok());
  const ClientKillFilter& k = f.value();
  CHECK_FALSE(k.old_form);
  ClientFacts c{7, "a:1", "b:2", "default", ClientType::kNormal, true};
  CHECK(k.Matches(c));
  ClientFacts other = c;
  other.id = 8;
  CHECK_FALSE(k.Matches(other));
  other = c;
  other.laddr = "b:3";
  CHECK_FALSE(k.Matches(other));

  auto skip = Kill({"TYPE", "normal"});
  REQUIRE(skip.ok());
  CHECK(skip.value().skipme);
  CHECK_FALSE(skip.value().Matches(c));  // SKIPME yes by default
  c.self = false;
  CHECK(skip.value().Matches(c));
  auto replicas = Kill({"TYPE", "replica"});
  REQUIRE(replicas.ok());
  CHECK_FALSE(replicas.value().Matches(c));
}

TEST_CASE("CLIENT KILL's errors in Redis's words") {
  CHECK(KillError({}) == "ERR syntax error");
  CHECK(KillError({"ID", "1", "ADDR"}) == "ERR syntax error");
  CHECK(KillError({"FOO", "bar"}) == "ERR syntax error");
  CHECK(KillError({"SKIPME", "maybe"}) == "ERR syntax error");
  CHECK(KillError({"ID", "0"}) == "ERR client-id should be greater than 0");
  CHECK(KillError({"ID", "x"}) == "ERR client-id should be greater than 0");
  CHECK(KillError({"TYPE", "foo"}) == "ERR Unknown client type 'foo'");
  CHECK(KillError({"USER", "bob"}) == "ERR No such user 'bob'");
  CHECK(KillError({"TYPE", "SLAVE", "TYPE", "pubsub", "TYPE", "Master"}).empty());
}

TEST_CASE("CLIENT LIST's filters") {
  std::vector<std::string> none;
  auto all = ParseClientList(none);
  REQUIRE(all.ok());
  CHECK_FALSE(all.value().type);
  CHECK_FALSE(all.value().ids);
  std::vector<std::string> ids{"id", "3", "-1", "3"};
  auto by_id = ParseClientList(ids);
  REQUIRE(by_id.ok());
  CHECK(*by_id.value().ids == std::vector<int64_t>{3, -1, 3});
  std::vector<std::string> bad_id{"ID", "x"};
  CHECK(ParseClientList(bad_id).status().message() == "ERR Invalid client ID");
  std::vector<std::string> bad_type{"TYPE", "x"};
  CHECK(ParseClientList(bad_type).status().message() == "ERR Unknown client type 'x'");
  std::vector<std::string> both{"TYPE", "normal", "ID", "1"};
  CHECK(ParseClientList(both).status().message() == "ERR syntax error");
  std::vector<std::string> lone{"ID"};
  CHECK(ParseClientList(lone).status().message() == "ERR syntax error");
}

}  // namespace
}  // namespace shoal::server
