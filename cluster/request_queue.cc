#include "cluster/request_queue.h"

namespace shoal::cluster {

void RequestQueue::Pump(Runner& runner) {
  // Launching and executing call back (sometimes at once) into Pump: the
  // outer call loops instead.
  if (pumping_) {
    again_ = true;
    return;
  }
  pumping_ = true;
  do {
    again_ = false;
    PumpOnce(runner);
  } while (again_);
  pumping_ = false;
}

void RequestQueue::PumpOnce(Runner& runner) {
  while (!waiting_.empty() && !barrier_) {
    std::shared_ptr<Request> head = waiting_.front();
    if (head->barrier() && unanswered_ > 0) return;
    if (!head->launched) {
      head->launched = true;
      ++launched_;
      runner.Launch(head);
    }
    if (!head->Ready()) break;
    waiting_.pop_front();
    --launched_;
    ++unanswered_;
    if (head->barrier()) barrier_ = true;
    runner.Execute(head);
  }
  if (barrier_) return;
  // A barrier that reads first (a transaction) waits at the head for its
  // reads: nothing behind it starts before it is answered.
  if (!waiting_.empty() && waiting_.front()->barrier() && waiting_.front()->launched) return;
  // Launched ones form a prefix of the queue: start from its end, so a long
  // pipeline costs O(1) per command here.
  while (launched_ < waiting_.size()) {
    std::shared_ptr<Request> req = waiting_[launched_];
    if (req->barrier()) break;
    req->launched = true;
    ++launched_;
    runner.Launch(req);
  }
}

void RequestQueue::Answered(const Request& req) {
  --unanswered_;
  if (req.barrier()) barrier_ = false;
}

}  // namespace shoal::cluster
