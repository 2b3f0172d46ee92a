#include "server/slowlog.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/latency.h"

namespace shoal::server {
namespace {

using Args = std::vector<std::string>;

TEST_CASE("SlowLog: threshold, newest first, ids, max length") {
  SlowLog log;
  const Args set{"set", "k", "v"};
  log.Capture(set);
  log.Maybe(9, 100, "127.0.0.1:5000", "", /*slower_than_us=*/10, 128);
  CHECK(log.size() == 0);
  log.Capture(set);
  log.Maybe(10, 100, "127.0.0.1:5000", "app", 10, 128);  // >= logs, as Redis
  Args get{"get", "k"};
  log.Capture(get);
  get[1].clear();  // a handler that moves its arguments away changes nothing
  log.Maybe(50, 101, "127.0.0.1:5001", "", 10, 128);
  REQUIRE(log.size() == 2);
  CHECK(log.entries()[0].id == 1);
  CHECK(log.entries()[0].args == Args{"get", "k"});
  CHECK(log.entries()[0].time == 101);
  CHECK(log.entries()[1].id == 0);
  CHECK(log.entries()[1].duration_us == 10);
  CHECK(log.entries()[1].client_name == "app");
  // -1: nothing; 0: everything.
  log.Capture(set);
  log.Maybe(1'000'000, 102, "", "", -1, 128);
  CHECK(log.size() == 2);
  log.Maybe(0, 102, "", "", 0, 128);  // not captured again: nothing
  CHECK(log.size() == 2);
  log.Capture(set);
  log.Maybe(0, 102, "", "", 0, 128);
  CHECK(log.size() == 3);
  CHECK(log.entries()[0].args == set);
  // The oldest go first; ids go on after a reset.
  log.Capture(set);
  log.Maybe(0, 103, "", "", 0, 2);
  CHECK(log.size() == 2);
  CHECK(log.entries()[1].id == 2);
  log.Reset();
  log.Capture(set);
  log.Maybe(0, 104, "", "", 0, 2);
  CHECK(log.entries()[0].id == 4);
  log.Trim(0);
  CHECK(log.size() == 0);
}

TEST_CASE("SlowLog: arguments trimmed as Redis trims them") {
  Args many;
  for (int i = 0; i < 40; ++i) many.push_back("a" + std::to_string(i));
  Args t = SlowLog::TrimArgs(many);
  REQUIRE(t.size() == 32);
  CHECK(t[30] == "a30");
  CHECK(t[31] == "... (9 more arguments)");
  Args exactly(32, "x");
  CHECK(SlowLog::TrimArgs(exactly) == exactly);
  std::string big(200, 'v');
  t = SlowLog::TrimArgs(Args{"set", "k", big});
  CHECK(t[2] == std::string(128, 'v') + "... (72 more bytes)");
  CHECK(SlowLog::TrimArgs(Args{std::string(128, 'w')})[0] == std::string(128, 'w'));
}

TEST_CASE("LatencyMonitor: one sample a second, max kept, 160 samples, reset") {
  LatencyMonitor m;
  m.Add("command", 1000, 5);
  m.Add("command", 1000, 3);  // same second: the larger stays
  m.Add("command", 1000, 8);
  m.Add("command", 1001, 2);
  const auto& ts = m.events().at("command");
  CHECK(ts.max_ms == 8);
  CHECK(ts.latest().time == 1001);
  CHECK(ts.latest().latency_ms == 2);
  auto h = ts.History();
  REQUIRE(h.size() == 2);
  CHECK(h[0].time == 1000);
  CHECK(h[0].latency_ms == 8);
  for (int i = 0; i < 200; ++i) m.Add("command", 2000 + i, 1);
  h = m.events().at("command").History();
  CHECK(h.size() == LatencyMonitor::kSamples);
  CHECK(h.front().time == 2040);  // oldest first
  CHECK(h.back().time == 2199);
  m.Add("fast-command", 5, 1);
  CHECK(m.Reset({"nosuch", "fast-command"}) == 1);
  CHECK(m.Reset({}) == 1);
  CHECK(m.events().empty());
}

}  // namespace
}  // namespace shoal::server
