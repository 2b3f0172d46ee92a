#include "facade/listener.h"

#include <cstring>

namespace shoal::facade {

Listener::~Listener() {
  Close();
}

storage::Status Listener::Listen(uv_loop_t* loop, const std::string& host, int port, int backlog,
                                 OnConnection on_connection) {
  Close();
  sockaddr_storage addr;
  std::memset(&addr, 0, sizeof(addr));
  const std::string ip = host == "localhost" ? std::string("127.0.0.1") : host;
  if (uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return storage::Status::Invalid("bind: '" + host + "' is not an IP address");
  }
  const std::string where = "Failed listening on port " + std::to_string(port) + " (tcp)";
  int rc = handle_.Init(loop, this);
  if (rc != 0) return storage::Status::IOError(where + ": " + uv_strerror(rc));
  rc = uv_tcp_bind(handle_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(handle_.get()), backlog, &OnConnectionCb);
  }
  if (rc != 0) {
    handle_.reset();
    return storage::Status::IOError(where + ", aborting: " + uv_strerror(rc));
  }
  on_connection_ = std::move(on_connection);
  return storage::Status::Ok();
}

int Listener::Accept(uv_tcp_t* client) {
  if (!handle_) return UV_EBADF;
  return uv_accept(reinterpret_cast<uv_stream_t*>(handle_.get()),
                   reinterpret_cast<uv_stream_t*>(client));
}

void Listener::Close() {
  if (!handle_) return;
  // A connection already queued must not reach an owner that closed us.
  handle_->data = nullptr;
  handle_.reset();
}

void Listener::OnConnectionCb(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<Listener*>(server->data);
  if (self != nullptr && self->on_connection_) self->on_connection_(status);
}

}  // namespace shoal::facade
