#pragma once
// PeerBatcher: coalesces the small per-key requests a coordinator sends to
// one peer during one loop iteration into a single frame per peer and kind,
// e.g. every replica put of an iteration becomes
//   SHOAL.MPUT key1 object1 key2 object2 ...
// and the peer answers one array with an element per item, which is split
// back to the items' callbacks. Under pipelined load this turns hundreds of
// frames (each a hiredis format, a write, a callback) into one; a lone
// request costs nothing more than before, since frames leave at the end of
// the same iteration (a uv_check handle; a uv_idle handle keeps the loop
// from blocking while items wait).
//
// Each item's callback follows PeerCallback's contract (cluster/peer/client.h):
// once with late=false, and again with late=true if the frame timed out and
// its reply came later. A frame-level failure (timeout, disconnect, an error
// reply to the whole frame) reaches every item of the frame.
//
// Runs on the loop thread. The batcher must outlive the frames it sent only
// in the sense that their callbacks hold no reference to it.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/peer/client.h"
#include "facade/uv_handle.h"

namespace shoal::cluster {

class PeerBatcher {
 public:
  // Frames are cut at this many items or bytes; the rest go in another.
  static constexpr size_t kMaxItems = 1024;
  static constexpr size_t kMaxBytes = 4 << 20;

  PeerBatcher(uv_loop_t* loop, ClusterNode& node);
  ~PeerBatcher();
  PeerBatcher(const PeerBatcher&) = delete;
  PeerBatcher& operator=(const PeerBatcher&) = delete;

  // Adds one item: `args` are appended to the frame `command` for `peer`,
  // which is sent at the end of this iteration with `deadline_ms` (that of
  // its first item).
  void Add(const NodeId& peer, std::string_view command, std::vector<std::string> args,
           int64_t deadline_ms, PeerCallback cb);

  // Sends every pending frame now.
  void Flush();
  // Sends what is pending and closes the handles; later items are sent at
  // once, unbatched.
  void Close();

 private:
  struct Frame {
    NodeId peer;
    std::string command;
    std::vector<std::string> argv;
    std::vector<PeerCallback> callbacks;
    size_t bytes = 0;
    int64_t deadline_ms = 0;
  };

  static void OnCheck(uv_check_t* handle) noexcept;
  void Send(Frame frame);

  uv_loop_t* loop_;
  ClusterNode& node_;
  std::vector<Frame> pending_;
  facade::UvHandle<uv_check_t> check_;
  facade::UvHandle<uv_idle_t> idle_;
  bool idle_active_ = false;
  // False if libuv refused the handles: then Add sends every item at once.
  bool batching_ = false;
};

}  // namespace shoal::cluster
