// Listener on a real loop: several addresses on one port, optional ones, the
// IPv6-only sockets that let 0.0.0.0 and :: share a port, and nothing left
// open after a failure (the same port can be bound again at once).
#include "facade/listener.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

namespace shoal::facade {
namespace {

class Loop {
 public:
  Loop() { REQUIRE(uv_loop_init(&loop_) == 0); }
  ~Loop() {
    for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
    }
    CHECK(uv_loop_close(&loop_) == 0);
  }
  uv_loop_t* get() { return &loop_; }

 private:
  uv_loop_t loop_;
};

// A port free on 127.0.0.1 (the kernel's pick for an ephemeral bind).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A blocking connect: the kernel completes it against the listen backlog.
bool Connects(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host, &a.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

bool HaveIpv6Loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

TEST_CASE("Listener: several addresses on one port, optional ones skipped") {
  Loop loop;
  Listener l;
  const int port = FreePort();
  std::vector<Endpoint> eps{{"127.0.0.1", false}, {"192.0.2.1", true}, {"127.0.0.2", false}};
  storage::Status st = l.Listen(loop.get(), eps, port, 16, [](int) {});
  REQUIRE_MESSAGE(st.ok(), st.message());
  CHECK(l.hosts() == std::vector<std::string>{"127.0.0.1", "127.0.0.2"});
  CHECK(Connects("127.0.0.1", port));
  CHECK(Connects("127.0.0.2", port));
  CHECK_FALSE(Connects("127.0.0.3", port));
  l.Close();
  CHECK_FALSE(l.listening());
  // The sockets closed at once: the same addresses can be bound again now.
  st = l.Listen(loop.get(), eps, port, 16, [](int) {});
  CHECK_MESSAGE(st.ok(), st.message());
}

TEST_CASE("Listener: a missing address that is not optional fails, leaving nothing open") {
  Loop loop;
  Listener l;
  const int port = FreePort();
  std::vector<Endpoint> eps{{"127.0.0.1", false}, {"192.0.2.1", false}};
  storage::Status st = l.Listen(loop.get(), eps, port, 16, [](int) {});
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("Failed listening on port " + std::to_string(port) +
                          " (tcp), aborting: 192.0.2.1: ") == 0);
  CHECK_FALSE(l.listening());
  CHECK_FALSE(Connects("127.0.0.1", port));
  std::vector<Endpoint> bad{{"not-an-address", false}};
  CHECK(l.Listen(loop.get(), bad, port, 16, [](int) {}).message() ==
        "bind: 'not-an-address' is not an IP address");
}

TEST_CASE("Listener: 0.0.0.0 and :: share a port (IPv6-only sockets)") {
  if (!HaveIpv6Loopback()) return;  // no IPv6 here: nothing to check
  Loop loop;
  Listener l;
  const int port = FreePort();
  std::vector<Endpoint> eps{{"0.0.0.0", false}, {"::", false}};
  storage::Status st = l.Listen(loop.get(), eps, port, 16, [](int) {});
  CHECK_MESSAGE(st.ok(), st.message());
  CHECK(l.hosts().size() == 2);
  CHECK(Connects("127.0.0.1", port));
}

}  // namespace
}  // namespace shoal::facade
