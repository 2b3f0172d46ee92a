#pragma once
// LinkTransport: PeerTransport over the node's authenticated peer links
// (ClusterNode) with small items batched per peer and iteration
// (PeerBatcher). Runs on the loop thread.

#include <uv.h>

#include "cluster/cluster_node.h"
#include "cluster/peer/batcher.h"
#include "cluster/peer/transport.h"

namespace shoal::cluster {

class LinkTransport final : public PeerTransport {
 public:
  LinkTransport(uv_loop_t* loop, ClusterNode& node)
      : loop_(loop), node_(node), batcher_(loop, node) {}

  // A node the failure detector holds dead gets nothing: the request fails
  // at once (kNotConnected) instead of waiting out its deadline.
  void Batch(const NodeId& to, std::string_view command, std::vector<std::string> args,
             int64_t deadline_ms, PeerCallback cb) override {
    if (node_.StateOf(to) == MemberState::kDead)
      return cb(PeerOutcome::kNotConnected, nullptr, false);
    batcher_.Add(to, command, std::move(args), deadline_ms, std::move(cb));
  }
  void Send(const NodeId& to, std::vector<std::string> argv, int64_t deadline_ms,
            PeerCallback cb) override {
    if (node_.StateOf(to) == MemberState::kDead)
      return cb(PeerOutcome::kNotConnected, nullptr, false);
    // Batched items go first: on the link to `to` they must precede this
    // frame, which may depend on them.
    batcher_.Flush();
    node_.Send(to, std::move(argv), deadline_ms, std::move(cb));
  }
  void SendForward(const NodeId& to, std::vector<std::string> argv, int64_t deadline_ms,
                   bool ordered, PeerCallback cb) override {
    if (node_.StateOf(to) == MemberState::kDead)
      return cb(PeerOutcome::kNotConnected, nullptr, false);
    // Batched items are written first, so that the forward link's barrier
    // follows them.
    batcher_.Flush();
    node_.SendForward(to, std::move(argv), deadline_ms, ordered, std::move(cb));
  }
  void Flush() override { batcher_.Flush(); }
  // Sends what is batched and closes the batcher's handles.
  void Close() { batcher_.Close(); }
  int64_t NowMs() const override { return static_cast<int64_t>(uv_now(loop_)); }

 private:
  uv_loop_t* loop_;
  ClusterNode& node_;
  PeerBatcher batcher_;
};

}  // namespace shoal::cluster
