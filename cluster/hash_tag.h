#pragma once
// Hash tags, as Redis Cluster's keyHashSlot (cluster.c): a key that holds a
// non-empty "{...}" is placed by the text between its FIRST '{' and the
// first '}' after it, so that related keys ("{user1000}.following",
// "{user1000}.followers") share a replica set. Otherwise the whole key is
// hashed:
//   "{}x"      -> "{}x"   (empty braces: the whole key)
//   "a{b}{c}"  -> "b"     (the first braces only)
//   "a{b"      -> "a{b"   (no closing brace)
//   "{a}{b}"   -> "a"
//   "x{}{y}"   -> "x{}{y}" (the first '{' is followed by '}': whole key)
// Pure.

#include <string_view>

namespace shoal::cluster {

// The part of `key` that decides its placement (a view into `key`).
std::string_view HashTag(std::string_view key);

}  // namespace shoal::cluster
