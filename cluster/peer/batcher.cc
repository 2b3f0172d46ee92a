#include "cluster/peer/batcher.h"

#include <algorithm>

namespace shoal::cluster {

PeerBatcher::PeerBatcher(uv_loop_t* loop, ClusterNode& node) : loop_(loop), node_(node) {
  check_ = new uv_check_t;
  uv_check_init(loop_, check_);
  check_->data = this;
  uv_check_start(check_, &PeerBatcher::OnCheck);
  // Unreferenced: pending frames must not keep a finished loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
  idle_ = new uv_idle_t;
  uv_idle_init(loop_, idle_);
  idle_->data = this;
}

PeerBatcher::~PeerBatcher() {
  Close();
}

void PeerBatcher::Close() {
  if (check_ == nullptr) return;
  Flush();
  idle_active_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(check_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_check_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(idle_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_idle_t*>(h); });
  check_ = nullptr;
  idle_ = nullptr;
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
  if (it->callbacks.size() >= kMaxItems || it->bytes >= kMaxBytes) {
    Frame full = std::move(*it);
    pending_.erase(it);
    Send(std::move(full));
  }
  if (check_ == nullptr) {
    Flush();  // closed: nothing would send it later
    return;
  }
  if (!pending_.empty() && !idle_active_) {
    // Keep uv_run from blocking in poll until the check handle sent them.
    uv_idle_start(idle_, [](uv_idle_t*) noexcept {});
    idle_active_ = true;
  }
}

void PeerBatcher::OnCheck(uv_check_t* handle) noexcept {
  static_cast<PeerBatcher*>(handle->data)->Flush();
}

void PeerBatcher::Flush() {
  if (idle_active_) {
    uv_idle_stop(idle_);
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
