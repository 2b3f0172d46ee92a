#include "cluster/peer/forward_links.h"

#include <utility>

namespace shoal::cluster {

ForwardLinks::Link& ForwardLinks::LinkFor(PeerClient& main, const std::string& id) {
  Link& link = links_[id];
  if (link.generation == 0) link.generation = ++generations_;
  if (link.client != nullptr &&
      (link.client->host() != main.host() || link.client->port() != main.port())) {
    // The peer moved: a new link at its new address.
    retired_.push_back(std::move(link.client));
  }
  if (link.client == nullptr) {
    PeerClientEvents events;  // the main link reports the peer's state
    link.client =
        std::make_unique<PeerClient>(loop_, main.host(), main.port(), options_, std::move(events));
    link.client->Start();
  }
  return link;
}

void ForwardLinks::Send(PeerClient& main, const std::string& id, std::vector<std::string> argv,
                        int64_t deadline_ms, bool ordered, PeerCallback cb) {
  Link& link = LinkFor(main, id);
  // The callers pick peers by the main link's state: a forward link still
  // backing off from the peer's absence must not refuse what main accepts.
  if (main.ready()) link.client->RetryNow();
  if (link.groups.empty() && (!ordered || main.inflight() == 0)) {
    // Nothing it must follow is still on its way.
    return link.client->Send(std::move(argv), deadline_ms, std::move(cb));
  }
  const uint64_t made = main.requests_made();
  if (!link.groups.empty() && (!ordered || link.groups.back().made == made)) {
    // Behind the forwarded commands waiting already; the last barrier
    // follows every main-link request made so far, or it needs none.
    link.groups.back().waiting.push_back({std::move(argv), deadline_ms, std::move(cb)});
    return;
  }
  link.groups.push_back(Group{made + 1, {}});
  link.groups.back().waiting.push_back({std::move(argv), deadline_ms, std::move(cb)});
  // Whatever its outcome, everything before it has its own now: the group
  // goes (a lost main link loses nothing a forwarded command could wait for).
  main.Send(
      {std::string(kBarrierCommand)}, deadline_ms,
      [this, id, generation = link.generation](PeerOutcome outcome, const PeerReply*, bool late) {
        if (!late) Release(id, generation, outcome == PeerOutcome::kReply);
      });
}

void ForwardLinks::Release(const std::string& id, uint64_t generation, bool peer_answered) {
  auto it = links_.find(id);
  if (it == links_.end() || it->second.generation != generation || it->second.groups.empty()) {
    return;  // dropped meanwhile: its commands were failed then
  }
  if (peer_answered) it->second.client->RetryNow();
  std::vector<Waiting> ready = std::move(it->second.groups.front().waiting);
  it->second.groups.pop_front();
  for (Waiting& w : ready) {
    // A callback run by a Send may have dropped the link.
    auto now = links_.find(id);
    if (now == links_.end() || now->second.generation != generation) {
      w.cb(PeerOutcome::kDisconnected, nullptr, false);
      continue;
    }
    now->second.client->Send(std::move(w.argv), w.deadline_ms, std::move(w.cb));
  }
}

void ForwardLinks::Drop(const std::string& id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  Link link = std::move(it->second);
  links_.erase(it);
  if (link.client != nullptr) retired_.push_back(std::move(link.client));
  for (Group& g : link.groups) {
    for (Waiting& w : g.waiting) w.cb(PeerOutcome::kDisconnected, nullptr, false);
  }
}

void ForwardLinks::Clear() {
  while (!links_.empty()) Drop(links_.begin()->first);
  retired_.clear();
}

}  // namespace shoal::cluster
