#pragma once
// NodeFixture: a ClusterNode that is never started (a solo member, no
// sockets) over a TestNode's storage, on its own loop, for testing the
// pieces that serve peer frames from a node's state (partition transfer,
// the tombstone reaper). Serve() runs a frame handler and parses its reply
// with the peer channel's reader. Members that use `node` must be destroyed
// before it (reset them in the derived fixture's destructor).

#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <string>
#include <string_view>

#include "cluster/cluster_node.h"
#include "cluster/peer/protocol.h"
#include "facade/reply_builder.h"
#include "storage/clock.h"
#include "tests/unit/cluster/test_ids.h"
#include "tests/unit/cluster/test_node.h"

namespace shoal::cluster::testing {

struct NodeFixture {
  storage::ManualClock clock{1'700'000'000'000};
  uv_loop_t loop;
  TestNode data;
  std::unique_ptr<ClusterNode> node;

  NodeFixture(std::string_view salt, uint32_t partitions) : data(TestNodeId(salt, 0), clock) {
    REQUIRE(uv_loop_init(&loop) == 0);
    ClusterNodeOptions o;
    o.self = MemberInfo{data.id(), "127.0.0.1", 7000, 17000, 1, false};
    o.partitions = partitions;
    node = std::make_unique<ClusterNode>(&loop, o);
  }
  ~NodeFixture() {
    node.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  NodeFixture(const NodeFixture&) = delete;
  NodeFixture& operator=(const NodeFixture&) = delete;

  // serve(reply) writes a frame's reply; returns it parsed.
  template <typename Serve>
  PeerReply Run(Serve&& serve) {
    std::string out;
    facade::ReplyBuilder reply(&out);
    serve(reply);
    auto parsed = ParseReply(out);
    REQUIRE(parsed.ok());
    return std::move(parsed).value();
  }
};

}  // namespace shoal::cluster::testing
