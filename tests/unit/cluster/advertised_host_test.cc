#include "cluster/advertised_host.h"

#include <doctest/doctest.h>

namespace shoal::cluster {
namespace {

using Offer = AdvertisedHost::Offer;

TEST_CASE("advertised_host: a fixed host never changes") {
  AdvertisedHost h("203.0.113.7", /*learn=*/false);
  CHECK(h.Consider("10.0.0.2") == Offer::kIgnored);
  CHECK(h.Consider("203.0.113.7") == Offer::kIgnored);
  CHECK(h.host() == "203.0.113.7");
  CHECK_FALSE(h.learnt());
}

TEST_CASE("advertised_host: the first address seen is adopted, later ones ignored") {
  AdvertisedHost h("192.168.1.5", /*learn=*/true);
  CHECK_FALSE(h.learnt());
  CHECK(h.Consider("10.77.0.3") == Offer::kAdopted);
  CHECK(h.host() == "10.77.0.3");
  CHECK(h.learnt());
  // A multi-homed node does not flap between its interfaces.
  CHECK(h.Consider("192.168.1.5") == Offer::kIgnored);
  CHECK(h.Consider("10.77.0.3") == Offer::kIgnored);
  CHECK(h.Consider("127.0.0.1") == Offer::kIgnored);
  CHECK(h.host() == "10.77.0.3");
}

TEST_CASE("advertised_host: a right guess is confirmed once") {
  AdvertisedHost h("10.77.0.1", /*learn=*/true);
  CHECK(h.Consider("10.77.0.1") == Offer::kConfirmed);
  CHECK(h.Consider("10.77.0.1") == Offer::kIgnored);
  CHECK(h.host() == "10.77.0.1");
}

TEST_CASE("advertised_host: a real address replaces a loopback one, not the reverse") {
  AdvertisedHost h("127.0.0.1", /*learn=*/true);
  // A peer on this machine connected over loopback first.
  CHECK(h.Consider("127.0.0.1") == Offer::kConfirmed);
  CHECK(h.Consider("::1") == Offer::kIgnored);
  CHECK(h.Consider("10.0.0.9") == Offer::kAdopted);
  CHECK(h.host() == "10.0.0.9");
  CHECK(h.Consider("127.0.0.1") == Offer::kIgnored);
  CHECK(h.Consider("10.0.0.10") == Offer::kIgnored);

  AdvertisedHost g("127.0.0.1", /*learn=*/true);
  CHECK(g.Consider("127.0.0.3") == Offer::kAdopted);
  CHECK(g.Consider("2001:db8::4") == Offer::kAdopted);
  CHECK(g.host() == "2001:db8::4");
}

TEST_CASE("advertised_host: wildcards, link-local and non-addresses are never adopted") {
  AdvertisedHost h("10.0.0.1", /*learn=*/true);
  for (const char* bad : {"0.0.0.0", "::", "", "localhost", "node-a", "10.0.0.2:7000", "[::1]",
                          "fe80::1", "169.254.7.7"}) {
    CAPTURE(bad);
    CHECK(h.Consider(bad) == Offer::kIgnored);
  }
  CHECK(h.host() == "10.0.0.1");
  CHECK_FALSE(h.learnt());
}

}  // namespace
}  // namespace shoal::cluster
