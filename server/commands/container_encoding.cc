#include "server/commands/container_encoding.h"

#include "storage/redis_number.h"

namespace shoal::server {

bool HashIsCompact(const storage::OrHash& hash, const storage::ActorTable& actors) {
  if (hash.Size() > kHashMaxListpackEntries) return false;
  for (const auto& e : hash.map().entries()) {
    if (e.name.size() > kHashMaxListpackValue) return false;
    if (storage::OrHash::Value(e, actors).size() > kHashMaxListpackValue) return false;
  }
  return true;
}

bool SetIsCompact(const storage::OrSet& set) {
  if (set.Size() > kSetMaxIntsetEntries) return false;
  for (const auto& e : set.map().entries()) {
    if (!storage::ParseStrictInt64(e.name)) return false;
  }
  return true;
}

bool ZsetIsCompact(const storage::OrZset& zset) {
  if (zset.Size() > kZsetMaxListpackEntries) return false;
  for (const auto& e : zset.map().entries()) {
    if (e.name.size() > kZsetMaxListpackValue) return false;
  }
  return true;
}

std::string_view HashEncoding(const storage::OrHash& hash, const storage::ActorTable& actors) {
  return HashIsCompact(hash, actors) ? "listpack" : "hashtable";
}

std::string_view SetEncoding(const storage::OrSet& set) {
  return SetIsCompact(set) ? "intset" : "hashtable";
}

std::string_view ZsetEncoding(const storage::OrZset& zset) {
  return ZsetIsCompact(zset) ? "listpack" : "skiplist";
}

}  // namespace shoal::server
