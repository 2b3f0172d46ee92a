#include "cluster/peer/batcher.h"

#include <algorithm>

namespace shoal::cluster {

PeerBatcher::PeerBatcher(uv_loop_t* loop, ClusterNode& node) : loop_(loop), node_(node) {
  int rc = check_.Init(loop_, this);
  if (rc == 0) rc = uv_check_start(check_.get(), &PeerBatcher::OnCheck);
  if (rc == 0) rc = idle_.Init(loop_, this);
  if (rc != 0) {
    // Without both handles nothing would send a frame at the end of the
    // iteration: every item goes out on its own instead.
    node_.Log(LogSeverity::kWarning,
              std::string("peer batching disabled, libuv refused its handles: ") + uv_strerror(rc));
    check_.reset();
    idle_.reset();
    return;
  }
  // Unreferenced: pending frames must not keep a finished loop alive.
  uv_unref(check_.handle());
  batching_ = true;
}

PeerBatcher::~PeerBatcher() {
  Close();
}

void PeerBatcher::Close() {
  Flush();
  // From here on every item goes out on its own (nothing would send a
  // batch); libuv frees the handles' memory in their close callbacks.
  batching_ = false;
  idle_active_ = false;
  check_.reset();
  idle_.reset();
}

void PeerBatcher::Add(const NodeId& peer, std::string_view command, std::vector<std::string> args,
                      int64_t deadline_ms, PeerCallback cb) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Frame& f) { return f.peer == peer && f.command == command; });
  if (it == pending_.end()) {
    Frame f;
    f.peer = peer;
    f.command = std::string(command);
    f.argv.push_back(f.command);
    f.deadline_ms = deadline_ms;
    pending_.push_back(std::move(f));
    it = pending_.end() - 1;
  }
  for (std::string& a : args) {
    it->bytes += a.size();
    it->argv.push_back(std::move(a));
  }
  it->callbacks.push_back(std::move(cb));
  if (!batching_ || it->callbacks.size() >= kMaxItems || it->bytes >= kMaxBytes) {
    Frame full = std::move(*it);
    pending_.erase(it);
    Send(std::move(full));
  }
  if (!pending_.empty() && !idle_active_) {
    // Keep uv_run from blocking in poll until the check handle sent them.
    if (const int rc = uv_idle_start(idle_.get(), [](uv_idle_t*) noexcept {}); rc != 0) {
      // The frames could wait in a blocked poll for as long as the loop sleeps.
      node_.Log(
          LogSeverity::kWarning,
          std::string("peer batch sent early, cannot start its idle handle: ") + uv_strerror(rc));
      Flush();
      return;
    }
    idle_active_ = true;
  }
}

void PeerBatcher::OnCheck(uv_check_t* handle) noexcept {
  static_cast<PeerBatcher*>(handle->data)->Flush();
}

void PeerBatcher::Flush() {
  if (idle_active_) {
    // uv_idle_stop always returns 0 (it only unlinks an active handle).
    (void)uv_idle_stop(idle_.get());
    idle_active_ = false;
  }
  // Sending may run callbacks that add items: take the list first.
  std::vector<Frame> frames;
  frames.swap(pending_);
  for (Frame& f : frames) Send(std::move(f));
}

void PeerBatcher::Send(Frame frame) {
  auto callbacks = std::make_shared<std::vector<PeerCallback>>(std::move(frame.callbacks));
  node_.Send(frame.peer, std::move(frame.argv), frame.deadline_ms,
             [callbacks](PeerOutcome outcome, const PeerReply* reply, bool late) {
               auto& cbs = *callbacks;
               if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kArray &&
                   reply->elements.size() == cbs.size()) {
                 for (size_t i = 0; i < cbs.size(); ++i) cbs[i](outcome, &reply->elements[i], late);
                 return;
               }
               // The frame as a whole failed or was refused.
               for (auto& cb : cbs)
                 cb(outcome, outcome == PeerOutcome::kReply ? reply : nullptr, late);
             });
}

}  // namespace shoal::cluster
