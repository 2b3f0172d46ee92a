#pragma once
// ContainerEncoding: the name OBJECT ENCODING gives a hash, set or sorted
// set, and whether HSCAN/SSCAN/ZSCAN return it whole in one step. shoal
// keeps every container in one form (storage/or_*.h); it reports the
// encoding redis-server 7.0 would pick for the same contents with its
// default thresholds, so tools that look at it see familiar names:
//   hash    "listpack" up to hash-max-listpack-entries (128) fields with
//           every field and value up to hash-max-listpack-value (64) bytes,
//           else "hashtable";
//   set     "intset" up to set-max-intset-entries (512) members that are
//           all integers (string2ll), else "hashtable" (7.0 has no
//           listpack sets);
//   zset    "listpack" up to zset-max-listpack-entries (128) members of up
//           to zset-max-listpack-value (64) bytes, else "skiplist".
// One difference: Redis never converts back, so a hash that once grew past
// the thresholds stays "hashtable" after it shrinks; shoal's answer follows
// the current contents. Pure logic.

#include <cstddef>
#include <string_view>

#include "storage/actor_table.h"
#include "storage/or_hash.h"
#include "storage/or_set.h"
#include "storage/or_zset.h"

namespace shoal::server {

inline constexpr size_t kHashMaxListpackEntries = 128;
inline constexpr size_t kHashMaxListpackValue = 64;
inline constexpr size_t kSetMaxIntsetEntries = 512;
inline constexpr size_t kZsetMaxListpackEntries = 128;
inline constexpr size_t kZsetMaxListpackValue = 64;

// True if Redis would hold the container in its compact form (listpack or
// intset): then a SCAN of it returns everything at once, cursor 0.
bool HashIsCompact(const storage::OrHash& hash, const storage::ActorTable& actors);
bool SetIsCompact(const storage::OrSet& set);
bool ZsetIsCompact(const storage::OrZset& zset);

std::string_view HashEncoding(const storage::OrHash& hash, const storage::ActorTable& actors);
std::string_view SetEncoding(const storage::OrSet& set);
std::string_view ZsetEncoding(const storage::OrZset& zset);

}  // namespace shoal::server
