#pragma once
// Varints: unsigned LEB128 (7 bits a byte, low bits first, high bit = more),
// as LevelDB's coding.h and protobuf. Used by the compact encodings of
// versioned objects and context tokens. Header-only; no allocation on read.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::storage {

inline constexpr size_t kMaxVarint64Length = 10;

// Appends `v` to *out (1..10 bytes).
inline void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint from the front of *in into *v and advances *in past it.
// False (and *in unchanged) if the input ends inside the varint or the
// varint does not fit in 64 bits (more than 10 bytes, or high bits set in
// the tenth).
inline bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < in->size() && i < kMaxVarint64Length; ++i) {
    uint64_t byte = static_cast<unsigned char>((*in)[i]);
    if (i == kMaxVarint64Length - 1 && byte > 1) return false;  // bits past 2^64
    result |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *v = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace shoal::storage
