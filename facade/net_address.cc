#include "facade/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

namespace shoal::facade {
namespace {

// An address in network byte order: 4 bytes for IPv4, 16 for IPv6.
struct Parsed {
  int family = 0;  // AF_INET, AF_INET6, or 0 if not numeric
  unsigned char bytes[16] = {};
};

Parsed Parse(std::string_view addr) {
  Parsed p;
  // inet_pton wants a terminated string; addresses are short.
  if (addr.size() >= INET6_ADDRSTRLEN) return p;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  if (inet_pton(AF_INET, buf, p.bytes) == 1) {
    p.family = AF_INET;
  } else if (inet_pton(AF_INET6, buf, p.bytes) == 1) {
    p.family = AF_INET6;
  }
  return p;
}

// ::ffff:a.b.c.d (RFC 4291 2.5.5.2).
bool IsV4Mapped(const Parsed& p) {
  static constexpr unsigned char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return p.family == AF_INET6 && std::memcmp(p.bytes, kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

bool IsNumericAddress(std::string_view addr) {
  return Parse(addr).family != 0;
}

bool IsWildcardAddress(std::string_view addr) {
  Parsed p = Parse(addr);
  if (p.family == 0) return false;
  const size_t n = p.family == AF_INET ? 4 : 16;
  return std::all_of(p.bytes, p.bytes + n, [](unsigned char b) { return b == 0; });
}

bool IsLoopbackAddress(std::string_view addr) {
  if (addr == "localhost") return true;
  Parsed p = Parse(addr);
  if (p.family == AF_INET) return p.bytes[0] == 127;
  if (IsV4Mapped(p)) return p.bytes[12] == 127;
  if (p.family != AF_INET6) return false;
  static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(p.bytes, kLoopback6, 16) == 0;
}

bool IsLinkLocalAddress(std::string_view addr) {
  Parsed p = Parse(addr);
  if (p.family == AF_INET) return p.bytes[0] == 169 && p.bytes[1] == 254;
  if (IsV4Mapped(p)) return p.bytes[12] == 169 && p.bytes[13] == 254;
  return p.family == AF_INET6 && p.bytes[0] == 0xfe && (p.bytes[1] & 0xc0) == 0x80;
}

std::string SockaddrHost(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    if (uv_ip4_name(reinterpret_cast<const sockaddr_in*>(sa), ip, sizeof(ip)) != 0) return {};
    return ip;
  }
  if (sa->sa_family != AF_INET6) return {};
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(sa);
  if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
    if (inet_ntop(AF_INET, a6->sin6_addr.s6_addr + 12, ip, sizeof(ip)) == nullptr) return {};
    return ip;
  }
  if (uv_ip6_name(a6, ip, sizeof(ip)) != 0) return {};
  return ip;
}

std::vector<InterfaceAddress> InterfaceAddresses() {
  std::vector<InterfaceAddress> out;
  uv_interface_address_t* list = nullptr;
  int count = 0;
  if (uv_interface_addresses(&list, &count) != 0) return out;
  for (int i = 0; i < count; ++i) {
    std::string host = SockaddrHost(reinterpret_cast<const sockaddr*>(&list[i].address));
    if (!host.empty()) out.push_back({std::move(host), list[i].is_internal != 0});
  }
  uv_free_interface_addresses(list, count);
  return out;
}

std::string GuessHostAddress(std::string_view bind, std::span<const InterfaceAddress> interfaces) {
  const bool v4_only = Parse(bind).family == AF_INET;
  auto usable = [](const InterfaceAddress& a) {
    return !a.internal && IsNumericAddress(a.address) && !IsLoopbackAddress(a.address) &&
           !IsLinkLocalAddress(a.address) && !IsWildcardAddress(a.address);
  };
  // IPv4 first: a dual-stack `::` socket serves IPv4 peers too, and an IPv4
  // address is what peers on most networks can reach.
  for (const InterfaceAddress& a : interfaces) {
    if (usable(a) && Parse(a.address).family == AF_INET) return a.address;
  }
  if (!v4_only) {
    for (const InterfaceAddress& a : interfaces) {
      if (usable(a)) return a.address;
    }
  }
  return "127.0.0.1";
}

}  // namespace shoal::facade
