#include "cluster/peer/protocol.h"

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "facade/reply_builder.h"

namespace shoal::cluster {
namespace {

std::string Write(const PeerReply& r) {
  std::string out;
  facade::ReplyBuilder rb(&out);
  WriteReply(r, rb);
  return out;
}

using Reader = std::unique_ptr<redisReader, void (*)(redisReader*)>;

// Feeds `bytes`; returns REDIS_OK/REDIS_ERR of the first GetReply and the reply.
int FeedAndGet(redisReader* r, const std::string& bytes, void** reply) {
  REQUIRE(redisReaderFeed(r, bytes.data(), bytes.size()) == REDIS_OK);
  *reply = nullptr;
  return redisReaderGetReply(r, reply);
}

TEST_CASE("ParseReply reads exactly one reply and WriteReply writes it back") {
  const std::string bytes = "*3\r\n$3\r\nabc\r\n:-7\r\n*2\r\n+OK\r\n$-1\r\n";
  auto r = ParseReply(bytes);
  REQUIRE(r.ok());
  CHECK(r.value().type == PeerReply::Type::kArray);
  CHECK(r.value().elements.size() == 3);
  CHECK(Write(r.value()) == bytes);
  CHECK_FALSE(ParseReply("+OK\r\n+OK\r\n").ok());  // trailing bytes
  CHECK_FALSE(ParseReply("$3\r\nab").ok());        // incomplete
}

// Found by fuzz_peer_reply: hiredis 0.14 allocates an array's element
// pointers as soon as it reads its header, so "*1111111111111111\r\n" made
// ParseReply (and PeerConn's reader) ask for gigabytes.
TEST_CASE("a reply array cannot declare more elements than its bytes can hold") {
  CHECK_FALSE(ParseReply("*1111111111111111\r\n:1\r\n").ok());
  CHECK_FALSE(ParseReply("*100000000\r\n:1\r\n").ok());
  CHECK_FALSE(ParseReply("*-5\r\n").ok());
  // Three 3-byte elements fit in 13 bytes.
  CHECK(ParseReply("*3\r\n+\r\n+\r\n+\r\n").ok());
}

TEST_CASE("NewPeerReplyReader refuses an array header past max_elements at once") {
  Reader small(NewPeerReplyReader(2), &redisReaderFree);
  REQUIRE(small != nullptr);
  void* reply = nullptr;
  // Refused on the header, without waiting for the elements.
  CHECK(FeedAndGet(small.get(), "*3\r\n", &reply) == REDIS_ERR);
  CHECK(reply == nullptr);

  Reader ok(NewPeerReplyReader(2), &redisReaderFree);
  REQUIRE(FeedAndGet(ok.get(), "*2\r\n:1\r\n*0\r\n", &reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  CHECK(static_cast<redisReply*>(reply)->elements == 2);
  freeReplyObject(reply);

  Reader peer(NewPeerReplyReader(kMaxPeerReplyElements), &redisReaderFree);
  CHECK(FeedAndGet(peer.get(), "*1000000000\r\n", &reply) == REDIS_ERR);
}

}  // namespace
}  // namespace shoal::cluster
