#include "cluster/peer/protocol.h"

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>

namespace shoal::cluster {
namespace {

// hiredis's own object functions (those of a reader made without any).
const redisReplyObjectFunctions& DefaultFunctions() {
  static const redisReplyObjectFunctions fns = [] {
    redisReader* r = redisReaderCreate();
    redisReplyObjectFunctions f{};
    if (r != nullptr) {
      f = *r->fn;
      redisReaderFree(r);
    }
    return f;
  }();
  return fns;
}

// The reader's privdata holds its max_elements.
void* CreateBoundedArray(const redisReadTask* task, int elements) {
  const auto max = reinterpret_cast<uintptr_t>(task->privdata);
  if (elements < 0 || static_cast<uintptr_t>(elements) > max) return nullptr;
  return DefaultFunctions().createArray(task, elements);
}

const redisReplyObjectFunctions& BoundedFunctions() {
  static const redisReplyObjectFunctions fns = [] {
    redisReplyObjectFunctions f = DefaultFunctions();
    f.createArray = &CreateBoundedArray;
    return f;
  }();
  return fns;
}

}  // namespace

redisReader* NewPeerReplyReader(size_t max_elements) {
  if (DefaultFunctions().createArray == nullptr) return nullptr;
  // hiredis only reads the table (its parameter is not const).
  redisReader* r =
      redisReaderCreateWithFunctions(const_cast<redisReplyObjectFunctions*>(&BoundedFunctions()));
  if (r != nullptr) r->privdata = reinterpret_cast<void*>(static_cast<uintptr_t>(max_elements));
  return r;
}

PeerReply FromRedisReply(const redisReply& r) {
  PeerReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = PeerReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = PeerReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = PeerReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = PeerReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      // hiredis's reader nests at most a few levels deep, which bounds this recursion.
      out.type = PeerReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(FromRedisReply(*r.element[i]));
      break;
    default:
      out.type = PeerReply::Type::kNil;
      break;
  }
  return out;
}

storage::Result<PeerReply> ParseReply(std::string_view resp) {
  // Every element takes at least 3 bytes ("+\r\n"): no array of the reply
  // can declare more elements than that.
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(NewPeerReplyReader(resp.size() / 3),
                                                              &redisReaderFree);
  if (reader == nullptr) return storage::Status::Invalid("out of memory");
  // The reply is already in memory: no limit on its size beyond its own.
  reader->maxbuf = 0;
  if (redisReaderFeed(reader.get(), resp.data(), resp.size()) != REDIS_OK) {
    return storage::Status::Invalid("malformed reply");
  }
  void* raw = nullptr;
  if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) {
    return storage::Status::Invalid("malformed or incomplete reply");
  }
  std::unique_ptr<redisReply, void (*)(redisReply*)> reply(
      static_cast<redisReply*>(raw), [](redisReply* r) { freeReplyObject(r); });
  // Nothing may follow the one reply.
  void* extra = nullptr;
  if (redisReaderGetReply(reader.get(), &extra) != REDIS_OK || extra != nullptr ||
      reader->pos != reader->len) {
    if (extra != nullptr) freeReplyObject(extra);
    return storage::Status::Invalid("trailing bytes after the reply");
  }
  return FromRedisReply(*reply);
}

void WriteReply(const PeerReply& reply, facade::ReplyBuilder& out) {
  switch (reply.type) {
    case PeerReply::Type::kString:
      return out.Bulk(reply.str);
    case PeerReply::Type::kStatus:
      return out.Simple(reply.str);
    case PeerReply::Type::kError:
      return out.Error(reply.str);
    case PeerReply::Type::kInteger:
      return out.Integer(reply.integer);
    case PeerReply::Type::kNil:
      return out.Null();
    case PeerReply::Type::kArray:
      out.ArrayHeader(reply.elements.size());
      for (const PeerReply& e : reply.elements) WriteReply(e, out);
      return;
  }
}

}  // namespace shoal::cluster
