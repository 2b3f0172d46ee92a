#include "cluster/advertised_host.h"

#include <utility>

#include "facade/net_address.h"

namespace shoal::cluster {

AdvertisedHost::AdvertisedHost(std::string initial, bool learn)
    : host_(std::move(initial)), learn_(learn) {}

AdvertisedHost::Offer AdvertisedHost::Consider(std::string_view candidate) {
  if (!learn_ || !facade::IsNumericAddress(candidate) || facade::IsWildcardAddress(candidate) ||
      facade::IsLinkLocalAddress(candidate)) {
    return Offer::kIgnored;
  }
  const bool candidate_loopback = facade::IsLoopbackAddress(candidate);
  if (learnt_ && (candidate_loopback || !facade::IsLoopbackAddress(host_))) {
    return Offer::kIgnored;
  }
  learnt_ = true;
  if (candidate == host_) return Offer::kConfirmed;
  host_ = std::string(candidate);
  return Offer::kAdopted;
}

}  // namespace shoal::cluster
