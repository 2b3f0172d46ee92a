#include "storage/context_token.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "storage/varint.h"

namespace shoal::storage {
namespace {

constexpr uint8_t kTokenVersion = 1;
constexpr size_t kChecksumBytes = 4;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint32_t Checksum(std::string_view data) {
  return static_cast<uint32_t>(XXH3_64bits(data.data(), data.size()));
}

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (in.size() - i == 1) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Canonical decoding only: a length of 1 mod 4 and non-zero leftover bits
// are rejected, so each byte string has exactly one token.
bool Base64UrlDecode(std::string_view in, std::string* out) {
  if (in.size() % 4 == 1) return false;
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64UrlValue(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

std::string EncodeBinary(const VersionVector& context, const ActorTable& actors) {
  std::string bin;
  bin.push_back(static_cast<char>(kTokenVersion));
  PutVarint64(&bin, context.size());
  // In node id order, so that one context has one token on every node.
  std::vector<VersionVector::Entry> entries = context.entries();
  std::sort(entries.begin(), entries.end(),
            [&](const VersionVector::Entry& a, const VersionVector::Entry& b) {
              return actors.NameLess(a.actor, b.actor);
            });
  for (const VersionVector::Entry& e : entries) {
    actors.AppendBinary(e.actor, &bin);
    PutVarint64(&bin, e.counter);
  }
  uint32_t sum = Checksum(bin);
  for (size_t i = 0; i < kChecksumBytes; ++i) bin.push_back(static_cast<char>(sum >> (8 * i)));
  return bin;
}

Status Invalid() {
  return Status::Invalid(std::string(kInvalidContextMessage));
}

}  // namespace

// Base64url of {1, 0, checksum}; the test "the empty context has a fixed
// short printable token" checks it against the encoder.
const std::string_view kEmptyContextToken = "AQDAdnLO";

std::string EncodeContextToken(const VersionVector& context, const ActorTable& actors) {
  return Base64UrlEncode(EncodeBinary(context, actors));
}

Result<VersionVector> DecodeContextToken(std::string_view token, ActorTable& actors) {
  if (token.empty() || token.size() > kMaxContextTokenLength) return Invalid();
  std::string bin;
  if (!Base64UrlDecode(token, &bin)) return Invalid();
  if (bin.size() < 2 + kChecksumBytes) return Invalid();
  std::string_view body(bin.data(), bin.size() - kChecksumBytes);
  uint32_t sum = 0;
  for (size_t i = 0; i < kChecksumBytes; ++i) {
    sum |= static_cast<uint32_t>(static_cast<uint8_t>(bin[body.size() + i])) << (8 * i);
  }
  if (sum != Checksum(body)) return Invalid();
  if (static_cast<uint8_t>(body[0]) != kTokenVersion) return Invalid();
  body.remove_prefix(1);
  uint64_t n = 0;
  if (!GetVarint64(&body, &n) || n > body.size() / (kNodeIdBinaryLength + 1)) return Invalid();
  std::vector<std::pair<std::string_view, uint64_t>> parsed;
  parsed.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (body.size() < kNodeIdBinaryLength) return Invalid();
    std::string_view id = body.substr(0, kNodeIdBinaryLength);
    body.remove_prefix(kNodeIdBinaryLength);
    uint64_t counter = 0;
    if (!GetVarint64(&body, &counter) || counter == 0 || counter > kMaxCounter) return Invalid();
    parsed.emplace_back(id, counter);
  }
  if (!body.empty()) return Invalid();
  // Repeated node ids make the token invalid.
  std::vector<std::string_view> seen;
  seen.reserve(parsed.size());
  for (const auto& [id, counter] : parsed) seen.push_back(id);
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) return Invalid();
  // Valid: only now may unknown ids enter the table.
  std::vector<VersionVector::Entry> entries;
  entries.reserve(parsed.size());
  for (const auto& [id, counter] : parsed) {
    std::optional<ActorId> actor = actors.LookupBinary(id);
    if (!actor) {
      auto interned = actors.InternFromClient(id);
      if (interned.ok()) actor = interned.value();
    }
    if (actor) entries.push_back({*actor, counter});
  }
  Result<VersionVector> vv = VersionVector::FromEntries(std::move(entries));
  if (!vv.ok()) return Invalid();
  return vv;
}

}  // namespace shoal::storage
