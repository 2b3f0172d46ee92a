#include "facade/listener.h"

#include <cstring>

namespace shoal::facade {
namespace {

void FreeOnClose(uv_handle_t* h) noexcept {
  delete reinterpret_cast<uv_tcp_t*>(h);
}

}  // namespace

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
  auto* h = new uv_tcp_t;
  int rc = uv_tcp_init(loop, h);
  if (rc != 0) {
    delete h;
    return storage::Status::IOError("Failed listening on port " + std::to_string(port) +
                                    " (tcp): " + uv_strerror(rc));
  }
  h->data = this;
  rc = uv_tcp_bind(h, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(h), backlog, &OnConnectionCb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), &FreeOnClose);
    return storage::Status::IOError("Failed listening on port " + std::to_string(port) +
                                    " (tcp), aborting: " + uv_strerror(rc));
  }
  handle_ = h;
  on_connection_ = std::move(on_connection);
  return storage::Status::Ok();
}

int Listener::Accept(uv_tcp_t* client) {
  if (handle_ == nullptr) return UV_EBADF;
  return uv_accept(reinterpret_cast<uv_stream_t*>(handle_), reinterpret_cast<uv_stream_t*>(client));
}

void Listener::Close() {
  if (handle_ == nullptr) return;
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), &FreeOnClose);
  handle_ = nullptr;
}

void Listener::OnConnectionCb(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<Listener*>(server->data);
  if (self != nullptr && self->on_connection_) self->on_connection_(status);
}

}  // namespace shoal::facade
