#pragma once
// Textual IP addresses: what kind an address is (loopback, wildcard,
// link-local), the host part of a socket address, and the guess of this
// machine's address that a node bound to a wildcard advertises before a peer
// connection shows it the address its peers reach it at.
//
// Pure functions over strings and sockaddrs, except InterfaceAddresses(),
// which asks the OS. Thread-safe.

#include <sys/socket.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::facade {

// True for an IPv4 or IPv6 literal (inet_pton accepts it); no host names,
// no brackets, no scope ids.
bool IsNumericAddress(std::string_view addr);

// True for the addresses that mean "every interface": 0.0.0.0 and ::
// (any spelling inet_pton reads as all zeroes).
bool IsWildcardAddress(std::string_view addr);

// True for an address only this machine can reach: all of 127.0.0.0/8, ::1,
// IPv4-mapped loopback (::ffff:127.x.y.z) and the name "localhost".
bool IsLoopbackAddress(std::string_view addr);

// True for a link-local address (169.254.0.0/16, fe80::/10): reachable only
// on one link, and an IPv6 one only with a scope id.
bool IsLinkLocalAddress(std::string_view addr);

// The host of an AF_INET or AF_INET6 socket address as text, without port
// or brackets; an IPv4-mapped IPv6 address (a dual-stack socket talking
// IPv4) comes out in its IPv4 form. "" for another family.
std::string SockaddrHost(const sockaddr* sa);

// One address of a local network interface.
struct InterfaceAddress {
  std::string address;    // numeric, as SockaddrHost prints it
  bool internal = false;  // a loopback interface
};

// The addresses of this machine's interfaces, in the OS's order (libuv's
// uv_interface_addresses); empty if the OS would not tell.
std::vector<InterfaceAddress> InterfaceAddresses();

// The address a node bound to the wildcard `bind` (0.0.0.0 or ::) advertises
// until a peer connection tells it better: the first address of a
// non-loopback interface that is neither link-local nor loopback, IPv4 ones
// first (and only IPv4 ones for 0.0.0.0); if there is none, 127.0.0.1 (a
// node alone on its machine). Never a wildcard.
std::string GuessHostAddress(std::string_view bind, std::span<const InterfaceAddress> interfaces);

}  // namespace shoal::facade
