#pragma once
// RequestQueue: one connection's commands in the cluster, kept in the order
// they arrived, and the rules that order them:
//
//   - a command's fan-out (its quorum reads, its forwards) starts as soon as
//     it arrives: a pipeline's reads overlap;
//   - commands run here (execute) one at a time in arrival order, each once
//     its reads are in: a command waiting for its read quorum holds back the
//     ones behind it;
//   - a cluster-wide command is a barrier, as on one server where every
//     command completes before the next starts: it runs once everything
//     before it is answered, and nothing behind it starts (not even its
//     fan-out) until it is answered.
//
// Replies leave in arrival order through the connection's reply queue; this
// class only decides when each command launches and executes. The work is
// the Runner's. Pure logic: no loop, no sockets.

#include <cstddef>
#include <deque>
#include <memory>

#include "cluster/request.h"

namespace shoal::cluster {

class RequestQueue {
 public:
  class Runner {
   public:
    // Starts the request's fan-out. May call Pump again (re-entrancy is safe).
    virtual void Launch(const std::shared_ptr<Request>& req) = 0;
    // Runs the request here; it is answered later, through Answered().
    virtual void Execute(const std::shared_ptr<Request>& req) = 0;

   protected:
    ~Runner() = default;
  };

  // A request arrives (its reply place is reserved by the caller).
  void Push(std::shared_ptr<Request> req) { waiting_.push_back(std::move(req)); }

  // Launches and executes whatever the rules allow now. Calls from inside a
  // Runner callback are folded into the outer call's loop.
  void Pump(Runner& runner);

  // An executed request got its reply.
  void Answered(const Request& req);

  // Nothing waiting and nothing in flight: the connection may run commands
  // inline, as a lone node does.
  bool idle() const { return waiting_.empty() && unanswered_ == 0; }
  // Commands must queue behind the waiting ones or a barrier.
  bool busy() const { return !waiting_.empty() || barrier_; }
  size_t waiting() const { return waiting_.size(); }
  size_t unanswered() const { return unanswered_; }
  bool barrier() const { return barrier_; }

 private:
  void PumpOnce(Runner& runner);

  std::deque<std::shared_ptr<Request>> waiting_;  // not executed yet, in order
  size_t launched_ = 0;    // of waiting_, the first ones whose fan-out started
  size_t unanswered_ = 0;  // executed, reply not complete yet
  bool barrier_ = false;   // a cluster-wide command executed and is not answered
  bool pumping_ = false;   // Pump is running (callbacks may call it again)
  bool again_ = false;     // ... and was called again meanwhile
};

}  // namespace shoal::cluster
