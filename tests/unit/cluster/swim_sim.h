#pragma once
// A deterministic simulated network of FailureDetectors for the failure
// detector's tests: a 1 ms step clock, per-message loss and delay, cut links
// (one-way or both ways), crashed nodes (neither tick nor answer; messages to
// them are lost) and paused nodes (neither tick nor answer; messages to them
// wait in the "kernel" and are delivered on resume, as TCP would). Every
// message goes through EncodeSwimMessage/DecodeSwimMessage. Each node ticks
// when its NextDeadlineMs() is due. Everything random comes from one seed.

#include <cstdint>
#include <cstdio>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/failure_detector.h"
#include "cluster/swim_message.h"

namespace shoal::cluster::sim {

inline NodeId SimNodeId(int i) {
  char buf[41];
  std::snprintf(buf, sizeof(buf), "%032x%08x", 0xabcdefu, static_cast<unsigned>(i));
  return NodeId(buf);
}

struct SimOptions {
  int nodes = 5;
  int64_t node_timeout_ms = 5000;
  int64_t gossip_interval_ms = 200;
  double loss = 0.0;         // probability a message is lost
  int64_t min_delay_ms = 1;  // one-way delay, uniform in [min, max]
  int64_t max_delay_ms = 10;
  uint64_t seed = 1;
};

// One observed state change: `observer` now holds `subject` in `to`.
struct SimChange {
  int64_t at_ms;
  int observer;
  int subject;
  MemberState to;
};

class SwimSim {
 public:
  explicit SwimSim(const SimOptions& o) : o_(o), rng_(o.seed) {
    const auto params =
        FailureDetectorParams::FromSettings(o.node_timeout_ms, o.gossip_interval_ms);
    for (int i = 0; i < o.nodes; ++i) {
      index_[SimNodeId(i)] = i;
      nodes_.push_back(
          Node{FailureDetector(SimNodeId(i), 1, params, o.seed * 1000 + i, 0), false, false, {}});
    }
    for (int i = 0; i < o.nodes; ++i) {
      for (int j = 0; j < o.nodes; ++j) {
        if (i != j) nodes_[i].fd.AddMember(SimNodeId(j), 1, 0);
      }
      Drain(i);
    }
  }

  int64_t now() const { return now_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  FailureDetector& fd(int i) { return nodes_[i].fd; }
  const std::vector<SimChange>& changes() const { return changes_; }
  uint64_t messages() const { return messages_; }
  uint64_t bytes() const { return bytes_; }
  bool running(int i) const { return !nodes_[i].crashed && !nodes_[i].paused; }

  void Crash(int i) { nodes_[i].crashed = true; }
  void Pause(int i) { nodes_[i].paused = true; }
  void Resume(int i) {
    nodes_[i].paused = false;
    for (auto& [from, bytes] : nodes_[i].held) Deliver(from, i, bytes);
    nodes_[i].held.clear();
  }
  void set_loss(double loss) { o_.loss = loss; }
  void CutOneWay(int from, int to) { cut_.insert({from, to}); }
  void Cut(int a, int b) { CutOneWay(a, b), CutOneWay(b, a); }
  void Heal() { cut_.clear(); }

  // Advances the clock to `until_ms`, 1 ms at a time.
  void RunUntil(int64_t until_ms) {
    while (now_ < until_ms) {
      ++now_;
      while (!wire_.empty() && wire_.top().at <= now_) {
        InFlight m = wire_.top();
        wire_.pop();
        Node& to = nodes_[m.to];
        if (to.crashed) continue;
        if (to.paused) {
          to.held.emplace_back(m.from, std::move(m.bytes));
          continue;
        }
        Deliver(m.from, m.to, m.bytes);
      }
      for (int i = 0; i < size(); ++i) {
        if (!running(i) || now_ < nodes_[i].fd.NextDeadlineMs()) continue;
        nodes_[i].fd.Tick(now_);
        Drain(i);
      }
    }
  }
  void RunFor(int64_t ms) { RunUntil(now_ + ms); }

  // True if every running node but `subject` holds it in `state`.
  bool AllRunningSee(int subject, MemberState state) {
    for (int i = 0; i < size(); ++i) {
      if (i == subject || !running(i)) continue;
      if (nodes_[i].fd.Find(SimNodeId(subject))->state != state) return false;
    }
    return true;
  }

 private:
  struct Node {
    FailureDetector fd;
    bool crashed = false;
    bool paused = false;
    std::vector<std::pair<int, std::string>> held;
  };
  struct InFlight {
    int64_t at;
    uint64_t order;
    int from;
    int to;
    std::string bytes;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  double Uniform() { return static_cast<double>(rng_() >> 11) / 9007199254740992.0; }

  void Deliver(int from, int to, const std::string& bytes) {
    auto decoded = DecodeSwimMessage(bytes);
    if (!decoded.ok()) {
      ++decode_failures_;
      return;
    }
    nodes_[to].fd.OnMessage(SimNodeId(from), decoded.value(), now_);
    Drain(to);
  }

  void Drain(int i) {
    for (SwimOutgoing& out : nodes_[i].fd.TakeOutbox()) {
      const int to = index_.at(out.to);
      std::string bytes = EncodeSwimMessage(out.message);
      ++messages_;
      bytes_ += bytes.size();
      if (cut_.count({i, to}) > 0 || Uniform() < o_.loss) continue;
      const int64_t span = o_.max_delay_ms - o_.min_delay_ms + 1;
      const int64_t delay = o_.min_delay_ms + static_cast<int64_t>(rng_() % span);
      wire_.push(InFlight{now_ + delay, ++order_, i, to, std::move(bytes)});
    }
    for (const MemberStateChange& c : nodes_[i].fd.TakeStateChanges()) {
      changes_.push_back(SimChange{c.at_ms, i, index_.at(c.node), c.to});
    }
  }

 public:
  uint64_t decode_failures_ = 0;

 private:
  SimOptions o_;
  std::mt19937_64 rng_;
  std::vector<Node> nodes_;
  std::map<NodeId, int> index_;
  std::set<std::pair<int, int>> cut_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<InFlight>> wire_;
  std::vector<SimChange> changes_;
  int64_t now_ = 0;
  uint64_t order_ = 0;
  uint64_t messages_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace shoal::cluster::sim
