// ReplyQueue: replies leave in request order however completions interleave.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "facade/reply_queue.h"

namespace shoal::facade {
namespace {

TEST_CASE("synchronous replies go straight to the output buffer") {
  std::string out;
  ReplyQueue q(&out);
  q.Target()->append("+A\r\n");
  q.Target()->append("+B\r\n");
  CHECK(out == "+A\r\n+B\r\n");
  CHECK(q.outstanding() == 0);
}

TEST_CASE("replies behind a deferred one wait for it") {
  std::string out;
  ReplyQueue q(&out);
  q.Target()->append("1");
  uint64_t a = q.Defer();
  q.Target()->append("3");
  uint64_t b = q.Defer();
  q.Target()->append("5");
  CHECK(out == "1");
  CHECK(q.outstanding() == 2);

  CHECK(q.Complete(b, "4"));  // later one first: still held
  CHECK(out == "1");
  CHECK(q.Complete(a, "2"));
  CHECK(out == "12345");
  CHECK(q.outstanding() == 0);
  CHECK_FALSE(q.Complete(a, "again"));

  q.Target()->append("6");  // back on the fast path
  CHECK(out == "123456");
}

TEST_CASE("random completion orders always release in request order") {
  for (int seed = 0; seed < 50; ++seed) {
    std::string out;
    ReplyQueue q(&out);
    std::vector<uint64_t> tickets;
    std::string want;
    for (int i = 0; i < 20; ++i) {
      char c = static_cast<char>('a' + i);
      want.push_back(c);
      if ((i * 7 + seed) % 3 == 0) {
        q.Target()->push_back(c);
        tickets.push_back(0);
      } else {
        tickets.push_back(q.Defer());
      }
    }
    // Complete deferred ones in a seed-dependent order.
    std::vector<int> order;
    for (int i = 0; i < 20; ++i) order.push_back(i);
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::shuffle(order.begin(), order.end(), rng);
    for (int i : order) {
      if (tickets[static_cast<size_t>(i)] != 0) {
        CHECK(q.Complete(tickets[static_cast<size_t>(i)],
                         std::string(1, static_cast<char>('a' + i))));
      }
    }
    CHECK(out == want);
  }
}

}  // namespace
}  // namespace shoal::facade
