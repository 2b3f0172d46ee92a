#pragma once
// ForwardLinks: a second outbound connection to each peer, for forwarded
// commands (SHOAL.FWD) only.
//
// Why a second link: replies on a peer connection leave in request order,
// and a forwarded command's reply waits for the remote coordinator's quorum.
// On the main link every reply behind it — the replica acknowledgements of
// SHOAL.MPUT, SHOAL.MGET's objects — would wait too. Two nodes that forward
// to each other while each coordinates a write that needs the other's
// acknowledgement then hold each other until the request timeout: exactly
// the two nodes of a minority side of a partition with W = 2, where every
// write needs both of them. On its own link a forwarded command delays only
// the forwarded commands behind it.
//
// Order: a forwarded command may depend on requests sent to the same peer
// on the main link before it (a pipeline's SET replicated with SHOAL.MPUT,
// then an INCR of the key forwarded to that replica must see it). The
// coordinator knows which keys have writes on their way to each peer; a
// command that names one is `ordered`: it is sent on the forward link only
// once every main-link request made before it is answered. When any are
// still in flight it waits for a barrier (SHOAL.BARRIER, answered at once,
// after everything before it) sent on the main link; commands that arrive
// while a barrier is out and no main-link request was made since share it.
// Forwarded commands to one peer always leave in the order they came.
//
// Readiness: callers choose a peer by its main link. A forward link that is
// backing off (it failed while the peer was away) reconnects at once when
// its main link is ready, so a peer back from a restart is not refused by
// its forward link for the rest of a backoff after its main link is up.
//
// Not thread safe; runs on the loop of the clients.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/peer/client.h"

namespace shoal::cluster {

inline constexpr std::string_view kBarrierCommand = "SHOAL.BARRIER";

class ForwardLinks {
 public:
  // `options` are the main links' (the forward links authenticate alike).
  ForwardLinks(uv_loop_t* loop, PeerClientOptions options)
      : loop_(loop), options_(std::move(options)) {}

  // Sends `argv` to the peer `id` whose main link is `main`, on that peer's
  // forward link (made on first use, at main's address), after the
  // commands sent there before it and, if `ordered`, once the barrier rule
  // above allows (the caller knows whether a main-link request it may
  // depend on is in flight). The callback follows PeerCallback's contract.
  void Send(PeerClient& main, const std::string& id, std::vector<std::string> argv,
            int64_t deadline_ms, bool ordered, PeerCallback cb);

  // Closes the forward link of `id` (its main link was replaced or retired);
  // waiting commands fail with kDisconnected.
  void Drop(const std::string& id);
  // Closes every link.
  void Clear();

  size_t size() const { return links_.size(); }

 private:
  struct Waiting {
    std::vector<std::string> argv;
    int64_t deadline_ms = 0;
    PeerCallback cb;
  };
  // Commands waiting for one barrier: those that arrived while main's
  // request count was `made`.
  struct Group {
    uint64_t made = 0;
    std::vector<Waiting> waiting;
  };
  struct Link {
    std::unique_ptr<PeerClient> client;
    std::deque<Group> groups;  // in barrier order; the main link answers in order
    uint64_t generation = 0;   // tells a dropped link's barriers from this one's
  };

  Link& LinkFor(PeerClient& main, const std::string& id);
  // Sends the first group's commands; `peer_answered`: the barrier's reply
  // came (the peer is up).
  void Release(const std::string& id, uint64_t generation, bool peer_answered);

  uv_loop_t* loop_;
  PeerClientOptions options_;
  std::map<std::string, Link, std::less<>> links_;
  uint64_t generations_ = 0;
  // Links replaced while one of their callbacks may be on the stack:
  // destroyed by Clear().
  std::vector<std::unique_ptr<PeerClient>> retired_;
};

}  // namespace shoal::cluster
