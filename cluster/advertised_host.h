#pragma once
// AdvertisedHost: the host this node puts in its own membership entry, and
// how a node bound to a wildcard address (0.0.0.0, ::) without
// cluster-announce-ip learns it.
//
// Such a node cannot know in advance which of its addresses its peers
// reach: it starts with a guess (facade::GuessHostAddress) and then takes
// the address its authenticated peer connections actually use — the local
// address of an outbound connection once established, or the address an
// inbound peer connected to — as Redis Cluster takes `myself`'s IP from the
// first peer that tells it (clusterProcessPacket, "myip").
//
// The rule, for a learning node:
//   - the first address offered is adopted (kAdopted if it differs from the
//     guess, kConfirmed if the guess was right);
//   - afterwards a loopback address never replaces another one, and a
//     non-loopback address replaces only a loopback one (a node that first
//     met a peer on its own machine over 127.0.0.1 moves to the address
//     remote peers use once one connects);
//   - anything else is ignored, so the advertised host changes at most twice
//     and never flaps between interfaces of a multi-homed node (use
//     cluster-announce-ip there).
// Wildcards, link-local addresses (useless to peers without the scope id a
// membership entry cannot carry), and anything that is not a numeric
// address are never adopted.
//
// A node that does not learn (cluster-announce-ip, or a specific `bind`)
// keeps its host; Offer() ignores everything.
//
// Pure logic. Not thread safe.

#include <string>
#include <string_view>

namespace shoal::cluster {

class AdvertisedHost {
 public:
  enum class Offer { kIgnored, kConfirmed, kAdopted };

  // `initial`: what to advertise until something is learnt (never a
  // wildcard: the caller's guess). `learn`: whether peer connections may
  // change it.
  AdvertisedHost(std::string initial, bool learn);

  const std::string& host() const { return host_; }
  bool learning() const { return learn_; }
  // True once an offered address was adopted or confirmed.
  bool learnt() const { return learnt_; }

  // A local address seen on an authenticated peer connection. kAdopted: it
  // is now host() and differs from before (the caller updates its entry and
  // tells peers); kConfirmed: host() was already right and is now learnt
  // (worth one log line); kIgnored: nothing changed.
  Offer Consider(std::string_view candidate);

 private:
  std::string host_;
  bool learn_;
  bool learnt_ = false;
};

}  // namespace shoal::cluster
