#include "server/command_stats.h"

#include <doctest/doctest.h>

namespace shoal::server {
namespace {

TEST_CASE("CommandStats: calls, usec, rejected and failed calls in Redis's line format") {
  CommandStats s;
  s.Record("get", 3, false);
  s.Record("get", 5, true);
  s.Reject("get");
  s.Reject("set");  // refused before it ever ran
  s.Record("client|list", 10, false);
  CHECK(s.all().at("get").calls == 2);
  CHECK(s.all().at("get").usec == 8);
  CHECK(s.all().at("get").failed_calls == 1);
  CHECK(s.all().at("get").rejected_calls == 1);
  CHECK(s.CommandstatsLines() ==
        "cmdstat_client|list:calls=1,usec=10,usec_per_call=10.00,rejected_calls=0,failed_calls=0"
        "\r\n"
        "cmdstat_get:calls=2,usec=8,usec_per_call=4.00,rejected_calls=1,failed_calls=1\r\n"
        "cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n");
  // A command never run has no latency line.
  CHECK(s.LatencystatsLines() ==
        "latency_percentiles_usec_client|list:p50=10.000,p99=10.000,p99.9=10.000\r\n"
        "latency_percentiles_usec_get:p50=3.000,p99=5.000,p99.9=5.000\r\n");
  s.Reset();
  CHECK(s.all().empty());
  CHECK(s.CommandstatsLines().empty());
}

TEST_CASE("LatencyHistogram: percentiles within an eighth of the value") {
  LatencyHistogram h;
  CHECK(h.Percentile(50) == 0);
  for (uint64_t v = 1; v <= 1000; ++v) h.Add(v);
  CHECK(h.count() == 1000);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    CAPTURE(p);
    double exact = p * 10;
    double got = h.Percentile(p);
    CHECK(got >= exact);
    CHECK(got <= exact * 1.125 + 1);
  }
  CHECK(h.Percentile(100) == 1000);  // never above the largest value
  LatencyHistogram big;
  big.Add(UINT64_MAX / 2);
  big.Add(0);
  CHECK(big.Percentile(50) == 0);
  CHECK(big.Percentile(100) > 0);
}

}  // namespace
}  // namespace shoal::server
