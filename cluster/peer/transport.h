#pragma once
// PeerTransport: how the coordinator reaches other nodes. The running node
// implements it over its peer links (cluster/peer/link_transport.h: the
// ClusterNode's clients plus a PeerBatcher); tests implement it with a fake
// that answers, loses or delays requests as the case needs.
//
// Every callback follows PeerCallback's contract (cluster/peer/client.h):
// once with late=false (a reply, a timeout, a failure), and once more with
// late=true if a timed-out request's reply came afterwards. Callbacks may run
// before the call returns (no link to that node).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/peer/client.h"
#include "cluster/ring.h"

namespace shoal::cluster {

class PeerTransport {
 public:
  virtual ~PeerTransport() = default;

  // One small item of a frame batched per node and iteration
  // (SHOAL.MGET key digest, SHOAL.MPUT key object).
  virtual void Batch(const NodeId& to, std::string_view command, std::vector<std::string> args,
                     int64_t deadline_ms, PeerCallback cb) = 0;
  // A whole frame, sent after whatever is batched for `to` (SHOAL.FWD).
  virtual void Send(const NodeId& to, std::vector<std::string> argv, int64_t deadline_ms,
                    PeerCallback cb) = 0;
  // Send for a forwarded command (SHOAL.FWD), whose reply waits for the
  // remote coordinator: the running node keeps such frames off the link
  // that carries replica requests (cluster/peer/forward_links.h).
  // `ordered`: it must also follow the requests sent to `to` before it.
  virtual void SendForward(const NodeId& to, std::vector<std::string> argv, int64_t deadline_ms,
                           bool ordered, PeerCallback cb) {
    (void)ordered;
    Send(to, std::move(argv), deadline_ms, std::move(cb));
  }
  // Sends what is batched now.
  virtual void Flush() = 0;
  // The clock deadlines are given in (uv_now's milliseconds).
  virtual int64_t NowMs() const = 0;
};

}  // namespace shoal::cluster
