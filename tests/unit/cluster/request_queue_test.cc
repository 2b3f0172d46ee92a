#include "cluster/request_queue.h"

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace shoal::cluster {
namespace {

using Req = std::shared_ptr<Request>;

// A keyed request with `parts` parts, none ready. `ticket` names it in logs.
Req Keyed(uint64_t ticket, size_t parts = 1) {
  auto req = std::make_shared<Request>();
  req->kind = Request::Kind::kKeyed;
  req->ticket = ticket;
  req->parts.resize(parts);
  return req;
}

// A cluster-wide request (no parts: always ready).
Req Barrier(uint64_t ticket) {
  auto req = std::make_shared<Request>();
  req->kind = Request::Kind::kClusterWide;
  req->ticket = ticket;
  return req;
}

void MarkReady(Request& req) {
  for (Part& p : req.parts) p.ready = true;
}

// Records each call as "L<ticket>" / "E<ticket>", checks the callbacks never
// nest, and runs optional hooks the way the dispatcher does (a read that
// completes at once, a reply completed inside Execute).
class FakeRunner final : public RequestQueue::Runner {
 public:
  explicit FakeRunner(RequestQueue& q) : q_(q) {}

  void Launch(const Req& req) override {
    Enter();
    CHECK(req->launched);  // the queue marks it before calling
    log.push_back("L" + std::to_string(req->ticket));
    if (on_launch) on_launch(req);
    --depth_;
  }
  void Execute(const Req& req) override {
    Enter();
    CHECK(req->Ready());
    log.push_back("E" + std::to_string(req->ticket));
    executed.push_back(req);
    if (on_execute) on_execute(req);
    --depth_;
  }

  // Answers an executed request, then pumps, as Dispatcher::MaybeComplete.
  void Answer(const Req& req) {
    req->completed = true;
    q_.Answered(*req);
    q_.Pump(*this);
  }
  void Pump() { q_.Pump(*this); }
  std::string Log() const {
    std::string out;
    for (const std::string& s : log) out += (out.empty() ? "" : " ") + s;
    return out;
  }

  std::vector<std::string> log;
  std::vector<Req> executed;
  std::function<void(const Req&)> on_launch;
  std::function<void(const Req&)> on_execute;
  int max_depth = 0;

 private:
  void Enter() {
    ++depth_;
    if (depth_ > max_depth) max_depth = depth_;
  }

  RequestQueue& q_;
  int depth_ = 0;
};

TEST_CASE("RequestQueue: a pipeline's fan-outs all launch at once") {
  RequestQueue q;
  FakeRunner r(q);
  std::vector<Req> reqs = {Keyed(1), Keyed(2, 3), Keyed(3)};
  for (const Req& req : reqs) q.Push(req);
  r.Pump();
  CHECK(r.Log() == "L1 L2 L3");
  CHECK(q.waiting() == 3);
  CHECK(q.unanswered() == 0);
  for (const Req& req : reqs) CHECK(req->launched);
  // Pumping again launches nothing twice.
  r.Pump();
  CHECK(r.Log() == "L1 L2 L3");
  // A later arrival launches on its own Pump, behind the others.
  q.Push(Keyed(4));
  r.Pump();
  CHECK(r.Log() == "L1 L2 L3 L4");
}

TEST_CASE("RequestQueue: execution is in arrival order; a not-ready head holds the rest") {
  RequestQueue q;
  FakeRunner r(q);
  std::vector<Req> reqs = {Keyed(1), Keyed(2, 2), Keyed(3)};
  for (const Req& req : reqs) q.Push(req);
  r.Pump();
  MarkReady(*reqs[2]);
  r.Pump();
  MarkReady(*reqs[1]);
  r.Pump();
  CHECK(r.Log() == "L1 L2 L3");  // 2 and 3 are ready, but 1 is not
  CHECK(q.waiting() == 3);

  SUBCASE("a request with one part ready is not ready") {
    reqs[1]->parts[1].ready = false;
    MarkReady(*reqs[0]);
    r.Pump();
    CHECK(r.Log() == "L1 L2 L3 E1");
    reqs[1]->parts[1].ready = true;
    r.Pump();
    CHECK(r.Log() == "L1 L2 L3 E1 E2 E3");
  }
  SUBCASE("the head's readiness releases every ready one behind it") {
    MarkReady(*reqs[0]);
    r.Pump();
    CHECK(r.Log() == "L1 L2 L3 E1 E2 E3");
    CHECK(q.waiting() == 0);
    CHECK(q.unanswered() == 3);
    // Answers may come in any order.
    r.Answer(reqs[1]);
    r.Answer(reqs[2]);
    CHECK(q.unanswered() == 1);
    r.Answer(reqs[0]);
    CHECK(q.idle());
  }
}

TEST_CASE("RequestQueue: a cluster-wide request is a barrier") {
  RequestQueue q;
  FakeRunner r(q);
  Req k1 = Keyed(1), b2 = Barrier(2), k3 = Keyed(3);
  q.Push(k1);
  q.Push(b2);
  q.Push(k3);
  r.Pump();
  CHECK(r.Log() == "L1");  // nothing behind the barrier launches
  CHECK_FALSE(b2->launched);
  CHECK_FALSE(k3->launched);

  MarkReady(*k1);
  r.Pump();
  CHECK(r.Log() == "L1 E1");  // 1 executed but unanswered: the barrier waits
  CHECK_FALSE(b2->launched);
  CHECK(q.busy());
  CHECK_FALSE(q.barrier());

  r.Answer(k1);  // pumps
  CHECK(r.Log() == "L1 E1 L2 E2");
  CHECK(q.barrier());
  CHECK(q.busy());
  CHECK(q.unanswered() == 1);
  CHECK_FALSE(k3->launched);

  // Arrivals while the barrier runs wait too.
  Req k4 = Keyed(4);
  q.Push(k4);
  r.Pump();
  CHECK(r.Log() == "L1 E1 L2 E2");

  r.Answer(b2);
  CHECK_FALSE(q.barrier());
  CHECK(r.Log() == "L1 E1 L2 E2 L3 L4");
  MarkReady(*k4);
  MarkReady(*k3);
  r.Pump();
  CHECK(r.Log() == "L1 E1 L2 E2 L3 L4 E3 E4");
  r.Answer(k3);
  r.Answer(k4);
  CHECK(q.idle());
  CHECK_FALSE(q.busy());
}

TEST_CASE("RequestQueue: a serial keyed request (EXEC) waits for its reads with nothing behind") {
  RequestQueue q;
  FakeRunner r(q);
  Req k1 = Keyed(1), s2 = Keyed(2), k3 = Keyed(3);
  s2->hooks.serial = true;
  q.Push(k1);
  q.Push(s2);
  q.Push(k3);
  r.Pump();
  CHECK(r.Log() == "L1");
  MarkReady(*k1);
  r.Pump();
  r.Answer(k1);
  // At the head with everything before it answered: it launches (its reads
  // start), and what is behind it does not, not even its fan-out.
  CHECK(r.Log() == "L1 E1 L2");
  CHECK_FALSE(k3->launched);
  MarkReady(*s2);
  r.Pump();
  CHECK(r.Log() == "L1 E1 L2 E2");
  CHECK_FALSE(k3->launched);
  r.Answer(s2);
  CHECK(r.Log() == "L1 E1 L2 E2 L3");
}

TEST_CASE("RequestQueue: a barrier on an idle queue runs at once; barriers run one by one") {
  RequestQueue q;
  FakeRunner r(q);
  Req b1 = Barrier(1), b2 = Barrier(2), k3 = Keyed(3);
  q.Push(b1);
  q.Push(b2);
  q.Push(k3);
  r.Pump();
  CHECK(r.Log() == "L1 E1");
  r.Answer(b1);
  CHECK(r.Log() == "L1 E1 L2 E2");
  r.Answer(b2);
  CHECK(r.Log() == "L1 E1 L2 E2 L3");
}

TEST_CASE("RequestQueue: keyed requests between barriers overlap, and stop at the next") {
  RequestQueue q;
  FakeRunner r(q);
  Req k1 = Keyed(1), k2 = Keyed(2), b3 = Barrier(3), k4 = Keyed(4);
  for (const Req& req : {k1, k2, b3, k4}) q.Push(req);
  r.Pump();
  CHECK(r.Log() == "L1 L2");
  MarkReady(*k1);
  MarkReady(*k2);
  r.Pump();
  CHECK(r.Log() == "L1 L2 E1 E2");
  r.Answer(k2);
  CHECK(r.Log() == "L1 L2 E1 E2");  // 1 is still unanswered
  r.Answer(k1);
  CHECK(r.Log() == "L1 L2 E1 E2 L3 E3");
  CHECK_FALSE(k4->launched);
}

TEST_CASE("RequestQueue: Pump from inside Launch and Execute is folded") {
  RequestQueue q;
  FakeRunner r(q);
  int launch_pumps = 0, execute_pumps = 0;
  // Every read completes at once, inside Launch; every reply is complete
  // inside Execute (a local command), as the dispatcher may do.
  r.on_launch = [&](const Req& req) {
    MarkReady(*req);
    ++launch_pumps;
    r.Pump();
  };
  r.on_execute = [&](const Req& req) {
    ++execute_pumps;
    r.Answer(req);
  };
  std::vector<Req> reqs = {Keyed(1), Keyed(2), Barrier(3), Keyed(4), Barrier(5), Keyed(6)};
  for (const Req& req : reqs) q.Push(req);
  r.Pump();
  CHECK(r.Log() == "L1 E1 L2 E2 L3 E3 L4 E4 L5 E5 L6 E6");
  CHECK(r.max_depth == 1);  // no Launch or Execute inside another
  CHECK(launch_pumps == 6);
  CHECK(execute_pumps == 6);
  CHECK(q.idle());
  CHECK_FALSE(q.busy());
  CHECK_FALSE(q.barrier());
}

TEST_CASE("RequestQueue: a read completing inside Launch lets the head run in the same Pump") {
  RequestQueue q;
  FakeRunner r(q);
  Req k1 = Keyed(1), k2 = Keyed(2), k3 = Keyed(3);
  r.on_launch = [&](const Req& req) {
    if (req == k2) {
      MarkReady(*k1);  // an earlier read lands while 2 launches
      r.Pump();
    }
  };
  for (const Req& req : {k1, k2, k3}) q.Push(req);
  r.Pump();
  // The folded Pump ran after the outer one finished launching.
  CHECK(r.Log() == "L1 L2 L3 E1");
  CHECK(r.max_depth == 1);
  CHECK(q.waiting() == 2);
}

TEST_CASE("RequestQueue: idle and busy") {
  RequestQueue q;
  FakeRunner r(q);
  CHECK(q.idle());
  CHECK_FALSE(q.busy());

  Req k1 = Keyed(1);
  q.Push(k1);
  CHECK_FALSE(q.idle());
  CHECK(q.busy());  // waiting, even before a Pump
  r.Pump();
  CHECK(q.busy());
  MarkReady(*k1);
  r.Pump();
  // Executed, unanswered: not idle (replies pending), but a new keyed
  // command need not queue behind it.
  CHECK_FALSE(q.idle());
  CHECK_FALSE(q.busy());
  r.Answer(k1);
  CHECK(q.idle());
  CHECK_FALSE(q.busy());

  Req b2 = Barrier(2);
  q.Push(b2);
  r.Pump();
  CHECK(q.waiting() == 0);
  CHECK_FALSE(q.idle());
  CHECK(q.busy());  // a barrier in flight: everything queues
  r.Answer(b2);
  CHECK(q.idle());
  CHECK_FALSE(q.busy());
}

// Random pipelines of keyed and cluster-wide requests with random readiness,
// answer order and re-entrancy; the callbacks check the queue's rules.
TEST_CASE("RequestQueue property: order, once-only, and barriers hold") {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };

    RequestQueue q;
    FakeRunner r(q);
    const size_t n = 1 + rng() % 30;
    std::vector<Req> reqs;
    for (size_t i = 0; i < n; ++i) {
      reqs.push_back(chance(20) ? Barrier(i) : Keyed(i, 1 + rng() % 3));
    }
    size_t pushed = 0;
    std::vector<int> launches(n, 0), executions(n, 0);
    std::vector<bool> answered(n, false);
    size_t next_execution = 0;
    const int sync_read = static_cast<int>(rng() % 50);
    const int sync_answer = static_cast<int>(rng() % 50);

    auto earlier_all_answered = [&](size_t id) {
      for (size_t j = 0; j < id; ++j) {
        if (!answered[j]) return false;
      }
      return true;
    };
    auto no_unanswered_barrier_before = [&](size_t id) {
      for (size_t j = 0; j < id; ++j) {
        if (reqs[j]->barrier() && !answered[j]) return false;
      }
      return true;
    };

    r.on_launch = [&](const Req& req) {
      const size_t id = req->ticket;
      CHECK(id < pushed);
      CHECK(++launches[id] == 1);
      CHECK(no_unanswered_barrier_before(id));
      if (req->barrier()) CHECK(earlier_all_answered(id));
      if (chance(sync_read)) {
        MarkReady(*req);
        r.Pump();
      }
    };
    r.on_execute = [&](const Req& req) {
      const size_t id = req->ticket;
      CHECK(id == next_execution++);
      CHECK(launches[id] == 1);
      CHECK(++executions[id] == 1);
      CHECK(no_unanswered_barrier_before(id));
      if (req->barrier()) {
        CHECK(earlier_all_answered(id));
        CHECK(q.unanswered() == 1);  // itself
        CHECK(q.barrier());
      }
      if (chance(sync_answer)) {
        answered[id] = true;
        r.Answer(req);
      }
    };

    auto done = [&] {
      if (pushed < n) return false;
      for (bool a : answered) {
        if (!a) return false;
      }
      return true;
    };
    int steps = 0;
    while (!done() && steps < 100'000) {
      ++steps;
      switch (rng() % 3) {
        case 0:  // an arrival
          if (pushed < n) {
            q.Push(reqs[pushed++]);
            r.Pump();
          }
          break;
        case 1: {  // one part's read lands
          std::vector<Part*> pending;
          for (size_t i = 0; i < pushed; ++i) {
            if (!reqs[i]->launched) continue;
            for (Part& p : reqs[i]->parts) {
              if (!p.ready) pending.push_back(&p);
            }
          }
          if (pending.empty()) break;
          pending[rng() % pending.size()]->ready = true;
          r.Pump();
          break;
        }
        case 2: {  // a reply completes, in any order
          std::vector<size_t> open;
          for (size_t i = 0; i < pushed; ++i) {
            if (executions[i] == 1 && !answered[i]) open.push_back(i);
          }
          if (open.empty()) break;
          const size_t id = open[rng() % open.size()];
          answered[id] = true;
          r.Answer(reqs[id]);
          break;
        }
      }
      // Parts of requests not launched were never made ready by anyone.
      for (size_t i = 0; i < pushed; ++i) {
        if (!reqs[i]->launched) CHECK(launches[i] == 0);
      }
    }
    REQUIRE(done());
    CHECK(next_execution == n);
    for (size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK(launches[i] == 1);
      CHECK(executions[i] == 1);
    }
    CHECK(r.max_depth == 1);
    CHECK(q.idle());
    CHECK_FALSE(q.busy());
    CHECK_FALSE(q.barrier());
  }
}

}  // namespace
}  // namespace shoal::cluster
