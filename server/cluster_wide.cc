// ClusterDispatch's cluster-wide commands: KEYS, SCAN, DBSIZE, RANDOMKEY,
// FLUSHALL and FLUSHDB run on every member (SHOAL.LOCAL; each counts the
// keys it owns) and the answers are combined here. See cluster_dispatch.h.

#include <charconv>

#include "cluster/quorum.h"

#include "server/args.h"
#include "server/cluster_dispatch.h"
#include "server/cluster_request.h"
#include "server/errors.h"
#include "server/reply_builder.h"
#include "server/server.h"
#include "server/session.h"

namespace shoal::server {
namespace {

// SCAN's "*2\r\n$<len>\r\n<cursor>\r\n*<n>\r\n<keys>" -> cursor, n, keys.
bool ParseScanReply(std::string_view bytes, uint64_t* cursor, int64_t* n, std::string_view* keys) {
  std::string_view body;
  int64_t two = 0;
  if (!ParseArrayReply(bytes, &two, &body) || two != 2 || body.empty() || body[0] != '$') {
    return false;
  }
  auto end = body.find("\r\n");
  if (end == std::string_view::npos) return false;
  int64_t len = 0;
  auto r = std::from_chars(body.data() + 1, body.data() + end, len);
  if (r.ec != std::errc() || len < 0 || body.size() < end + 2 + static_cast<size_t>(len) + 2) {
    return false;
  }
  std::string_view c = body.substr(end + 2, static_cast<size_t>(len));
  auto rc = std::from_chars(c.data(), c.data() + c.size(), *cursor);
  if (rc.ec != std::errc()) return false;
  return ParseArrayReply(body.substr(end + 2 + static_cast<size_t>(len) + 2), n, keys);
}

}  // namespace

void ClusterDispatch::ExecuteBroadcast(Session& session,
                                       const std::shared_ptr<ClusterRequest>& req) {
  ++stats_.broadcasts;
  const auto& members = node_->membership().members();
  std::vector<cluster::NodeId> ids;
  for (const auto& [id, info] : members) ids.push_back(id);
  const std::string_view name = req->cmd->name;
  std::vector<std::string> argv = req->argv;
  size_t first = 0;
  size_t count = ids.size();
  uint64_t scan_node = 0;
  if (name == "scan") {
    // The cluster cursor: the member's index (in id order) in the low 8
    // bits, that member's own cursor above.
    uint64_t cursor = 0;
    if (!ParseScanCursor(argv[1], &cursor)) {
      ClusterPart p;
      p.reply = ErrorBytes(errors::kInvalidCursor);
      p.done = true;
      req->parts.push_back(std::move(p));
      MaybeComplete(req);
      return;
    }
    scan_node = cursor & 0xff;
    if (scan_node >= ids.size()) scan_node = 0;
    argv[1] = std::to_string(cursor >> 8);
    first = scan_node;
    count = 1;
  }
  req->node_replies.assign(count, std::string());
  req->node_pending = count;
  auto finish_one = [this, req, name, scan_node, ids](size_t slot, std::string bytes) {
    req->node_replies[slot] = std::move(bytes);
    if (--req->node_pending > 0) return;
    // Combine.
    std::string out;
    ReplyBuilder rb(&out);
    for (const std::string& r : req->node_replies) {
      if (!r.empty() && r[0] == '-') {
        out = r;
        break;
      }
    }
    if (out.empty()) {
      if (name == "dbsize") {
        int64_t total = 0;
        for (const std::string& r : req->node_replies) {
          int64_t v = 0;
          if (ParseIntegerReply(r, &v)) total += v;
        }
        rb.Integer(total);
      } else if (name == "keys") {
        int64_t total = 0;
        std::string body;
        for (const std::string& r : req->node_replies) {
          int64_t n = 0;
          std::string_view b;
          if (ParseArrayReply(r, &n, &b)) {
            total += n;
            body.append(b);
          }
        }
        rb.ArrayHeader(static_cast<size_t>(total));
        rb.Raw(body);
      } else if (name == "randomkey") {
        std::vector<const std::string*> found;
        for (const std::string& r : req->node_replies) {
          if (!r.empty() && r[0] == '$' && r.compare(0, 3, "$-1") != 0) found.push_back(&r);
        }
        if (found.empty()) {
          rb.Null();
        } else {
          rb.Raw(*found[server_.NextRandom() % found.size()]);
        }
      } else if (name == "scan") {
        uint64_t cursor = 0;
        int64_t n = 0;
        std::string_view keys;
        if (!ParseScanReply(req->node_replies[0], &cursor, &n, &keys)) {
          out = ErrorBytes("ERR bad SCAN reply from a cluster node");
        } else {
          uint64_t next = 0;
          if (cursor != 0) {
            next = (cursor << 8) | scan_node;
          } else if (scan_node + 1 < ids.size()) {
            next = scan_node + 1;
          }
          rb.ArrayHeader(2);
          rb.Bulk(std::to_string(next));
          rb.ArrayHeader(static_cast<size_t>(n));
          rb.Raw(keys);
        }
      } else {
        rb.Ok();  // FLUSHALL / FLUSHDB
      }
    }
    ClusterPart p;
    p.reply = std::move(out);
    p.done = true;
    req->parts.push_back(std::move(p));
    MaybeComplete(req);
  };
  // Replica puts of this connection's earlier writes are still batched:
  // send them first, so that on each link they arrive before this command
  // and it sees them (a pipelined SET then DBSIZE counts the key).
  coordinator_->Flush();
  int64_t deadline =
      static_cast<int64_t>(uv_now(server_.loop())) + server_.config().request_timeout_ms;
  for (size_t k = 0; k < count; ++k) {
    const cluster::NodeId& id = ids[first + k];
    if (id == node_->self_id()) {
      std::string local;
      server_.RunCommand(session, *req->cmd, argv, &local);
      finish_one(k, std::move(local));
      continue;
    }
    std::vector<std::string> remote{"SHOAL.LOCAL"};
    remote.insert(remote.end(), argv.begin(), argv.end());
    size_t members = ids.size();
    node_->Send(id, std::move(remote), deadline,
                [finish_one, k, members](cluster::PeerOutcome outcome,
                                         const cluster::PeerReply* reply, bool late) {
                  if (late) return;
                  if (outcome == cluster::PeerOutcome::kReply &&
                      reply->type == cluster::PeerReply::Type::kString) {
                    finish_one(k, reply->str);
                  } else if (outcome == cluster::PeerOutcome::kReply &&
                             reply->type == cluster::PeerReply::Type::kError) {
                    finish_one(k, ErrorBytes(reply->str));
                  } else {
                    // Every member must answer a cluster-wide command.
                    finish_one(k, ErrorBytes(cluster::NoQuorumMessage(0, members)));
                  }
                });
  }
}

}  // namespace shoal::server
