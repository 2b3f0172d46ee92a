// ClusterDispatch on the peer port: the handshake (SHOAL.HELLO, SHOAL.AUTH),
// then the peer operations (SHOAL.MGET, SHOAL.MPUT, SHOAL.MEMBERS,
// SHOAL.FWD, SHOAL.LOCAL). See cluster_dispatch.h.

#include "cluster/peer_auth.h"
#include "server/args.h"
#include "server/cluster_dispatch.h"
#include "server/cluster_request.h"
#include "server/errors.h"
#include "server/log.h"
#include "server/reply_builder.h"
#include "server/server.h"
#include "server/session.h"

namespace shoal::server {

void ClusterDispatch::HandlePeer(Session& session, std::vector<std::string>& argv) {
  ReplyBuilder reply(session.ReplyTarget());
  server_.ScheduleFlush(session);
  Session::PeerState& peer = session.peer();
  const std::string& cmd = argv[0];
  if (!peer.verified) {
    const std::string& secret = server_.config().cluster_secret;
    if (EqualsIgnoreCase(cmd, "shoal.hello") && argv.size() == 3 && peer.nonce.empty()) {
      peer.remote_id = argv[1];
      peer.nonce = cluster::NewNonce();
      reply.ArrayHeader(3);
      reply.Bulk(server_.node_id());
      reply.Bulk(peer.nonce);
      reply.Bulk(cluster::ServerProof(secret, argv[2], server_.node_id(), peer.remote_id));
      return;
    }
    if (EqualsIgnoreCase(cmd, "shoal.auth") && argv.size() == 2 && !peer.nonce.empty()) {
      std::string expected =
          cluster::ClientProof(secret, peer.nonce, peer.remote_id, server_.node_id());
      if (cluster::ProofEquals(expected, argv[1])) {
        peer.verified = true;
        reply.Ok();
        return;
      }
      ++stats_.peer_auth_failures;
      server_.logger().Log(LogLevel::kWarning,
                           "Peer connection from %s (node %.40s) failed authentication: wrong "
                           "cluster-secret?",
                           session.peer_addr().c_str(), peer.remote_id.c_str());
      reply.Error(errors::kPeerAuthError);
      session.CloseAfterReply();
      return;
    }
    // A Redis client on the bus port, or a peer out of step.
    reply.Error(errors::kPeerPortError);
    session.CloseAfterReply();
    return;
  }
  ServePeerCommand(session, argv);
}

void ClusterDispatch::ServePeerCommand(Session& session, std::vector<std::string>& argv) {
  ReplyBuilder reply(session.ReplyTarget());
  const std::string& cmd = argv[0];
  if (EqualsIgnoreCase(cmd, "shoal.mget") && argv.size() >= 3 && argv.size() % 2 == 1) {
    // Pairs of key and the coordinator's digest of its copy (empty: none).
    reply.ArrayHeader((argv.size() - 1) / 2);
    for (size_t i = 1; i + 1 < argv.size(); i += 2) {
      bool same = false;
      auto obj = coordinator_->LocalObjectUnless(argv[i], argv[i + 1], &same);
      if (!obj.ok()) {
        reply.Error("ERR " + obj.status().message());
      } else if (same) {
        reply.Simple("=");
      } else if (obj.value().empty()) {
        reply.Null();
      } else {
        reply.Bulk(obj.value());
      }
    }
    return;
  }
  if (EqualsIgnoreCase(cmd, "shoal.mput") && argv.size() >= 3 && argv.size() % 2 == 1) {
    reply.ArrayHeader((argv.size() - 1) / 2);
    for (size_t i = 1; i + 1 < argv.size(); i += 2) {
      storage::Status st = coordinator_->ApplyRemote(argv[i], argv[i + 1]);
      if (st.ok()) {
        reply.Ok();
      } else {
        reply.Error("ERR " + st.message());
      }
    }
    return;
  }
  if (EqualsIgnoreCase(cmd, "shoal.members") && argv.size() == 2) {
    auto blob = node_->OnMembers(argv[1]);
    if (!blob.ok()) return reply.Error("ERR " + blob.status().message());
    ApplyConfig();
    return reply.Bulk(blob.value());
  }
  if ((EqualsIgnoreCase(cmd, "shoal.fwd") || EqualsIgnoreCase(cmd, "shoal.local")) &&
      argv.size() >= 2) {
    const bool fwd = EqualsIgnoreCase(cmd, "shoal.fwd");
    argv.erase(argv.begin());
    const CommandSpec* spec = server_.commands().Find(argv[0]);
    if (spec == nullptr || !ArityOk(spec->arity, argv.size()) ||
        (fwd ? spec->first_key <= 0 : !IsBroadcast(spec->name))) {
      return reply.Error("ERR bad " + std::string(fwd ? "SHOAL.FWD" : "SHOAL.LOCAL") + " command");
    }
    if (!fwd) {
      std::string out;
      server_.RunCommand(session, *spec, argv, &out);
      return reply.Bulk(out);
    }
    ++stats_.served_forwards;
    auto req = Build(session, spec, argv, /*forced_local=*/true);
    req->wrap_bulk = true;
    Enqueue(session, req);
    return;
  }
  reply.Error("ERR unknown peer command '" + cmd.substr(0, 64) + "'");
}

}  // namespace shoal::server
