// Dispatcher's cluster-wide commands (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL,
// FLUSHDB): every member runs the command over the keys it owns (SHOAL.LOCAL)
// and the answers are combined as the command's Routing says. See
// dispatcher.h.

#include "cluster/dispatcher.h"
#include "cluster/peer/protocol.h"
#include "cluster/quorum.h"
#include "facade/args.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "facade/reply_builder.h"

namespace shoal::cluster {
namespace {

// The SCAN cursor across the cluster: the member's index (in id order) in
// the low 8 bits, that member's own cursor above.
constexpr unsigned kScanMemberBits = 8;

// Combines the members' replies (all parsed, none an error).
std::string Combined(Combine how, const std::vector<PeerReply>& replies, uint64_t random) {
  std::string out;
  facade::ReplyBuilder rb(&out);
  switch (how) {
    case Combine::kSumAll: {
      int64_t total = 0;
      for (const PeerReply& r : replies) total += r.integer;
      rb.Integer(total);
      break;
    }
    case Combine::kConcatAll: {
      size_t n = 0;
      for (const PeerReply& r : replies) n += r.elements.size();
      rb.ArrayHeader(n);
      for (const PeerReply& r : replies) {
        for (const PeerReply& e : r.elements) WriteReply(e, rb);
      }
      break;
    }
    case Combine::kPickOne: {
      std::vector<const PeerReply*> found;
      for (const PeerReply& r : replies) {
        if (r.type == PeerReply::Type::kString) found.push_back(&r);
      }
      if (found.empty()) {
        rb.Null();
      } else {
        WriteReply(*found[random % found.size()], rb);
      }
      break;
    }
    default:
      rb.Ok();
      break;
  }
  return out;
}

}  // namespace

void Dispatcher::ExecuteClusterWide(const std::shared_ptr<ConnState>& cs,
                                    const std::shared_ptr<Request>& req) {
  ++stats_.broadcasts;
  std::vector<NodeId> ids;
  for (const auto& [id, info] : node_.membership().members()) ids.push_back(id);
  std::vector<std::string> argv = req->argv;
  size_t first = 0;
  size_t count = ids.size();
  uint64_t scan_member = 0;
  const Combine how = req->combine;
  auto finish = [this, cs, req](std::string reply) {
    Part p;
    p.reply = std::move(reply);
    p.done = true;
    req->parts.push_back(std::move(p));
    MaybeComplete(cs, req);
  };
  if (how == Combine::kScanAll) {
    uint64_t cursor = 0;
    if (argv.size() < 2 || !facade::ParseScanCursor(argv[1], &cursor)) {
      return finish(facade::ErrorReply(facade::errors::kInvalidCursor));
    }
    scan_member = cursor & ((1u << kScanMemberBits) - 1);
    if (scan_member >= ids.size()) scan_member = 0;
    argv[1] = std::to_string(cursor >> kScanMemberBits);
    first = scan_member;
    count = 1;
  }
  req->node_replies.assign(count, std::string());
  req->node_pending = count;
  auto finish_one = [this, req, how, scan_member, members = ids.size(), finish](size_t slot,
                                                                                std::string bytes) {
    req->node_replies[slot] = std::move(bytes);
    if (--req->node_pending > 0) return;
    std::vector<PeerReply> replies;
    for (const std::string& r : req->node_replies) {
      auto parsed = ParseReply(r);
      if (!parsed.ok()) return finish(facade::ErrorReply(facade::errors::kBadNodeReply));
      if (parsed.value().type == PeerReply::Type::kError) {
        return finish(facade::ErrorReply(parsed.value().str));
      }
      replies.push_back(std::move(parsed).value());
    }
    if (how != Combine::kScanAll) return finish(Combined(how, replies, host_.Random()));
    // SCAN: [cursor, [keys...]] from one member; the next cursor moves on to
    // the next member once this one is done.
    const PeerReply& r = replies[0];
    uint64_t cursor = 0;
    if (r.type != PeerReply::Type::kArray || r.elements.size() != 2 ||
        !facade::ParseScanCursor(r.elements[0].str, &cursor)) {
      return finish(facade::ErrorReply(facade::errors::kBadNodeReply));
    }
    uint64_t next = 0;
    if (cursor != 0) {
      next = (cursor << kScanMemberBits) | scan_member;
    } else if (scan_member + 1 < members) {
      next = scan_member + 1;
    }
    std::string out;
    facade::ReplyBuilder rb(&out);
    rb.ArrayHeader(2);
    rb.Bulk(std::to_string(next));
    WriteReply(r.elements[1], rb);
    finish(std::move(out));
  };
  // Replica puts of this connection's earlier writes are still batched:
  // send them first, so that on each link they arrive before this command
  // and it sees them (a pipelined SET then DBSIZE counts the key).
  transport_.Flush();
  const int64_t deadline = transport_.NowMs() + options_.request_timeout_ms;
  for (size_t k = 0; k < count; ++k) {
    const NodeId& id = ids[first + k];
    if (id == node_.self_id()) {
      std::string local;
      host_.Run(*cs->conn, req->cmd, argv, /*cluster_wide=*/true, &local);
      finish_one(k, std::move(local));
      continue;
    }
    std::vector<std::string> remote{"SHOAL.LOCAL"};
    remote.insert(remote.end(), argv.begin(), argv.end());
    const size_t members = ids.size();
    transport_.Send(
        id, std::move(remote), deadline,
        [finish_one, k, members](PeerOutcome outcome, const PeerReply* reply, bool late) {
          if (late) return;
          if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kString) {
            finish_one(k, reply->str);
          } else if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kError) {
            finish_one(k, facade::ErrorReply(reply->str));
          } else {
            // Every member must answer a cluster-wide command.
            finish_one(k, facade::ErrorReply(NoQuorumMessage(0, members)));
          }
        });
  }
}

}  // namespace shoal::cluster
