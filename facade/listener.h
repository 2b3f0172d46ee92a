#pragma once
// Listener: a listening TCP socket on one address and port. Each incoming
// connection is announced to the owner's callback, which accepts it into a
// Connection (Accept) or refuses it.
//
// The uv handle is a UvHandle: its memory is freed in its close callback,
// so the Listener may be destroyed while libuv still closes it. Runs on the
// loop thread.

#include <uv.h>

#include <functional>
#include <string>

#include "facade/uv_handle.h"
#include "storage/status.h"

namespace shoal::facade {

class Listener {
 public:
  // status: 0, or the uv error of a failed accept.
  using OnConnection = std::function<void(int status)>;

  Listener() = default;
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds `host` (an IPv4 or IPv6 literal; "localhost" means 127.0.0.1)
  // and listens. On error nothing is left open.
  storage::Status Listen(uv_loop_t* loop, const std::string& host, int port, int backlog,
                         OnConnection on_connection);
  // Accepts the pending connection into `client` (initialised on the same
  // loop). Returns the uv error code (0 on success).
  int Accept(uv_tcp_t* client);
  void Close();
  bool listening() const { return static_cast<bool>(handle_); }

 private:
  static void OnConnectionCb(uv_stream_t* server, int status) noexcept;

  UvHandle<uv_tcp_t> handle_;
  OnConnection on_connection_;
};

}  // namespace shoal::facade
