#pragma once
// Listener: listening TCP sockets on one port and one or more addresses
// (Redis's `bind 127.0.0.1 ::1`). Each incoming connection is announced to
// the owner's callback, which accepts it into a Connection (Accept) or
// refuses it.
//
// The uv handles are UvHandles: their memory is freed in their close
// callbacks, so the Listener may be destroyed while libuv still closes them;
// the sockets themselves close at once (uv_close closes the fd), so the same
// address and port can be bound again right after Close(). Runs on the loop
// thread.

#include <uv.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "facade/uv_handle.h"
#include "storage/status.h"

namespace shoal::facade {

// One address to listen on: an IPv4 or IPv6 literal ("localhost" means
// 127.0.0.1). An optional one (Redis's "-" prefix) is skipped when the
// machine does not have it (EADDRNOTAVAIL, or no IPv6 at all).
struct Endpoint {
  std::string host;
  bool optional = false;
};

class Listener {
 public:
  // status: 0, or the uv error of a failed accept.
  using OnConnection = std::function<void(int status)>;

  Listener() = default;
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds every endpoint on `port` and listens. IPv6 sockets are IPv6-only
  // (as Redis sets IPV6_V6ONLY), so "0.0.0.0" and "::" can both be bound.
  // On error nothing is left open; the message names the address, in
  // Redis's words ("Failed listening on port 6379 (tcp), aborting: ...").
  // `kind` names the port in that message: "tcp", or "tls" for tls-port.
  storage::Status Listen(uv_loop_t* loop, std::span<const Endpoint> endpoints, int port,
                         int backlog, OnConnection on_connection, const char* kind = "tcp");
  storage::Status Listen(uv_loop_t* loop, const std::string& host, int port, int backlog,
                         OnConnection on_connection);
  // Accepts the pending connection into `client` (initialised on the same
  // loop). Only from inside the OnConnection callback, which names the
  // socket it is pending on. Returns the uv error code (0 on success).
  int Accept(uv_tcp_t* client);
  void Close();
  bool listening() const { return !sockets_.empty(); }
  // The addresses listened on, in `endpoints` order (optional ones that
  // could not be bound left out).
  std::vector<std::string> hosts() const;

 private:
  struct Socket {
    Listener* owner = nullptr;
    std::string host;
    UvHandle<uv_tcp_t> handle;
  };
  static void OnConnectionCb(uv_stream_t* server, int status) noexcept;

  std::vector<std::unique_ptr<Socket>> sockets_;
  Socket* pending_ = nullptr;  // the socket whose connection is being announced
  OnConnection on_connection_;
};

}  // namespace shoal::facade
