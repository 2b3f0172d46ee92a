#include "facade/listener.h"

#include <cstring>

namespace shoal::facade {

Listener::~Listener() {
  Close();
}

storage::Status Listener::Listen(uv_loop_t* loop, const std::string& host, int port, int backlog,
                                 OnConnection on_connection) {
  Endpoint e{host, false};
  return Listen(loop, std::span<const Endpoint>(&e, 1), port, backlog, std::move(on_connection));
}

storage::Status Listener::Listen(uv_loop_t* loop, std::span<const Endpoint> endpoints, int port,
                                 int backlog, OnConnection on_connection, const char* kind) {
  Close();
  const std::string where =
      "Failed listening on port " + std::to_string(port) + " (" + std::string(kind) + ")";
  for (const Endpoint& e : endpoints) {
    sockaddr_storage addr;
    std::memset(&addr, 0, sizeof(addr));
    const std::string ip = e.host == "localhost" ? std::string("127.0.0.1") : e.host;
    bool v6 = false;
    if (uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
      if (uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
        Close();
        return storage::Status::Invalid("bind: '" + e.host + "' is not an IP address");
      }
      v6 = true;
    }
    auto sock = std::make_unique<Socket>();
    sock->owner = this;
    sock->host = e.host;
    int rc = sock->handle.Init(loop, sock.get());
    if (rc != 0) {
      Close();
      return storage::Status::IOError(where + ": " + uv_strerror(rc));
    }
    rc = uv_tcp_bind(sock->handle.get(), reinterpret_cast<const sockaddr*>(&addr),
                     v6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(sock->handle.get()), backlog, &OnConnectionCb);
    }
    if (rc != 0) {
      sock->handle.reset();
      // As Redis's listenToPort: an optional address the machine lacks is
      // skipped; anything else aborts.
      if (e.optional && (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT)) continue;
      Close();
      return storage::Status::IOError(where + ", aborting: " + e.host + ": " + uv_strerror(rc));
    }
    sockets_.push_back(std::move(sock));
  }
  on_connection_ = std::move(on_connection);
  return storage::Status::Ok();
}

int Listener::Accept(uv_tcp_t* client) {
  if (pending_ == nullptr || !pending_->handle) return UV_EBADF;
  return uv_accept(reinterpret_cast<uv_stream_t*>(pending_->handle.get()),
                   reinterpret_cast<uv_stream_t*>(client));
}

void Listener::Close() {
  for (auto& s : sockets_) {
    // A connection already queued must not reach an owner that closed us.
    s->handle->data = nullptr;
    s->handle.reset();
  }
  sockets_.clear();
  pending_ = nullptr;
}

std::vector<std::string> Listener::hosts() const {
  std::vector<std::string> out;
  for (const auto& s : sockets_) out.push_back(s->host);
  return out;
}

void Listener::OnConnectionCb(uv_stream_t* server, int status) noexcept {
  auto* sock = static_cast<Socket*>(server->data);
  if (sock == nullptr) return;
  Listener* self = sock->owner;
  if (!self->on_connection_) return;
  self->pending_ = sock;
  self->on_connection_(status);
  self->pending_ = nullptr;
}

}  // namespace shoal::facade
