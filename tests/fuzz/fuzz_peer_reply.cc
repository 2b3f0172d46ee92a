// libFuzzer target: the peer channel's reply decoding (cluster/peer/
// protocol.h ParseReply / FromRedisReply / WriteReply) and the streaming path
// of PeerConn::OnRead (hiredis's reader fed read by read).
//
// Input: byte 0 seeds how the rest is cut into reads; the rest is what a
// peer (or anyone listening at an address we dial) sends back.
//
// Invariants checked:
//   - a reply ParseReply accepts, written back with WriteReply, parses
//     again, and writing that gives the same bytes (error replies gain
//     "ERR " once, so the first round trip is compared by its bytes);
//   - the replies the streaming reader yields, and whether it fails, do not
//     depend on how the bytes are cut into reads;
//   - when ParseReply accepts the whole input, the streaming reader yields
//     exactly that one reply.

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/peer/protocol.h"
#include "facade/reply_builder.h"

namespace {

using shoal::cluster::PeerReply;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool Equal(const PeerReply& a, const PeerReply& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
      a.elements.size() != b.elements.size()) {
    return false;
  }
  for (size_t i = 0; i < a.elements.size(); ++i) {
    if (!Equal(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

std::string Write(const PeerReply& r) {
  std::string out;
  shoal::facade::ReplyBuilder builder(&out);
  shoal::cluster::WriteReply(r, builder);
  return out;
}

struct Stream {
  std::vector<PeerReply> replies;
  bool failed = false;
};

// As PeerConn::OnRead: feed each read, then take every complete reply.
// PeerConn's reader allows kMaxPeerReplyElements; here, as in ParseReply,
// no more than the bytes can hold (one element per 3 bytes), so that a
// declared count does not make every run allocate 128 MiB.
Stream Read(const std::vector<std::string_view>& chunks, size_t total) {
  Stream out;
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(
      shoal::cluster::NewPeerReplyReader(total / 3), &redisReaderFree);
  Check(reader != nullptr, "NewPeerReplyReader");
  for (std::string_view chunk : chunks) {
    if (redisReaderFeed(reader.get(), chunk.data(), chunk.size()) != REDIS_OK) {
      out.failed = true;
      return out;
    }
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
        out.failed = true;
        return out;
      }
      if (raw == nullptr) break;
      out.replies.push_back(shoal::cluster::FromRedisReply(*static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto parsed = shoal::cluster::ParseReply(bytes);
  if (parsed.ok()) {
    const std::string once = Write(parsed.value());
    auto again = shoal::cluster::ParseReply(once);
    Check(again.ok(), "a written reply does not parse");
    Check(Write(again.value()) == once, "write(parse(write(r))) != write(r)");
  }

  const Stream whole = Read({bytes}, bytes.size());
  std::vector<std::string_view> pieces;
  for (size_t pos = 0; pos < bytes.size();) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 32;
    if (n > bytes.size() - pos) n = bytes.size() - pos;
    pieces.push_back(bytes.substr(pos, n));
    pos += n;
  }
  const Stream cut = Read(pieces, bytes.size());
  Check(whole.failed == cut.failed && whole.replies.size() == cut.replies.size(),
        "the streaming outcome depends on how the bytes are cut");
  for (size_t i = 0; i < whole.replies.size(); ++i) {
    Check(Equal(whole.replies[i], cut.replies[i]), "a streamed reply depends on the cut");
  }
  if (parsed.ok()) {
    Check(!whole.failed && whole.replies.size() == 1 && Equal(whole.replies[0], parsed.value()),
          "ParseReply and the streaming reader disagree");
  }
  return 0;
}
