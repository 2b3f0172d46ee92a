#include "facade/net_address.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

namespace shoal::facade {
namespace {

TEST_CASE("net_address: numeric, wildcard, loopback, link-local") {
  struct Case {
    const char* addr;
    bool numeric, wildcard, loopback, link_local;
  };
  const Case cases[] = {
      {"127.0.0.1", true, false, true, false},
      {"127.0.0.2", true, false, true, false},  // all of 127/8 is loopback
      {"127.255.255.254", true, false, true, false},
      {"::1", true, false, true, false},
      {"0:0:0:0:0:0:0:1", true, false, true, false},
      {"::ffff:127.0.0.9", true, false, true, false},
      {"localhost", false, false, true, false},
      {"0.0.0.0", true, true, false, false},
      {"::", true, true, false, false},
      {"0:0::0", true, true, false, false},
      {"10.1.2.3", true, false, false, false},
      {"128.0.0.1", true, false, false, false},
      {"126.255.255.255", true, false, false, false},
      {"::2", true, false, false, false},
      {"2001:db8::1", true, false, false, false},
      {"169.254.10.1", true, false, false, true},
      {"fe80::1", true, false, false, true},
      {"febf::1", true, false, false, true},
      {"fec0::1", true, false, false, false},
      {"", false, false, false, false},
      {"example.com", false, false, false, false},
      {"[::1]", false, false, false, false},
      {"10.0.0.1:7000", false, false, false, false},
      {"127.0.0.1 ", false, false, false, false},
      {"1.2.3", false, false, false, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.addr);
    CHECK(IsNumericAddress(c.addr) == c.numeric);
    CHECK(IsWildcardAddress(c.addr) == c.wildcard);
    CHECK(IsLoopbackAddress(c.addr) == c.loopback);
    CHECK(IsLinkLocalAddress(c.addr) == c.link_local);
  }
  // Longer than any address: refused without reading past the buffer.
  CHECK_FALSE(IsNumericAddress(std::string(100, '1')));
}

TEST_CASE("net_address: SockaddrHost") {
  sockaddr_in a4{};
  a4.sin_family = AF_INET;
  a4.sin_port = htons(7000);
  REQUIRE(inet_pton(AF_INET, "10.9.8.7", &a4.sin_addr) == 1);
  CHECK(SockaddrHost(reinterpret_cast<const sockaddr*>(&a4)) == "10.9.8.7");

  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "2001:db8::5", &a6.sin6_addr) == 1);
  CHECK(SockaddrHost(reinterpret_cast<const sockaddr*>(&a6)) == "2001:db8::5");
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
  REQUIRE(inet_pton(AF_INET6, "::ffff:10.0.0.3", &a6.sin6_addr) == 1);
  CHECK(SockaddrHost(reinterpret_cast<const sockaddr*>(&a6)) == "10.0.0.3");

  sockaddr other{};
  other.sa_family = AF_UNIX;
  CHECK(SockaddrHost(&other) == "");
}

TEST_CASE("net_address: GuessHostAddress") {
  using List = std::vector<InterfaceAddress>;
  const List typical = {
      {"127.0.0.1", true},     {"::1", true},          {"fe80::1c2d:3eff:fe4f:5a6b", false},
      {"2001:db8::10", false}, {"169.254.3.4", false}, {"10.77.0.2", false},
      {"192.168.1.5", false}};
  CHECK(GuessHostAddress("0.0.0.0", typical) == "10.77.0.2");
  CHECK(GuessHostAddress("::", typical) == "10.77.0.2");  // IPv4 first

  const List v6_only = {{"::1", true}, {"fe80::1", false}, {"2001:db8::10", false}};
  CHECK(GuessHostAddress("::", v6_only) == "2001:db8::10");
  CHECK(GuessHostAddress("0.0.0.0", v6_only) == "127.0.0.1");

  // Nothing but loopback and link-local (a machine with no network, or an
  // interface marked non-internal that carries a loopback address).
  const List lonely = {{"127.0.0.1", true}, {"127.0.0.5", false}, {"169.254.1.1", false}};
  CHECK(GuessHostAddress("0.0.0.0", lonely) == "127.0.0.1");
  CHECK(GuessHostAddress("0.0.0.0", List{}) == "127.0.0.1");
  CHECK(GuessHostAddress("::", List{}) == "127.0.0.1");
}

}  // namespace
}  // namespace shoal::facade
