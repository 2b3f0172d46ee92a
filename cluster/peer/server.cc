#include "cluster/peer/server.h"

#include <algorithm>
#include <cctype>

#include "cluster/peer/auth.h"
#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::cluster {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

PeerServer::PeerServer(uv_loop_t* loop, const storage::Clock& clock, facade::OutputBatch& output,
                       facade::IoStats& io, PeerServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  env_.clock = &clock;
  env_.output = &output;
  env_.io = &io;
  env_.limits.auth_required = true;
}

PeerServer::~PeerServer() {
  Close();
}

void PeerServer::Register(std::string_view name, Handler handler) {
  handlers_[Upper(name)] = std::move(handler);
}

void PeerServer::set_limits(const facade::ConnectionLimits& limits) {
  env_.limits = limits;
  env_.limits.auth_required = true;  // always: the handshake is the authentication
}

storage::Status PeerServer::Listen() {
  return listener_.Listen(loop_, options_.host, options_.port, options_.backlog,
                          [this](int status) { OnAccept(status); });
}

void PeerServer::Close() {
  if (closed_) return;
  closed_ = true;
  listener_.Close();
  for (auto& [id, c] : conns_) {
    c->Flush();  // a best effort to deliver replies already produced
    c->Close();
  }
}

void PeerServer::OnAccept(int status) {
  if (status != 0) {
    Log(LogSeverity::kWarning, std::string("Accepting peer connection: ") + uv_strerror(status));
    return;
  }
  const uint64_t id = next_id_++;
  auto conn = std::make_unique<facade::Connection>(id, *this, env_);
  facade::Connection* raw = conn.get();
  int rc = uv_tcp_init(loop_, raw->handle());
  if (rc != 0) {
    Log(LogSeverity::kWarning, std::string("Accepting peer connection: ") + uv_strerror(rc));
    return;
  }
  conns_.emplace(id, std::move(conn));
  rc = listener_.Accept(raw->handle());
  if (rc != 0) {
    raw->Close();
    return;
  }
  // Best effort: a failure only costs latency.
  (void)uv_tcp_nodelay(raw->handle(), 1);
  raw->Start();
}

void PeerServer::OnRequest(facade::Connection& conn, std::vector<std::string>& argv) {
  facade::ReplyBuilder reply(conn.ReplyTarget());
  conn.ScheduleFlush();
  if (!conn.state().authenticated) return Handshake(conn, argv, reply);
  auto it = handlers_.find(Upper(argv[0]));
  if (it == handlers_.end()) {
    return reply.Error(facade::errors::UnknownPeerCommand(argv[0]));
  }
  it->second(conn, argv, reply);
}

void PeerServer::Handshake(facade::Connection& conn, std::vector<std::string>& argv,
                           facade::ReplyBuilder& reply) {
  struct Handshake& hs = handshakes_[conn.id()];
  const std::string& cmd = argv[0];
  if (facade::EqualsIgnoreCase(cmd, "shoal.hello") && argv.size() == 3 && hs.nonce.empty()) {
    hs.remote_id = argv[1];
    hs.nonce = NewNonce();
    reply.ArrayHeader(3);
    reply.Bulk(options_.self_id);
    reply.Bulk(hs.nonce);
    reply.Bulk(ServerProof(options_.secret, argv[2], options_.self_id, hs.remote_id));
    return;
  }
  if (facade::EqualsIgnoreCase(cmd, "shoal.auth") && argv.size() == 2 && !hs.nonce.empty()) {
    std::string expected = ClientProof(options_.secret, hs.nonce, hs.remote_id, options_.self_id);
    if (SecretEquals(expected, argv[1])) {
      conn.state().authenticated = true;
      const std::string remote_id = hs.remote_id;
      verified_[conn.id()] = remote_id;
      handshakes_.erase(conn.id());
      reply.Ok();
      if (on_verified_) on_verified_(conn, remote_id);
      return;
    }
    ++stats_.auth_failures;
    Log(LogSeverity::kWarning, "Peer connection from " + conn.peer_addr() + " (node " +
                                   hs.remote_id.substr(0, 40) +
                                   ") failed authentication: wrong cluster-secret?");
    reply.Error(facade::errors::kPeerAuthError);
    conn.CloseAfterReply();
    return;
  }
  // A Redis client on the bus port, or a peer out of step.
  reply.Error(facade::errors::kPeerPortError);
  conn.CloseAfterReply();
}

void PeerServer::OnProtocolError(facade::Connection& conn, std::string_view error) {
  Log(LogSeverity::kVerbose,
      "Protocol error (" + std::string(error) + ") from peer connection " + conn.peer_addr());
}

void PeerServer::OnQueryBufferOverflow(facade::Connection& conn) {
  Log(LogSeverity::kWarning,
      "Closing peer connection that reached max query buffer length: " + conn.peer_addr());
}

void PeerServer::OnClosed(facade::Connection& conn) {
  if (on_closed_) on_closed_(conn);
  handshakes_.erase(conn.id());
  verified_.erase(conn.id());
  conns_.erase(conn.id());
}

const std::string* PeerServer::RemoteId(const facade::Connection& conn) const {
  auto it = verified_.find(conn.id());
  return it == verified_.end() ? nullptr : &it->second;
}

void PeerServer::Log(LogSeverity severity, const std::string& msg) const {
  if (options_.log) options_.log(severity, msg);
}

}  // namespace shoal::cluster
